package defense

import (
	"context"
	"net/netip"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// signals are what detection knows about an attempt, read in one round trip.
type signals struct {
	history                                  bool  // the address logged someone in recently
	addrAccounts, netAccounts, sprayAccounts int64 // distinct accounts that failed
	netAttempts, netFailures                 int64
	lane                                     ratelimit.LaneState
	// addrAccountsExpected is how many distinct failing accounts are
	// ordinary from the address (more for a shared one: shared.go).
	addrAccountsExpected float64
	// trustedFailures is set for a trusted device when its address or
	// subnet has used up the trusted devices' failures (trusted.go).
	trustedFailures Layer
}

// readSignals reads the attempt's detection counters and its account lane.
// Trusted devices skip detection (they are exempt from it), so only their
// lane and their address's failures are read.
func (g *Guard) readSignals(ctx context.Context, at *attempt) (signals, error) {
	var ops []ratelimit.Op
	if at.trusted {
		ops = append(ops, g.trustedFailureReads(at)...)
	} else {
		ops = append(ops, ratelimit.Get(g.keys.history(at.ip)), ratelimit.PFCount(g.keys.addrAccounts(at.ip)),
			ratelimit.PFCount(g.keys.netAccounts(at.subnet)), ratelimit.HGet(g.keys.netStats(at.subnet), "a", "f"))
		if at.fingerprint != "" {
			ops = append(ops, ratelimit.PFCount(g.keys.sprayAccounts(at.fingerprint)))
		}
		ops = append(ops, g.reputationOps(at)...)
	}
	if at.account != "" {
		ops = append(ops, ratelimit.HGet(g.keys.lanes(at.account), ratelimit.LaneFields(at.lane)...))
	}
	res, err := g.store.Exec(ctx, ops...)
	if err != nil {
		return signals{}, err
	}
	var s signals
	if at.trusted {
		s.trustedFailures = g.trustedFailuresExceeded(at, res[:4])
		res = res[4:]
	} else {
		s.history = res[0].Found
		s.addrAccounts, s.netAccounts = res[1].Int, res[2].Int
		s.netAttempts, s.netFailures = res[3].Ints[0], res[3].Ints[1]
		res = res[4:]
		if at.fingerprint != "" {
			s.sprayAccounts = res[0].Int
			res = res[1:]
		}
		n := len(g.reputationOps(at))
		b, err := g.reputationFrom(ctx, at, res[:n])
		if err != nil {
			return signals{}, err
		}
		s.addrAccountsExpected = g.failingAccounts(b)
		res = res[n:]
	}
	if at.account != "" {
		s.lane = at.policy.View(res[0].Ints, g.now())
	}
	return s, nil
}

// score is the risk of an unknown device's attempt. Each signal weighs in
// proportionally to its count over its threshold, up to twice its weight.
func (g *Guard) score(s signals, at *attempt) int {
	r, d := g.cfg.Risk, g.cfg.Detection
	score := r.UnknownDevice + at.profile.RiskBonus
	if !s.history {
		score += r.NoHistory
	}
	score += weigh(r.AddressAccounts, float64(s.addrAccounts)/max(float64(d.AddressAccounts), s.addrAccountsExpected))
	// The subnet's count includes the address's: it expects at least as much.
	score += weigh(r.SubnetAccounts, float64(s.netAccounts)/max(float64(d.SubnetAccounts), s.addrAccountsExpected))
	score += weigh(r.Spray, float64(s.sprayAccounts)/float64(d.SprayAccounts))
	if s.netAttempts >= int64(d.SubnetMinAttempts) {
		ratio := float64(s.netFailures) / float64(s.netAttempts)
		score += weigh(r.SubnetFailures, ratio/d.SubnetFailureRatio)
	}
	if at.policy.ChallengeAfter > 0 {
		score += weigh(r.AccountFailures, float64(s.lane.Failures)/float64(at.policy.ChallengeAfter))
	}
	return score
}

func weigh(weight int, x float64) int { return int(float64(weight) * min(max(x, 0), 2)) }

// difficulty is the leading zero bits a challenge asks at this risk.
func (g *Guard) difficulty(score int, p ModeProfile) int {
	c := g.cfg.Challenge
	d := c.BaseDifficulty + max(0, score-g.cfg.Risk.ChallengeScore)/c.RiskPerBit + p.DifficultyBonus
	return min(max(d, 1), c.MaxDifficulty)
}

// attempt is an Attempt resolved against the configuration.
type attempt struct {
	ip          netip.Addr
	subnet      netip.Prefix
	trusted     bool
	class, lane string
	account     string // opaque id of account+factor; "" when unknown
	person      string // opaque id of the account whatever the factor; "" when unknown
	device      string // opaque id of a trusted device; "" when not given
	host        string // the address, or an IPv6 address's /64
	fingerprint string
	policy      ratelimit.Policy
	stepUpAfter int
	profile     ModeProfile
	limits      Limits
}
