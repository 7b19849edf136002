package defense

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Shared addresses. Mobile carriers put thousands of subscribers behind one
// IPv4 address (carrier-grade NAT), and offices, schools and VPNs do the
// same. Their returning users log in with trusted devices (trusted.go);
// what remains is their unknown devices (a new phone, a cleared browser),
// which draw from the address's budget like an attacker's would.
//
// An address is recognised as shared from what the server sees: the
// distinct accounts that logged in successfully from it (for IPv6, from its
// /64), counted in HyperLogLogs over a sliding window. Many of them earn a
// budget on top of the ordinary one (SharedConfig), drawn only when the
// ordinary bucket is empty, so the common case costs nothing extra. A high
// failure ratio of its unknown-device attempts takes the earned budget away
// at once: a stuffing run fails 98 % of the time, real users a few per cent.
// Operators can also name ranges known to be shared, with their own budget
// (GATEHOUSE_DEFENSE_SHARED_RANGES).
//
// What an address earns is a budget, not trust: detection, challenges,
// account lanes and the region's global limit apply to its attempts as to
// any other.

// limitLayer is one GCRA layer of Check.
type limitLayer struct {
	layer Layer
	key   string
	limit ratelimit.Limit
}

// unknownLayers are the GCRA limits of an unknown-device attempt.
func (g *Guard) unknownLayers(at *attempt) []limitLayer {
	return []limitLayer{
		{LayerAddress, g.keys.addrLimit(at.class, at.ip), at.limits.Address},
		{LayerSubnet, g.keys.netLimit(at.class, at.subnet), at.limits.Subnet},
		{LayerGlobal, g.keys.globalLimit(at.class), at.limits.Global},
	}
}

// sharedRange is the most specific operator range holding ip.
func (g *Guard) sharedRange(ip netip.Addr) (SharedRange, bool) {
	var best SharedRange
	found := false
	for _, r := range g.cfg.Shared.Ranges {
		if r.Prefix.Contains(ip) && (!found || r.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = r, true
		}
	}
	return best, found
}

// rangeLimits are the unknown-device limits of an address in r: its own
// per-minute budget, and the subnet's grown by the same factor (a carrier's
// NAT pool fills whole subnets with shared addresses).
func rangeLimits(l Limits, r SharedRange) Limits {
	base := float64(l.Address.Rate) * float64(time.Minute) / float64(l.Address.Period)
	l.Address = ratelimit.PerMinute(r.PerMinute, 2*r.PerMinute)
	if f := float64(r.PerMinute) / base; f > 1 {
		l.Subnet.Rate = int(math.Min(math.Ceil(float64(l.Subnet.Rate)*f), math.MaxInt32))
		l.Subnet.Burst = int(math.Min(math.Ceil(float64(l.Subnet.Burst)*f), math.MaxInt32))
	}
	return l
}

// AddressBudget is what an address may spend on unknown-device attempts.
type AddressBudget struct {
	// Base is the address's own limit: Unknown.Address, or its operator
	// range's, hardened by the current mode.
	Base ratelimit.Limit
	// Range is the operator's shared range holding the address, if any.
	Range netip.Prefix
	// Accounts estimates the distinct accounts that logged in successfully
	// from the address (IPv6: its /64) over the last Shared.Window.
	Accounts int
	// Attempts and FailureRatio describe its unknown-device attempts over
	// the last Shared.RatioWindow (FailureRatio -1: fewer than MinAttempts).
	Attempts     int
	FailureRatio float64
	// Withdrawn: a high failure ratio took the earned budget away.
	Withdrawn bool
	// Earned is the budget on top of Base; zero when nothing is earned.
	Earned ratelimit.Limit
}

// AddressBudget reports what ip may spend now on unknown-device attempts.
func (g *Guard) AddressBudget(ctx context.Context, ip netip.Addr) (AddressBudget, error) {
	st, err := g.mode(ctx)
	if err != nil {
		return AddressBudget{}, err
	}
	at, err := g.resolve(Attempt{IP: ip}, st.Effective)
	if err != nil {
		return AddressBudget{}, err
	}
	return g.reputation(ctx, at)
}

// reputation reads, in one round trip, what an unknown-device attempt's
// address has earned, and withdraws it when its failure ratio is high.
func (g *Guard) reputation(ctx context.Context, at *attempt) (AddressBudget, error) {
	ops := g.reputationOps(at)
	if len(ops) == 0 {
		return g.reputationFrom(ctx, at, nil)
	}
	res, err := g.store.Exec(ctx, ops...)
	if err != nil {
		return AddressBudget{}, err
	}
	return g.reputationFrom(ctx, at, res)
}

// reputationOps are the reads of reputationFrom (none while earning is off).
func (g *Guard) reputationOps(at *attempt) []ratelimit.Op {
	sh := g.cfg.Shared
	if !sh.Enabled {
		return nil
	}
	now := g.now()
	sIdx, _ := windowAt(now, sh.Window)
	rIdx, _ := windowAt(now, sh.RatioWindow)
	return []ratelimit.Op{
		ratelimit.PFCount(g.keys.successAccounts(at.host, sIdx)), ratelimit.PFCount(g.keys.successAccounts(at.host, sIdx-1)),
		ratelimit.HGet(g.keys.hostStats(at.host, rIdx), "a", "f"), ratelimit.HGet(g.keys.hostStats(at.host, rIdx-1), "a", "f"),
		ratelimit.Get(g.keys.withdrawn(at.host)),
	}
}

// reputationFrom works out an address's budget from the results of
// reputationOps, and withdraws what it earned when its failure ratio is
// high (a write only the first time).
func (g *Guard) reputationFrom(ctx context.Context, at *attempt, res []ratelimit.OpResult) (AddressBudget, error) {
	b := AddressBudget{Base: at.limits.Address, FailureRatio: -1}
	if r, ok := g.sharedRange(at.ip); ok {
		b.Range = r.Prefix
	}
	sh := g.cfg.Shared
	if !sh.Enabled {
		return b, nil
	}
	now := g.now()
	_, sElapsed := windowAt(now, sh.Window)
	_, rElapsed := windowAt(now, sh.RatioWindow)
	b.Accounts = int(slide(res[0].Int, res[1].Int, sElapsed))
	attempts := slide(res[2].Ints[0], res[3].Ints[0], rElapsed)
	failures := slide(res[2].Ints[1], res[3].Ints[1], rElapsed)
	b.Attempts = int(math.Round(attempts))
	if until, err := strconv.ParseInt(res[4].Str, 10, 64); err == nil && res[4].Found && until > now.UnixMilli() {
		b.Withdrawn = true
	}
	if attempts >= float64(sh.MinAttempts) {
		b.FailureRatio = failures / attempts
		if b.FailureRatio >= sh.FailureRatio && !b.Withdrawn {
			b.Withdrawn = true
			until := strconv.FormatInt(now.Add(sh.WithdrawFor).UnixMilli(), 10)
			if _, err := g.store.Exec(ctx, ratelimit.Set(g.keys.withdrawn(at.host), until, sh.WithdrawFor)); err != nil {
				return AddressBudget{}, err
			}
			g.log.WarnContext(ctx, "shared address: earned budget withdrawn", "host", at.host,
				"failure_ratio", b.FailureRatio, "attempts", b.Attempts, "accounts", b.Accounts, "for", sh.WithdrawFor)
		}
	}
	if b.Withdrawn || b.Accounts < sh.MinAccounts {
		return b, nil
	}
	earned := min(sh.MaxPerMinute, b.Accounts/sh.AccountsPerAttempt)
	if earned > 0 {
		b.Earned = scaled(ratelimit.PerMinute(earned, 2*earned), at.profile.LimitDivisor)
	}
	return b, nil
}

// failingAccounts is how many distinct failing accounts detection expects
// from the address: a typo each from a share of its thousands of users is
// not a stuffing run. Only while the address has its earned budget.
func (g *Guard) failingAccounts(b AddressBudget) float64 {
	base := float64(g.cfg.Detection.AddressAccounts)
	if !b.Earned.Valid() {
		return base
	}
	return max(base, float64(b.Accounts)*g.cfg.Shared.FailingShare)
}

// earnedAllow draws an unknown-device attempt, whose address bucket is
// empty, from what its address earned. ok is false when it earned nothing
// (or has it withdrawn); res is then unset.
func (g *Guard) earnedAllow(ctx context.Context, at *attempt) (res ratelimit.Result, ok bool, err error) {
	if !g.cfg.Shared.Enabled {
		return res, false, nil
	}
	b, err := g.reputation(ctx, at)
	if err != nil || !b.Earned.Valid() {
		return res, false, err
	}
	res, err = g.store.Allow(ctx, g.keys.earnedLimit(at.ip), b.Earned)
	if err != nil {
		return res, false, err
	}
	outcome := OutcomeDeny
	if res.Allowed {
		outcome = OutcomeAllow
	}
	g.obs.Decision(LayerShared, outcome)
	return res, true, nil
}

// sharedRecordOps are what Record adds for the shared-address reputation:
// a password success adds its account to the host's distinct successes
// (whatever the device); an unknown device's checked attempt counts
// toward the host's failure ratio.
func (g *Guard) sharedRecordOps(at *attempt, factor string, success bool) []ratelimit.Op {
	sh := g.cfg.Shared
	if !sh.Enabled {
		return nil
	}
	now := g.now()
	var ops []ratelimit.Op
	if success && at.person != "" && factor == "password" {
		idx, _ := windowAt(now, sh.Window)
		ops = append(ops, ratelimit.PFAdd(g.keys.successAccounts(at.host, idx), at.person, 2*sh.Window+time.Minute))
	}
	if !at.trusted {
		idx, _ := windowAt(now, sh.RatioWindow)
		fail := int64(1)
		if success {
			fail = 0
		}
		key, ttl := g.keys.hostStats(at.host, idx), 2*sh.RatioWindow+time.Minute
		ops = append(ops, ratelimit.HIncr(key, "a", 1, ttl), ratelimit.HIncr(key, "f", fail, ttl))
	}
	return ops
}

// Bounds of ParseSharedRanges.
const (
	maxSharedRanges    = 10_000
	maxRangePerMinute  = 1_000_000
	sharedRangesSyntax = "comma-separated CIDR or CIDR=attempts-per-minute, e.g. 100.64.0.0/10=600,2001:db8::/32"
)

// ParseSharedRanges reads GATEHOUSE_DEFENSE_SHARED_RANGES: comma-separated
// entries "CIDR" or "CIDR=N", where N is the unknown-device attempts per
// minute each address of the range may make (burst twice that) and a bare
// CIDR takes defaultPerMinute (0: left at 0 for the caller to fill in, as
// Config.Validate refuses it). Blank input is no ranges. A prefix with host
// bits set, an IPv4-mapped IPv6 prefix, a range listed twice or a budget
// that is not a positive integer is an error naming the entry.
func ParseSharedRanges(s string, defaultPerMinute int) ([]SharedRange, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if defaultPerMinute < 0 || defaultPerMinute > maxRangePerMinute {
		return nil, fmt.Errorf("shared ranges: default budget %d out of range [1, %d]", defaultPerMinute, maxRangePerMinute)
	}
	entries := strings.Split(s, ",")
	if len(entries) > maxSharedRanges {
		return nil, fmt.Errorf("shared ranges: %d entries, at most %d", len(entries), maxSharedRanges)
	}
	seen := make(map[netip.Prefix]bool, len(entries))
	out := make([]SharedRange, 0, len(entries))
	for i, e := range entries {
		e = strings.TrimSpace(e)
		bad := func(why string) error {
			return fmt.Errorf("shared ranges: entry %d %q: %s (%s)", i+1, truncateEntry(e), why, sharedRangesSyntax)
		}
		cidr, budget, hasBudget := strings.Cut(e, "=")
		cidr = strings.TrimSpace(cidr)
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, bad("not a CIDR")
		}
		if p.Addr().Is4In6() {
			return nil, bad("an IPv4-mapped IPv6 prefix; write the IPv4 range")
		}
		if p.Addr().Zone() != "" {
			return nil, bad("a zone is not allowed")
		}
		if p != p.Masked() {
			return nil, bad("host bits set; the range is " + p.Masked().String())
		}
		if seen[p] {
			return nil, bad("listed twice")
		}
		seen[p] = true
		r := SharedRange{Prefix: p, PerMinute: defaultPerMinute}
		if hasBudget {
			n, err := strconv.Atoi(strings.TrimSpace(budget))
			if err != nil || n < 1 || n > maxRangePerMinute {
				return nil, bad(fmt.Sprintf("the budget must be a whole number of attempts per minute in [1, %d]", maxRangePerMinute))
			}
			r.PerMinute = n
		}
		out = append(out, r)
	}
	return out, nil
}

// truncateEntry keeps an error message about a bad entry short.
func truncateEntry(e string) string {
	if len(e) > 64 {
		return e[:64] + "…"
	}
	return e
}
