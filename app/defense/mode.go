package defense

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Mode is the region's defense posture.
type Mode string

// Modes, from the most lenient.
const (
	ModeNormal    Mode = "normal"
	ModeElevated  Mode = "elevated"
	ModeEmergency Mode = "emergency"
)

// ParseMode reads a mode name; anything else is an invalid_mode error.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeNormal, ModeElevated, ModeEmergency:
		return m, nil
	}
	return "", errs.Invalid("invalid_mode", `mode must be "normal", "elevated" or "emergency"`)
}

func (m Mode) level() int {
	switch m {
	case ModeElevated:
		return 1
	case ModeEmergency:
		return 2
	}
	return 0
}

func modeOfLevel(l int) Mode {
	switch {
	case l >= 2:
		return ModeEmergency
	case l == 1:
		return ModeElevated
	}
	return ModeNormal
}

// ModeState is the shared mode as the admin API shows it.
type ModeState struct {
	// Operator is the mode an operator set.
	Operator Mode `json:"operator"`
	// Auto is the mode raised automatically by the failure ratio.
	Auto Mode `json:"auto"`
	// Effective is the stricter of the two; it is what applies.
	Effective Mode `json:"mode"`
	// FailureRatio is the region's recent failure ratio (-1 when too few
	// attempts to tell).
	FailureRatio float64 `json:"failure_ratio"`
	// BurstFailureRatio is the same over the last Auto.BurstWindow alone
	// (-1 when too few attempts to tell).
	BurstFailureRatio float64 `json:"burst_failure_ratio"`
}

type modeCache struct {
	state ModeState
	at    time.Time
}

// SetMode sets the operator's mode for every server of the region (stored
// in Redis without expiry; in process while Redis is away). It applies to
// this server at once and to the others within ModeCacheTTL.
func (g *Guard) SetMode(ctx context.Context, m Mode) error {
	if _, err := ParseMode(string(m)); err != nil {
		return err
	}
	if _, err := g.store.Exec(ctx, ratelimit.Set(g.keys.mode(), string(m), 0)); err != nil {
		return fmt.Errorf("defense: set mode: %w", err)
	}
	g.log.WarnContext(ctx, "defense mode set by operator", "mode", m)
	_, err := g.refreshMode(ctx)
	return err
}

// Mode reads the region's current mode afresh.
func (g *Guard) Mode(ctx context.Context) (ModeState, error) { return g.refreshMode(ctx) }

// mode is the effective mode, from a copy at most ModeCacheTTL old, or
// fresher once the global limit has refused MinAttempts attempts, or
// earlyRefreshFailures password checks of unknown devices have failed here,
// since the last refresh: the first second of a flood is when the mode
// matters most. One caller refreshes it while the others use the old copy.
func (g *Guard) mode(ctx context.Context) (ModeState, error) {
	c := g.modeCache.Load()
	if c != nil && !g.modeStale(c) {
		return c.state, nil
	}
	if c != nil && !g.refreshing.CompareAndSwap(false, true) {
		return c.state, nil
	}
	if c != nil {
		defer g.refreshing.Store(false)
	}
	return g.refreshMode(ctx)
}

// earlyRefreshFailures and earlyRefreshEvery: this many failed checks of
// unknown devices since the last refresh make the mode's copy stale once
// it is earlyRefreshEvery old (a burst refreshes it ten times a second at
// most, one round trip each).
const (
	earlyRefreshFailures = 10
	earlyRefreshEvery    = 100 * time.Millisecond
)

// modeStale reports whether the cached mode must be read again.
func (g *Guard) modeStale(c *modeCache) bool {
	age := g.now().Sub(c.at)
	if age >= g.cfg.ModeCacheTTL {
		return true
	}
	if !g.cfg.Auto.Enabled {
		return false
	}
	return g.floodRefused.Load() >= int64(g.cfg.Auto.MinAttempts) ||
		(g.failedChecks.Load() >= earlyRefreshFailures && age >= earlyRefreshEvery)
}

// refreshMode reads the operator mode, the automatic mode and the region's
// attempt statistics in one round trip, raises the automatic mode when the
// failure ratio says so, and caches the result.
func (g *Guard) refreshMode(ctx context.Context) (ModeState, error) {
	now := g.now()
	a := g.cfg.Auto
	ops := []ratelimit.Op{ratelimit.Get(g.keys.mode()), ratelimit.Get(g.keys.autoMode())}
	flood := g.floodRefused.Swap(0)
	g.failedChecks.Store(0)
	if a.Enabled {
		ops = append(ops, ratelimit.HGet(g.keys.globalStats(now, a.Window), "a", "f", "c"),
			ratelimit.HGet(g.keys.globalStats(now.Add(-a.Window), a.Window), "a", "f", "c"),
			ratelimit.HGet(g.keys.burstStats(now, a.BurstWindow), "a", "f"),
			ratelimit.HGet(g.keys.burstStats(now.Add(-a.BurstWindow), a.BurstWindow), "a", "f"))
		if flood > 0 { // after the reads: added to them below
			ops = append(ops, ratelimit.HIncr(g.keys.globalStats(now, a.Window), "c", flood, 3*a.Window))
		}
	}
	res, err := g.store.Exec(ctx, ops...)
	if err != nil {
		g.floodRefused.Add(flood) // counted at the next refresh instead
		return ModeState{}, fmt.Errorf("defense: read mode: %w", err)
	}
	st := ModeState{Operator: ModeNormal, Auto: ModeNormal, FailureRatio: -1, BurstFailureRatio: -1}
	if prev := g.modeCache.Load(); prev != nil && !g.store.Shared() {
		// Redis is away: keep the region's last known modes rather than
		// dropping to normal in the middle of an attack.
		st.Operator, st.Auto = prev.state.Operator, prev.state.Auto
	}
	if m, err := ParseMode(res[0].Str); err == nil {
		st.Operator = m
	}
	if m, err := ParseMode(res[1].Str); err == nil && m.level() >= st.Auto.level() {
		st.Auto = m
	}
	if a.Enabled {
		att, fail, refused := int64(0), int64(0), flood
		for _, r := range res[2:4] {
			att, fail, refused = att+r.Ints[0], fail+r.Ints[1], refused+r.Ints[2]
		}
		// Only attempts that reached a password check count: a flood the
		// limits refuse costs nothing, and counting its refusals as
		// failures would let anyone tip the region into emergency mode
		// (and make every legitimate user solve challenges) by sending
		// junk above the global limit.
		want := 0
		if att >= int64(a.MinAttempts) {
			st.FailureRatio = float64(fail) / float64(att)
			want = a.level(st.FailureRatio)
		}
		// The last BurstWindow alone: a burst after a minute of successes.
		_, elapsed := windowAt(now, a.BurstWindow)
		bAtt := slide(res[4].Ints[0], res[5].Ints[0], elapsed)
		bFail := slide(res[4].Ints[1], res[5].Ints[1], elapsed)
		if bAtt >= float64(a.MinAttempts) {
			st.BurstFailureRatio = bFail / bAtt
			want = max(want, a.level(st.BurstFailureRatio))
		}
		// Raise, or extend the hold at the same level; never lower
		// before the hold runs out.
		if want > 0 && want >= st.Auto.level() {
			if _, err := g.store.Exec(ctx, ratelimit.Set(g.keys.autoMode(), string(modeOfLevel(want)), a.Hold)); err != nil {
				return ModeState{}, fmt.Errorf("defense: raise mode: %w", err)
			}
			if want > st.Auto.level() {
				g.log.WarnContext(ctx, "defense mode raised automatically", "mode", modeOfLevel(want),
					"failure_ratio", st.FailureRatio, "attempts", att, "burst_failure_ratio", st.BurstFailureRatio,
					"burst_attempts", int64(bAtt), "refused", refused, "hold", a.Hold)
			}
			st.Auto = modeOfLevel(want)
		}
	}
	st.Effective = modeOfLevel(max(st.Operator.level(), st.Auto.level()))
	g.modeCache.Store(&modeCache{state: st, at: now})
	return st, nil
}

// level is the mode level (0 normal, 1 elevated, 2 emergency) a failure
// ratio calls for.
func (a AutoModeConfig) level(ratio float64) int {
	switch {
	case ratio >= a.EmergencyRatio:
		return 2
	case ratio >= a.ElevatedRatio:
		return 1
	}
	return 0
}

// profile is how the mode hardens an attempt; trusted devices are never
// hardened.
func (g *Guard) profile(m Mode, trusted bool) ModeProfile {
	switch {
	case trusted:
	case m == ModeElevated:
		return g.cfg.Elevated
	case m == ModeEmergency:
		return g.cfg.Emergency
	}
	return ModeProfile{ThresholdDivisor: 1, LimitDivisor: 1}
}
