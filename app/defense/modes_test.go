package defense

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
	"github.com/gatehouse-id/gatehouse/regions/latency"
)

func TestModesAreSharedAndHarden(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	clock := &fakeClock{t: time.Now()}
	g1 := newGuard(t, cfg, rdb, nil, clock.Now)
	g2 := newGuard(t, cfg, rdb, nil, clock.Now)
	ctx := context.Background()
	if d := check(t, g2, Attempt{IP: ip4(40, 1, 1), AccountKey: "dave"}); d.Action != ActionAllow || d.Mode != ModeNormal {
		t.Fatalf("normal: %+v", d)
	}
	if err := g1.SetMode(ctx, "panic"); err == nil {
		t.Fatal("bad mode accepted")
	}
	if err := g1.SetMode(ctx, ModeEmergency); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * cfg.ModeCacheTTL)
	d := check(t, g2, Attempt{IP: ip4(40, 1, 1), AccountKey: "dave"})
	if d.Mode != ModeEmergency || d.Action != ActionChallenge || d.Challenge.Difficulty < cfg.Challenge.BaseDifficulty+cfg.Emergency.DifficultyBonus {
		t.Fatalf("emergency, unknown device: %+v", d)
	}
	if d := check(t, g2, Attempt{IP: ip4(40, 1, 1), AccountKey: "dave", DeviceTrusted: true}); d.Action != ActionAllow {
		t.Fatalf("emergency, trusted device: %+v", d)
	}
	st, err := g2.Mode(ctx)
	if err != nil || st.Operator != ModeEmergency || st.Effective != ModeEmergency {
		t.Fatalf("state %+v %v", st, err)
	}
	if err := g2.SetMode(ctx, ModeNormal); err != nil {
		t.Fatal(err)
	}
	if st, _ := g2.Mode(ctx); st.Effective != ModeNormal {
		t.Fatalf("back to normal: %+v", st)
	}
}

func TestModeRisesWithTheFailureRatio(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.MinAttempts = 40
	g := newGuard(t, cfg, rdb, nil, nil)
	ctx := context.Background()
	for i := range 40 {
		a := Attempt{IP: ip4(50, i, 1), AccountKey: account(i)}
		if err := g.Record(ctx, a, i%10 == 0); err != nil {
			t.Fatal(err)
		}
	}
	st, err := g.Mode(ctx)
	if err != nil || st.Auto != ModeEmergency || st.Effective != ModeEmergency || st.Operator != ModeNormal {
		t.Fatalf("after 90%% failures: %+v %v", st, err)
	}
	ttl, _ := rdb.PTTL(ctx, cfg.KeyPrefix+"mode:auto").Result()
	if ttl <= 0 || ttl > cfg.Auto.Hold {
		t.Fatalf("auto mode hold %v", ttl)
	}
}

// A flood held off by the global limit does not raise the mode: none of
// its attempts reached a password check, so it cost nothing, and counting
// its refusals as failures let anyone tip the region into emergency mode
// (and every user into challenges) with junk above the global limit.
// Failures that reached the check still raise it.
func TestGlobalLimitFloodDoesNotRaiseTheMode(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.MinAttempts = 40
	cfg.Unknown.Global = ratelimit.PerMinute(5, 5)
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, rdb, nil, clock.Now)
	ctx := context.Background()
	// Legit successes first (new devices), as a region sees before an attack.
	for i := range 40 {
		if err := g.Record(ctx, Attempt{IP: ip4(60, i, 1), AccountKey: account(i)}, true); err != nil {
			t.Fatal(err)
		}
	}
	refused := 0
	for i := range 100 {
		d, err := g.Check(ctx, Attempt{IP: ip4(61, i, 1), AccountKey: account(1000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Action == ActionRateLimit && d.Layer == LayerGlobal {
			refused++
		}
	}
	if refused != 95 {
		t.Fatalf("%d refused at the global layer, want 95", refused)
	}
	clock.Advance(cfg.ModeCacheTTL)
	st, err := g.Mode(ctx)
	if err != nil || st.Auto != ModeNormal || st.Effective != ModeNormal {
		t.Fatalf("95 global refusals against 40 successes must leave the mode normal: %+v %v", st, err)
	}
	// Failed password checks do raise it.
	for i := range 200 {
		if err := g.Record(ctx, Attempt{IP: ip4(63, i, 1), AccountKey: account(3000 + i)}, false); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(cfg.ModeCacheTTL)
	if st, err := g.Mode(ctx); err != nil || st.Auto == ModeNormal {
		t.Fatalf("200 failed checks against 40 successes must raise the mode: %+v %v", st, err)
	}
}

// Users on their trusted devices do not hide an attack on unknown ones:
// the mode hardens unknown devices only, so only their checks make its
// ratio. Before, 300 trusted successes kept 120 failed checks from unknown
// devices (a stuffing burst's first seconds) under the elevated ratio.
func TestTrustedSuccessesDoNotHideAnAttack(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.MinAttempts = 100
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, rdb, nil, clock.Now)
	ctx := context.Background()
	for i := range 300 {
		if err := g.Record(ctx, Attempt{IP: ip4(64, i, 1), AccountKey: account(i), DeviceTrusted: true}, true); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(cfg.ModeCacheTTL)
	if st, err := g.Mode(ctx); err != nil || st.Effective != ModeNormal || st.FailureRatio != -1 {
		t.Fatalf("trusted successes alone: %+v %v", st, err)
	}
	for i := range 120 {
		if err := g.Record(ctx, Attempt{IP: ip4(65, i, 1), AccountKey: account(4000 + i)}, i%40 == 0); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(cfg.ModeCacheTTL)
	st, err := g.Mode(ctx)
	if err != nil || st.Auto != ModeEmergency {
		t.Fatalf("120 unknown-device checks, 117 failed, beside 300 trusted successes: want emergency, got %+v %v", st, err)
	}
}

// A burst after a quiet spell is not hidden by the successes of the minute
// before it: the last BurstWindow alone raises the mode. Before, 76
// successes kept 70 failed checks in a row under the elevated ratio (0.48),
// and every attempt of a stuffing burst's first seconds that passed the
// limits cost a hash until the failures outnumbered the minute's successes.
func TestABurstIsNotHiddenByTheMinuteBefore(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.MinAttempts = 40
	// On a BurstWindow boundary, so that which checks each window holds
	// does not depend on when the test runs.
	clock := &fakeClock{t: time.Now().Truncate(cfg.Auto.BurstWindow).Add(cfg.Auto.BurstWindow)}
	g := newGuard(t, cfg, rdb, nil, clock.Now)
	ctx := context.Background()
	for i := range 76 { // two a second for 38 s
		if err := g.Record(ctx, Attempt{IP: ip4(68, i, 1), AccountKey: account(7000 + i)}, true); err != nil {
			t.Fatal(err)
		}
		clock.Advance(500 * time.Millisecond)
	}
	if st, err := g.Mode(ctx); err != nil || st.Effective != ModeNormal || st.FailureRatio != 0 {
		t.Fatalf("successes alone: %+v %v", st, err)
	}
	clock.Advance(12 * time.Second) // a quiet spell, then the burst
	for i := range 70 {
		if err := g.Record(ctx, Attempt{IP: ip4(69, i, 1), AccountKey: account(8000 + i)}, false); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Millisecond)
	}
	clock.Advance(cfg.ModeCacheTTL)
	st, err := g.Mode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.FailureRatio >= cfg.Auto.ElevatedRatio {
		t.Fatalf("the minute's ratio is %.2f: this test needs it under the elevated ratio", st.FailureRatio)
	}
	if st.BurstFailureRatio != 1 || st.Auto != ModeEmergency || st.Effective != ModeEmergency {
		t.Fatalf("70 failed checks in a row after a quiet spell: want emergency on a burst ratio of 1, got %+v", st)
	}
}

// Redis cut mid-test: decisions keep coming from the process, limits still
// apply; Redis restored: the shared limits resume.
func TestRedisOutageFallsBackAndRecovers(t *testing.T) {
	proxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:6379", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg := testConfig(t)
	cfg.ProbeInterval = 50 * time.Millisecond
	cfg.Unknown.Address = ratelimit.PerMinute(1, 6)
	cfg.Account.ChallengeAfter, cfg.StepUpAfter, cfg.Account.LockAfter = 0, 0, 3
	obs := &recorder{}
	g := newGuard(t, cfg, testRedis(t, "redis://"+proxy.Addr()+"/12"), obs, nil)
	other := newGuard(t, cfg, testRedis(t, testRedisURL), nil, nil) // another server, straight to Redis
	ip := ip4(60, 1, 1)

	for range 2 {
		if d := check(t, g, Attempt{IP: ip}); d.Action != ActionAllow || !d.Shared {
			t.Fatalf("before the cut: %+v", d)
		}
	}
	proxy.Cut()
	for i := range 6 {
		if d := check(t, g, Attempt{IP: ip}); d.Action != ActionAllow || d.Shared {
			t.Fatalf("cut, attempt %d: %+v", i, d)
		}
	}
	if d := check(t, g, Attempt{IP: ip}); d.Action != ActionRateLimit || d.Layer != LayerAddress {
		t.Fatalf("cut: the in-process address limit did not hold: %+v", d)
	}
	victim := Attempt{IP: ip4(60, 2, 1), AccountKey: "erin"}
	for range 3 {
		if d := attemptOnce(t, g, victim, false); !d.Proceed() {
			t.Fatalf("cut: %+v", d)
		}
	}
	if d := check(t, g, victim); d.Action != ActionLock || d.Shared {
		t.Fatalf("cut: the in-process lock did not engage: %+v", d)
	}
	if got := obs.fallbacks(); len(got) != 1 || !got[0] {
		t.Fatalf("fallback events %v", got)
	}

	proxy.Restore()
	deadline := time.Now().Add(3 * time.Second)
	var d Decision
	for d = check(t, g, Attempt{IP: ip4(60, 3, 1)}); !d.Shared && time.Now().Before(deadline); d = check(t, g, Attempt{IP: ip4(60, 3, 1)}) {
		time.Sleep(20 * time.Millisecond)
	}
	if !d.Shared {
		t.Fatalf("never resumed: %+v", d)
	}
	// Shared again: Redis had 2 of 6 used on the address; 4 remain, and
	// another server sees the same bucket.
	for i := range 4 {
		gg := g
		if i%2 == 1 {
			gg = other
		}
		if d := check(t, gg, Attempt{IP: ip}); d.Action != ActionAllow || !d.Shared {
			t.Fatalf("restored, attempt %d: %+v", i, d)
		}
	}
	if d := check(t, other, Attempt{IP: ip}); d.Action != ActionRateLimit {
		t.Fatalf("restored: shared address limit not enforced: %+v", d)
	}
	if got := obs.fallbacks(); len(got) != 2 || got[1] {
		t.Fatalf("fallback events %v", got)
	}
}

// While Redis is away a server keeps the region's last known mode.
func TestModeSurvivesAnOutage(t *testing.T) {
	proxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:6379", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg := testConfig(t)
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, testRedis(t, "redis://"+proxy.Addr()+"/12"), nil, clock.Now)
	if err := g.SetMode(context.Background(), ModeEmergency); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	for range 3 {
		clock.Advance(2 * cfg.ModeCacheTTL)
		if d := check(t, g, Attempt{IP: ip4(41, 1, 1), DeviceTrusted: true}); d.Mode != ModeEmergency || d.Shared {
			t.Fatalf("during the outage: %+v", d)
		}
	}
}

// A burst's failed checks refresh the mode before its copy is
// ModeCacheTTL old: every hash until the mode rises is the attack's.
func TestFailedChecksRefreshTheModeEarly(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.MinAttempts = 40
	cfg.ModeCacheTTL = time.Hour
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, rdb, nil, clock.Now)
	ctx := context.Background()
	modeSeen := func(i int) Mode {
		d, err := g.Check(ctx, Attempt{IP: ip4(66, i, 1), AccountKey: account(5000 + i)})
		if err != nil {
			t.Fatal(err)
		}
		return d.Mode
	}
	if m := modeSeen(0); m != ModeNormal {
		t.Fatalf("before: %s", m)
	}
	for i := range 40 {
		if err := g.Record(ctx, Attempt{IP: ip4(67, i, 1), AccountKey: account(6000 + i)}, false); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(earlyRefreshEvery / 2)
	if m := modeSeen(1); m != ModeNormal {
		t.Fatalf("refreshed sooner than every %v: %s", earlyRefreshEvery, m)
	}
	clock.Advance(earlyRefreshEvery)
	if m := modeSeen(2); m != ModeEmergency {
		t.Fatalf("40 failed checks, %v later, with an hour-long mode cache: %s, want emergency", earlyRefreshEvery, m)
	}
}
