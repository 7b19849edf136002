// Package defense is Gatehouse's login defense: layered GCRA limits per
// address, subnet and region; per-account failure lanes counted before any
// hashing, with challenge, step-up and escalating locks; proof-of-work
// challenges (or a pluggable CAPTCHA); stuffing and spray detection; a risk
// score; and region-wide defense modes. Logins from trusted devices are
// limited per device and per account instead of per address, and busy
// shared addresses (carrier-grade NAT, offices) earn a larger budget for
// unknown devices (trusted.go, shared.go). Its state lives in the region's
// Redis and falls back to the process when Redis is away (package
// ratelimit).
//
// The login path calls Guard.Check before hashing and Guard.Record after
// the credential was checked.
package defense

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Attempt is one login attempt as the defense sees it.
type Attempt struct {
	// IP is the client's address (after trusted-proxy resolution).
	IP netip.Addr
	// AccountKey identifies the account, opaquely (e.g. the hex of the
	// email hash, whether or not the account exists); "" when unknown.
	AccountKey string
	// Factor names the credential checked: "" or "password", "totp",
	// "recovery_code", … Each factor has its own failure counters, so a
	// password success never resets a TOTP lockout (RFC 4226 §7.3).
	Factor string
	// DeviceTrusted: the request carries a valid device token of this
	// account. Trusted devices have their own limits (per device and per
	// account, not the address's) and failure lane and are exempt from
	// detection, so an attacker cannot lock their user out.
	DeviceTrusted bool
	// Device identifies the presented device token opaquely (e.g. the hex
	// of its hash), so that each trusted device has its own limit; it is
	// keyed again before use, never stored as given.
	Device string
	// HasSecondFactor: the account has an MFA factor (false when unknown).
	// Informational: a step-up is decided whether or not the account has
	// one; the login steps up to the factor, or to an emailed code.
	HasSecondFactor bool
	// Challenge is the client's challenge solution, if it sent one.
	Challenge *Solution
	// PasswordFingerprintInput is the normalised password, used only to
	// compute a keyed, truncated fingerprint for spray detection; it is
	// never stored or logged.
	PasswordFingerprintInput []byte
	// BudgetDivisor, when above 1, divides the unknown-device account
	// thresholds (failover.go: a region serving another region's account).
	BudgetDivisor int
}

// String describes the attempt without its password, so that printing or
// logging an Attempt by mistake leaks nothing.
func (a Attempt) String() string {
	return fmt.Sprintf("Attempt{IP:%s Factor:%q DeviceTrusted:%t HasSecondFactor:%t Challenge:%t Password:[redacted]}",
		a.IP, a.Factor, a.DeviceTrusted, a.HasSecondFactor, a.Challenge != nil)
}

// GoString is String, for %#v.
func (a Attempt) GoString() string { return a.String() }

// LogValue is String, for log/slog.
func (a Attempt) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Guard decides what login attempts may do.
type Guard struct {
	cfg        Config
	store      *ratelimit.Store
	keys       keys
	challenges ChallengeProvider
	obs        Observer
	log        *slog.Logger
	now        func() time.Time

	modeCache  atomic.Pointer[modeCache]
	refreshing atomic.Bool
	// globalClosed holds, per device class, the Unix nanoseconds until
	// which Redis said the class's global bucket is empty (see Check).
	globalClosed [2]atomic.Int64
	// floodRefused counts unknown-device attempts refused at the global
	// layer since the last mode refresh, which adds them to the region's
	// refusals in its one round trip: a flood held off by the global limit
	// is the clearest sign of an attack, and counting each refusal in
	// Redis as it happens would cost a round trip per refusal.
	floodRefused atomic.Int64
	// failedChecks counts this server's failed password checks from
	// unknown devices since the last mode refresh: enough of them refresh
	// the mode before its copy is ModeCacheTTL old, so that a burst is
	// challenged as soon as the region's ratio says so (every hash before
	// that is the attack's, on the users' CPU).
	failedChecks atomic.Int64
}

// classIndex numbers the device classes for globalClosed.
func classIndex(trusted bool) int {
	if trusted {
		return 1
	}
	return 0
}

// Option changes a Guard at construction.
type Option func(*Guard)

// WithChallengeProvider replaces the built-in proof of work, e.g. by an
// external CAPTCHA verifier.
func WithChallengeProvider(p ChallengeProvider) Option { return func(g *Guard) { g.challenges = p } }

// New builds a Guard. rdb is the region's Redis (nil: in process only);
// secret (≥ 32 bytes) keys the challenge signatures, account ids and
// password fingerprints; obs receives metrics (nil: none).
func New(cfg Config, rdb redis.UniversalClient, secret []byte, obs Observer, logger *slog.Logger,
	now func() time.Time, opts ...Option) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(secret) < 32 {
		return nil, fmt.Errorf("defense: the secret must have at least 32 bytes")
	}
	if obs == nil {
		obs = nopObserver{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	g := &Guard{cfg: cfg, keys: newKeys(cfg, secret), obs: obs, log: logger, now: now}
	g.store = ratelimit.New(rdb, ratelimit.Options{ProbeInterval: cfg.ProbeInterval, MaxMemoryKeys: cfg.FallbackMaxKeys, Observer: obs},
		logger, now)
	for _, o := range opts {
		o(g)
	}
	if g.challenges == nil {
		pow, err := NewPoW(derive(secret, "gatehouse/defense/challenge/v1"), g.store, cfg.KeyPrefix, cfg.Challenge.TTL, now)
		if err != nil {
			return nil, err
		}
		g.challenges = pow
	}
	return g, nil
}

// Shared reports whether the Guard currently uses Redis (false: the
// in-process fallback).
func (g *Guard) Shared() bool { return g.store.Shared() }

// resolve checks an attempt and works out its keys, policy and limits.
func (g *Guard) resolve(a Attempt, mode Mode) (*attempt, error) {
	ip, err := normaliseIP(a.IP)
	if err != nil {
		return nil, err
	}
	factor := a.Factor
	if factor == "" {
		factor = "password"
	}
	if len(factor) > 32 {
		return nil, fmt.Errorf("defense: factor name too long")
	}
	at := &attempt{ip: ip, subnet: g.keys.subnet(ip), host: host(ip), trusted: a.DeviceTrusted, profile: g.profile(mode, a.DeviceTrusted)}
	if a.AccountKey != "" {
		at.account = g.keys.account(factor, a.AccountKey)
		at.person = g.keys.person(a.AccountKey)
	}
	if a.DeviceTrusted {
		at.class, at.lane, at.policy = "t", "t", g.cfg.TrustedAccount
		if a.Device != "" {
			at.device = g.keys.device(at.person, a.Device)
		}
	} else {
		div := at.profile.ThresholdDivisor * max(a.BudgetDivisor, 1)
		at.class, at.lane, at.policy = "u", "u", g.cfg.Account
		at.policy.ChallengeAfter, at.policy.LockAfter = divided(at.policy.ChallengeAfter, div), divided(at.policy.LockAfter, div)
		at.stepUpAfter = divided(g.cfg.StepUpAfter, div)
		l, ld := g.cfg.Unknown, at.profile.LimitDivisor
		if r, ok := g.sharedRange(ip); ok {
			l = rangeLimits(l, r)
		}
		at.limits = Limits{Address: scaled(l.Address, ld), Subnet: scaled(l.Subnet, ld), Global: scaled(l.Global, ld)}
	}
	if factor == "password" {
		at.fingerprint = g.keys.fingerprint(a.PasswordFingerprintInput)
	}
	return at, nil
}

// Check decides, before any hashing, what an attempt may do. Layers run
// cheapest first: address, subnet and global limits; detection and risk;
// the challenge; then the account's failure lane, where an attempt that
// proceeds is counted as a failure until Record says otherwise. The error
// is non-nil only for a bad Attempt or an ended context; Redis failures
// fall back to the process.
func (g *Guard) Check(ctx context.Context, a Attempt) (Decision, error) {
	st, err := g.mode(ctx)
	if err != nil {
		return Decision{}, err
	}
	a.BudgetDivisor = max(a.BudgetDivisor, failoverDivisor(ctx))
	at, err := g.resolve(a, st.Effective)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Mode: st.Effective, Shared: true}
	done := func(d Decision) (Decision, error) {
		d.Shared = d.Shared && g.store.Shared()
		return d, nil
	}

	// 1-3. GCRA limits. While Redis has said that the class's global
	// bucket is empty, every attempt of the class would be refused at that
	// layer: refuse it here, without three round trips. Under a flood this
	// is most attempts, and it keeps refusing them nearly free.
	if until := g.globalClosed[classIndex(at.trusted)].Load(); until > 0 {
		if wait := time.Duration(until - g.now().UnixNano()); wait > 0 {
			g.noteFlood(at)
			g.obs.Decision(LayerGlobal, OutcomeDeny)
			d.Action, d.Layer, d.RetryAfter, d.Reason = ActionRateLimit, LayerGlobal, wait, string(LayerGlobal)+"_limit"
			return done(d)
		}
	}
	// Trusted devices draw from their device's, their account's and the
	// region's budgets (trusted.go); unknown devices from their address's
	// (and what a shared address earned: shared.go), subnet's and region's.
	layers := g.unknownLayers(at)
	if at.trusted {
		layers = g.trustedLayers(at)
	}
	for _, l := range layers {
		res, err := g.store.Allow(ctx, l.key, l.limit)
		if err != nil {
			return Decision{}, err
		}
		if !res.Allowed && l.layer == LayerAddress {
			earned, ok, err := g.earnedAllow(ctx, at)
			if err != nil {
				return Decision{}, err
			}
			if ok && (earned.Allowed || earned.RetryAfter < res.RetryAfter) {
				res = earned
			}
		}
		d.Shared = d.Shared && res.Shared
		if !res.Allowed {
			if l.layer == LayerGlobal {
				g.noteFlood(at)
				if res.RetryAfter > 0 {
					g.globalClosed[classIndex(at.trusted)].Store(g.now().Add(res.RetryAfter).UnixNano())
				}
			}
			g.obs.Decision(l.layer, OutcomeDeny)
			g.log.DebugContext(ctx, "login rate limited", "layer", l.layer, "ip", at.ip, "retry_after", res.RetryAfter)
			d.Action, d.Layer, d.RetryAfter, d.Reason = ActionRateLimit, l.layer, res.RetryAfter, string(l.layer)+"_limit"
			return done(d)
		}
		g.obs.Decision(l.layer, OutcomeAllow)
	}

	// 4. Detection and risk, one round trip.
	sig, err := g.readSignals(ctx, at)
	if err != nil {
		return Decision{}, err
	}
	d.Failures = sig.lane.Failures
	if sig.lane.LockedFor > 0 {
		return done(g.lock(ctx, d, at, sig.lane.LockedFor, false))
	}
	if at.account != "" && at.policy.LockAfter > 0 && sig.lane.Failures >= at.policy.LockAfter {
		// The next reservation locks whatever else holds; no challenge first.
		return g.reserve(ctx, d, at, a, false, 0)
	}
	needChallenge := at.policy.ChallengeAfter > 0 && sig.lane.Failures >= at.policy.ChallengeAfter
	challengeLayer := LayerAccount
	if at.trusted && sig.trustedFailures != "" && !needChallenge {
		needChallenge, challengeLayer = true, sig.trustedFailures
	}
	if !at.trusted {
		d.Risk = g.score(sig, at)
		if d.Risk >= g.cfg.Risk.BlockScore {
			g.obs.Decision(LayerDetection, OutcomeDeny)
			g.noteRefused(ctx)
			g.log.InfoContext(ctx, "login blocked by detection", "ip", at.ip, "risk", d.Risk,
				"address_accounts", sig.addrAccounts, "subnet_accounts", sig.netAccounts, "spray_accounts", sig.sprayAccounts)
			d.Action, d.Layer, d.RetryAfter, d.Reason = ActionBlock, LayerDetection, g.cfg.Risk.BlockFor, "risk_block"
			return done(d)
		}
		if d.Risk >= g.cfg.Risk.ChallengeScore && !needChallenge {
			needChallenge, challengeLayer = true, LayerDetection
		}
	}
	difficulty := g.difficulty(d.Risk, at.profile)

	// 5. The challenge: verified before the lane, so that only solved
	// attempts are counted past ChallengeAfter.
	solved := false
	reason := "challenge_required"
	if a.Challenge != nil {
		err := g.challenges.Verify(ctx, ChallengeRequest{AccountKey: a.AccountKey, IP: at.ip,
			Difficulty: difficulty - g.cfg.Challenge.Tolerance}, *a.Challenge)
		if cerr := ctx.Err(); cerr != nil {
			return Decision{}, cerr
		}
		if err == nil {
			solved = true
			g.obs.Decision(LayerChallenge, OutcomeAllow)
		} else {
			g.obs.Decision(LayerChallenge, OutcomeDeny)
			reason = challengeReason(err)
		}
	}
	if needChallenge && !solved {
		return g.challenge(ctx, d, at, a.AccountKey, difficulty, challengeLayer, reason)
	}

	// 6. The account's failure lane.
	if at.account == "" {
		if !at.trusted && d.Risk >= g.cfg.Risk.StepUpScore {
			g.obs.Decision(LayerDetection, OutcomeStepUp)
			d.Action, d.Layer, d.Reason = ActionStepUp, LayerDetection, "risk_step_up"
			return done(d)
		}
		d.Action, d.Layer, d.Reason = ActionAllow, LayerDetection, "allowed"
		return done(d)
	}
	return g.reserve(ctx, d, at, a, solved, difficulty)
}

// reserve counts the attempt on its account lane and answers accordingly.
func (g *Guard) reserve(ctx context.Context, d Decision, at *attempt, a Attempt, solved bool, difficulty int) (Decision, error) {
	res, err := g.store.Reserve(ctx, g.keys.lanes(at.account), at.lane, at.policy, solved)
	if err != nil {
		return Decision{}, err
	}
	d.Failures = res.Failures
	d.Shared = d.Shared && res.Shared && g.store.Shared()
	switch res.Verdict {
	case ratelimit.Locked:
		return g.lock(ctx, d, at, res.RetryAfter, res.JustLocked), nil
	case ratelimit.NeedChallenge: // the count moved since the signals were read
		return g.challenge(ctx, d, at, a.AccountKey, max(difficulty, g.difficulty(d.Risk, at.profile)), LayerAccount, "challenge_required")
	}
	g.obs.Decision(LayerAccount, OutcomeAllow)
	switch {
	case at.stepUpAfter > 0 && res.Failures > at.stepUpAfter:
		g.obs.Decision(LayerAccount, OutcomeStepUp)
		d.Action, d.Layer, d.Reason = ActionStepUp, LayerAccount, "account_step_up"
	case !at.trusted && d.Risk >= g.cfg.Risk.StepUpScore:
		g.obs.Decision(LayerDetection, OutcomeStepUp)
		d.Action, d.Layer, d.Reason = ActionStepUp, LayerDetection, "risk_step_up"
	default:
		d.Action, d.Layer, d.Reason = ActionAllow, LayerAccount, "allowed"
	}
	return d, nil
}

// lock answers a locked lane.
func (g *Guard) lock(ctx context.Context, d Decision, at *attempt, retry time.Duration, just bool) Decision {
	g.obs.Decision(LayerAccount, OutcomeLock)
	g.noteRefused(ctx)
	if just {
		g.log.WarnContext(ctx, "account locked after repeated failures", "account", at.account, "lane", at.lane,
			"ip", at.ip, "lock", retry)
	}
	d.Action, d.Layer, d.RetryAfter, d.Reason = ActionLock, LayerAccount, retry, "account_locked"
	return d
}

// challenge answers with a fresh challenge.
func (g *Guard) challenge(ctx context.Context, d Decision, at *attempt, accountKey string, difficulty int,
	layer Layer, reason string) (Decision, error) {
	c, err := g.challenges.Issue(ctx, ChallengeRequest{AccountKey: accountKey, IP: at.ip, Difficulty: difficulty})
	if err != nil {
		return Decision{}, fmt.Errorf("defense: issue challenge: %w", err)
	}
	g.obs.Decision(layer, OutcomeChallenge)
	g.noteRefused(ctx)
	d.Action, d.Layer, d.Challenge, d.Reason = ActionChallenge, layer, c, reason
	d.Shared = d.Shared && g.store.Shared()
	return d, nil
}

// noteFlood counts an unknown-device attempt refused at the global layer
// for the next mode refresh.
func (g *Guard) noteFlood(at *attempt) {
	if g.cfg.Auto.Enabled && !at.trusted {
		g.floodRefused.Add(1)
	}
}

// noteRefused counts a refusal in the region's statistics for the
// automatic mode.
func (g *Guard) noteRefused(ctx context.Context) {
	if !g.cfg.Auto.Enabled {
		return
	}
	w := g.cfg.Auto.Window
	_, _ = g.store.Exec(ctx, ratelimit.HIncr(g.keys.globalStats(g.now(), w), "c", 1, 3*w))
}

func challengeReason(err error) string {
	switch {
	case errors.Is(err, ErrChallengeExpired):
		return "challenge_expired"
	case errors.Is(err, ErrChallengeReplayed):
		return "challenge_replayed"
	case errors.Is(err, ErrChallengeTooEasy):
		return "challenge_too_easy"
	}
	return "challenge_invalid"
}

// Record is called after the credential was checked. A success clears the
// account's lane for this factor (from an unknown device both lanes; from a
// trusted device only its own, so the user's logins never lift a lock an
// attacker earned) and vouches for the address; a failure feeds detection.
// Failures themselves were counted by Check.
func (g *Guard) Record(ctx context.Context, a Attempt, success bool) error {
	at, err := g.resolve(a, ModeNormal)
	if err != nil {
		return err
	}
	det, now := g.cfg.Detection, g.now()
	var ops []ratelimit.Op
	if success {
		if at.account != "" {
			fields := ratelimit.LaneFields("t")
			if !at.trusted {
				fields = append(fields, ratelimit.LaneFields("u")...)
			}
			ops = append(ops, ratelimit.HDel(g.keys.lanes(at.account), fields...))
		}
		ops = append(ops, ratelimit.Set(g.keys.history(at.ip), "1", det.HistoryTTL))
	} else if at.account != "" {
		ops = append(ops, ratelimit.PFAdd(g.keys.addrAccounts(at.ip), at.account, det.Window),
			ratelimit.PFAdd(g.keys.netAccounts(at.subnet), at.account, det.Window))
		if at.fingerprint != "" {
			ops = append(ops, ratelimit.PFAdd(g.keys.sprayAccounts(at.fingerprint), at.account, det.Window))
		}
	}
	if !success && at.trusted {
		ops = append(ops, g.trustedFailureOps(at)...)
	}
	factor := a.Factor
	if factor == "" {
		factor = "password"
	}
	ops = append(ops, g.sharedRecordOps(at, factor, success)...)
	fail := int64(1)
	if success {
		fail = 0
	}
	ops = append(ops, ratelimit.HIncr(g.keys.netStats(at.subnet), "a", 1, det.Window),
		ratelimit.HIncr(g.keys.netStats(at.subnet), "f", fail, det.Window))
	if g.cfg.Auto.Enabled && !at.trusted {
		if !success {
			g.failedChecks.Add(1)
		}
		// The automatic mode hardens unknown devices only, so only their
		// attempts make its ratio: the steady successes of users on their
		// usual devices would otherwise hide an attack for as long as
		// they outnumber its failures.
		w, bw := g.cfg.Auto.Window, g.cfg.Auto.BurstWindow
		ops = append(ops, ratelimit.HIncr(g.keys.globalStats(now, w), "a", 1, 3*w),
			ratelimit.HIncr(g.keys.globalStats(now, w), "f", fail, 3*w),
			ratelimit.HIncr(g.keys.burstStats(now, bw), "a", 1, 3*bw),
			ratelimit.HIncr(g.keys.burstStats(now, bw), "f", fail, 3*bw))
	}
	if _, err := g.store.Exec(ctx, ops...); err != nil {
		return fmt.Errorf("defense: record: %w", err)
	}
	return nil
}

// Release gives back the failure Check counted for an attempt whose
// credential was never checked (e.g. the hashing pool answered 503).
func (g *Guard) Release(ctx context.Context, a Attempt) error {
	at, err := g.resolve(a, ModeNormal)
	if err != nil || at.account == "" {
		return err
	}
	return g.store.Release(ctx, g.keys.lanes(at.account), at.lane)
}
