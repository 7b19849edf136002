package defense

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

func check(t testing.TB, g *Guard, a Attempt) Decision {
	t.Helper()
	d, err := g.Check(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLayersTripAtTheirBounds(t *testing.T) {
	rdb := testRedis(t, testRedisURL)

	t.Run("address", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Unknown.Address = ratelimit.PerMinute(3, 3)
		g := newGuard(t, cfg, rdb, nil, nil)
		for i := range 3 {
			if d := check(t, g, Attempt{IP: ip4(1, 1, 1)}); d.Action != ActionAllow {
				t.Fatalf("attempt %d: %+v", i, d)
			}
		}
		d := check(t, g, Attempt{IP: ip4(1, 1, 1)})
		if d.Action != ActionRateLimit || d.Layer != LayerAddress || d.RetryAfter <= 0 {
			t.Fatalf("4th: %+v", d)
		}
		e := errs.As(d.Err())
		if e == nil || e.Kind != errs.KindRateLimited || e.Code != "rate_limited" || e.RetryAfter < time.Second {
			t.Fatalf("error %+v", e)
		}
		// The same address mapped into IPv6 is the same client.
		mapped := netip.AddrFrom16(ip4(1, 1, 1).As16())
		if d := check(t, g, Attempt{IP: mapped}); d.Action != ActionRateLimit {
			t.Fatalf("mapped address escaped its limit: %+v", d)
		}
		if d := check(t, g, Attempt{IP: ip4(1, 1, 2)}); d.Action != ActionAllow {
			t.Fatalf("a neighbour: %+v", d)
		}
	})

	t.Run("subnet", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Unknown.Subnet = ratelimit.PerMinute(4, 4)
		g := newGuard(t, cfg, rdb, nil, nil)
		for i := range 4 {
			if d := check(t, g, Attempt{IP: ip4(2, 2, i+1)}); d.Action != ActionAllow {
				t.Fatalf("attempt %d: %+v", i, d)
			}
		}
		if d := check(t, g, Attempt{IP: ip4(2, 2, 200)}); d.Action != ActionRateLimit || d.Layer != LayerSubnet {
			t.Fatalf("5th in the /24: %+v", d)
		}
		if d := check(t, g, Attempt{IP: ip4(2, 3, 1)}); d.Action != ActionAllow {
			t.Fatalf("another /24: %+v", d)
		}
	})

	t.Run("subnet/ipv6", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Unknown.Subnet = ratelimit.PerMinute(2, 2)
		g := newGuard(t, cfg, rdb, nil, nil)
		same := []string{"2001:db8:0:100::1", "2001:db8:0:1ff:ffff::9"}
		for _, s := range same {
			if d := check(t, g, Attempt{IP: netip.MustParseAddr(s)}); d.Action != ActionAllow {
				t.Fatalf("%s: %+v", s, d)
			}
		}
		if d := check(t, g, Attempt{IP: netip.MustParseAddr("2001:db8:0:180::7")}); d.Action != ActionRateLimit || d.Layer != LayerSubnet {
			t.Fatalf("3rd in the /56: %+v", d)
		}
		if d := check(t, g, Attempt{IP: netip.MustParseAddr("2001:db8:0:200::1")}); d.Action != ActionAllow {
			t.Fatalf("next /56: %+v", d)
		}
	})

	t.Run("global", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Unknown.Global = ratelimit.PerMinute(5, 5)
		g := newGuard(t, cfg, rdb, nil, nil)
		for i := range 5 {
			if d := check(t, g, Attempt{IP: ip4(3, i, 1)}); d.Action != ActionAllow {
				t.Fatalf("attempt %d: %+v", i, d)
			}
		}
		if d := check(t, g, Attempt{IP: ip4(3, 99, 1)}); d.Action != ActionRateLimit || d.Layer != LayerGlobal {
			t.Fatalf("6th: %+v", d)
		}
		// Trusted devices have their own budget: a flood of unknown
		// devices does not starve users on their usual device.
		if d := check(t, g, Attempt{IP: ip4(3, 99, 1), DeviceTrusted: true}); d.Action != ActionAllow {
			t.Fatalf("trusted device: %+v", d)
		}
	})

	t.Run("account", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Account.ChallengeAfter, cfg.StepUpAfter, cfg.Account.LockAfter = 2, 3, 4
		g := newGuard(t, cfg, rdb, nil, nil)
		a := Attempt{IP: ip4(4, 1, 1), AccountKey: "victim", HasSecondFactor: true}
		want := []Action{ActionAllow, ActionAllow, ActionAllow, ActionStepUp}
		for i, w := range want {
			if d := attemptOnce(t, g, a, false); d.Action != w || d.Failures != i+1 {
				t.Fatalf("failure %d: %+v, want %v", i+1, d, w)
			}
		}
		d := check(t, g, a)
		if d.Action != ActionLock || d.RetryAfter != cfg.Account.LockBase {
			t.Fatalf("after 4 failures: %+v", d)
		}
		e := errs.As(d.Err())
		if e == nil || e.Kind != errs.KindLocked || e.Code != "account_locked" || e.RetryAfter != cfg.Account.LockBase {
			t.Fatalf("error %+v", e)
		}
		// Challenge thresholds apply before the lock: the 3rd attempt needed one.
		if d := check(t, g, Attempt{IP: ip4(4, 1, 2), AccountKey: "other"}); d.Action != ActionAllow {
			t.Fatalf("another account: %+v", d)
		}
	})
}

// Once Redis has refused an attempt at the global layer, the Guard refuses
// the class's attempts itself until the bucket refills: no Redis round trip
// (the address layer is not even asked), other classes unaffected.
func TestGlobalRefusalIsRememberedUntilTheBucketRefills(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Unknown.Global = ratelimit.PerMinute(2, 2)
	rec := &recorder{}
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, rdb, rec, clock.Now)
	for i := range 2 {
		if d := check(t, g, Attempt{IP: ip4(5, i, 1)}); d.Action != ActionAllow {
			t.Fatalf("attempt %d: %+v", i, d)
		}
	}
	d := check(t, g, Attempt{IP: ip4(5, 9, 1)})
	if d.Action != ActionRateLimit || d.Layer != LayerGlobal || d.RetryAfter <= 0 {
		t.Fatalf("3rd: %+v", d)
	}
	asked := rec.count(LayerAddress, OutcomeAllow)
	if asked != 3 {
		t.Fatalf("the address layer was asked %d times, want 3", asked)
	}
	later := check(t, g, Attempt{IP: ip4(5, 10, 1)})
	if later.Action != ActionRateLimit || later.Layer != LayerGlobal || later.RetryAfter <= 0 || later.RetryAfter > d.RetryAfter {
		t.Fatalf("4th: %+v (3rd's retry after %v)", later, d.RetryAfter)
	}
	if n := rec.count(LayerAddress, OutcomeAllow); n != asked {
		t.Fatalf("the 4th attempt went to Redis (address layer asked %d times)", n)
	}
	if d := check(t, g, Attempt{IP: ip4(5, 10, 1), DeviceTrusted: true}); d.Action != ActionAllow {
		t.Fatalf("a trusted device has its own bucket: %+v", d)
	}
	clock.Advance(d.RetryAfter + time.Millisecond)
	check(t, g, Attempt{IP: ip4(5, 11, 1)})
	if n := rec.count(LayerAddress, OutcomeAllow); n != asked+1 { // (the trusted device passed no address layer)
		t.Fatalf("past the retry time Redis must be asked again (address layer asked %d times)", n)
	}
}

// ZITADEL CVE-2023-47111 / Keycloak #31726: 50 parallel wrong passwords
// against one account must reach the hasher exactly LockAfter times.
func TestParallelFailuresAreCountedExactly(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	for _, challenges := range []bool{false, true} {
		name := "counter"
		if challenges {
			name = "with-challenges"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			if !challenges {
				cfg.Account.ChallengeAfter, cfg.StepUpAfter = 0, 0
			}
			g := newGuard(t, cfg, rdb, nil, nil)
			var hashed, locked atomic.Int32
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					a := Attempt{IP: ip4(5, i, 1), AccountKey: "target", PasswordFingerprintInput: []byte("guess")}
					d := attemptOnce(t, g, a, false)
					switch {
					case d.Proceed():
						hashed.Add(1)
					case d.Action == ActionLock:
						locked.Add(1)
					default:
						t.Errorf("unexpected %+v", d)
					}
				})
			}
			wg.Wait()
			if hashed.Load() != int32(cfg.Account.LockAfter) || locked.Load() != 50-int32(cfg.Account.LockAfter) {
				t.Fatalf("hashed %d, locked %d; want exactly %d hashed", hashed.Load(), locked.Load(), cfg.Account.LockAfter)
			}
		})
	}
}

// An attacker cannot lock a user out of their usual device (ASVS 6.3.1),
// and a login from it does not lift the attacker's lock; trusted devices
// lock only after NIST's 100 consecutive failures.
func TestTrustedDeviceIsExemptFromTheLock(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Trusted.Account = ratelimit.PerMinute(600, 600)
	g := newGuard(t, cfg, rdb, nil, nil)
	attacker := Attempt{IP: ip4(6, 1, 1), AccountKey: "alice"}
	for range cfg.Account.LockAfter {
		attemptOnce(t, g, attacker, false)
	}
	if d := check(t, g, attacker); d.Action != ActionLock {
		t.Fatalf("attacker: %+v", d)
	}
	if d := check(t, g, Attempt{IP: ip4(6, 1, 9), AccountKey: "alice"}); d.Action != ActionLock {
		t.Fatalf("unknown device from elsewhere: %+v", d)
	}
	user := Attempt{IP: ip4(6, 2, 1), AccountKey: "alice", DeviceTrusted: true, HasSecondFactor: true}
	if d := attemptOnce(t, g, user, true); d.Action != ActionAllow {
		t.Fatalf("trusted device: %+v", d)
	}
	if d := check(t, g, attacker); d.Action != ActionLock {
		t.Fatalf("the user's login lifted the attacker's lock: %+v", d)
	}
	// The trusted lane: 100 failures, then locked too.
	for i := range cfg.TrustedAccount.LockAfter {
		if d := attemptOnce(t, g, user, false); !d.Proceed() {
			t.Fatalf("trusted failure %d: %+v", i+1, d)
		}
	}
	if d := check(t, g, user); d.Action != ActionLock {
		t.Fatalf("after %d trusted failures: %+v", cfg.TrustedAccount.LockAfter, d)
	}
}

// RFC 4226 §7.3: a password success must not reset the TOTP counter.
func TestFactorsHaveSeparateCounters(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	g := newGuard(t, testConfig(t), rdb, nil, nil)
	totp := Attempt{IP: ip4(7, 1, 1), AccountKey: "bob", Factor: "totp"}
	for range 3 {
		attemptOnce(t, g, totp, false)
	}
	pw := Attempt{IP: ip4(7, 1, 1), AccountKey: "bob"}
	if d := attemptOnce(t, g, pw, true); d.Failures != 1 {
		t.Fatalf("password lane: %+v", d)
	}
	if d := attemptOnce(t, g, totp, false); d.Failures != 4 {
		t.Fatalf("totp lane after a password success: %+v, want 4 failures", d)
	}
	attemptOnce(t, g, totp, true)
	if d := attemptOnce(t, g, totp, false); d.Failures != 1 {
		t.Fatalf("totp lane after a totp success: %+v", d)
	}
}

// One password tried over 500 accounts from 500 addresses in 500 subnets:
// the spray is detected by its fingerprint and challenged.
func TestPasswordSprayIsChallenged(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Auto.Enabled = false // the spray's refusals would raise the mode too; this test isolates the fingerprint
	g := newGuard(t, cfg, rdb, nil, nil)
	ctx := context.Background()
	allowed, challenged, firstChallenge := 0, 0, -1
	for i := range 500 {
		a := Attempt{IP: ip4(8+i/250, i%250, 1), AccountKey: account(i), PasswordFingerprintInput: []byte("Summer2026!")}
		d := check(t, g, a)
		switch d.Action {
		case ActionAllow:
			allowed++
			if err := g.Record(ctx, a, false); err != nil {
				t.Fatal(err)
			}
		case ActionChallenge:
			challenged++
			if firstChallenge < 0 {
				firstChallenge = i
			}
			if d.Layer != LayerDetection || d.Challenge == nil || d.Challenge.Difficulty < cfg.Challenge.BaseDifficulty {
				t.Fatalf("challenge %+v", d)
			}
		default:
			t.Fatalf("attempt %d: %+v", i, d)
		}
	}
	t.Logf("spray: %d allowed, %d challenged, first challenge at attempt %d", allowed, challenged, firstChallenge)
	if firstChallenge < 0 || firstChallenge > cfg.Detection.SprayAccounts || challenged != 500-firstChallenge {
		t.Fatalf("spray: first challenge at %d, %d challenged", firstChallenge, challenged)
	}
	// Another password, account and network is not affected.
	if d := check(t, g, Attempt{IP: ip4(20, 1, 1), AccountKey: "carol", PasswordFingerprintInput: []byte("other")}); d.Action != ActionAllow {
		t.Fatalf("unrelated login: %+v", d)
	}
	// The password itself is nowhere in Redis.
	keys, _ := rdb.Keys(ctx, cfg.KeyPrefix+"*").Result()
	for _, k := range keys {
		if containsFold(k, "summer") {
			t.Fatalf("key %q holds the password", k)
		}
	}
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := range len(sub) {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// One address trying many accounts (stuffing) is challenged, then blocked.
func TestStuffingFromOneAddressEscalates(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Unknown.Address = ratelimit.PerMinute(600, 600)
	g := newGuard(t, cfg, rdb, nil, nil)
	var actions []Action
	for i := range 60 {
		a := Attempt{IP: ip4(30, 1, 1), AccountKey: account(i), PasswordFingerprintInput: []byte{byte(i), 'x'}}
		actions = append(actions, attemptOnce(t, g, a, false).Action)
	}
	if actions[0] != ActionAllow || actions[len(actions)-1] != ActionBlock {
		t.Fatalf("actions %v", actions)
	}
	d := check(t, g, Attempt{IP: ip4(30, 1, 1), AccountKey: "next"})
	if e := errs.As(d.Err()); d.Action != ActionBlock || e == nil || e.Kind != errs.KindRateLimited || e.RetryAfter != cfg.Risk.BlockFor {
		t.Fatalf("block: %+v", d)
	}
}

func TestDecisionErrors(t *testing.T) {
	c := &Challenge{Type: "pow", ID: "id", Difficulty: 18, ExpiresAt: time.Unix(2e9, 0).UTC(), Token: "v1.x.y"}
	e := errs.As(Decision{Action: ActionChallenge, Challenge: c}.Err())
	if e == nil || e.Kind != errs.KindForbidden || e.Code != "challenge_required" {
		t.Fatalf("%+v", e)
	}
	body, _ := json.Marshal(e.Details)
	var got map[string]map[string]any
	_ = json.Unmarshal(body, &got)
	ch := got["challenge"]
	for _, k := range []string{"type", "id", "difficulty", "expires_at", "token"} {
		if _, ok := ch[k]; !ok {
			t.Fatalf("challenge body %s lacks %q", body, k)
		}
	}
	if e := errs.As(Decision{Action: ActionRateLimit, RetryAfter: 1500 * time.Millisecond}.Err()); e.RetryAfter != 2*time.Second {
		t.Fatalf("retry after rounds up: %v", e.RetryAfter)
	}
	if (Decision{Action: ActionAllow}).Err() != nil || (Decision{Action: ActionStepUp}).Err() != nil {
		t.Fatal("proceeding decisions have no error")
	}
}

func TestObserverSeesEveryLayer(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	cfg.Account.LockAfter = 6
	obs := &recorder{}
	g := newGuard(t, cfg, rdb, obs, nil)
	a := Attempt{IP: ip4(70, 1, 1), AccountKey: "frank", HasSecondFactor: true}
	for range 7 {
		attemptOnce(t, g, a, false)
	}
	for _, k := range []struct {
		l Layer
		o Outcome
	}{{LayerAddress, OutcomeAllow}, {LayerSubnet, OutcomeAllow}, {LayerGlobal, OutcomeAllow}, {LayerAccount, OutcomeAllow},
		{LayerAccount, OutcomeChallenge}, {LayerChallenge, OutcomeAllow}, {LayerAccount, OutcomeLock}} {
		if obs.count(k.l, k.o) == 0 {
			t.Errorf("no %s/%s decision: %v", k.l, k.o, obs.decisions)
		}
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	if _, err := New(DefaultConfig(), nil, []byte("short"), nil, nil, nil); err == nil {
		t.Fatal("short secret accepted")
	}
	cfg := DefaultConfig()
	cfg.Unknown.Address.Rate = 0
	if _, err := New(cfg, nil, testSecret, nil, nil, nil); err == nil {
		t.Fatal("bad limit accepted")
	}
	g := newGuard(t, DefaultConfig(), nil, nil, nil)
	if _, err := g.Check(context.Background(), Attempt{}); err == nil {
		t.Fatal("attempt without an address accepted")
	}
}

func TestAttemptNeverPrintsThePassword(t *testing.T) {
	a := Attempt{IP: ip4(1, 2, 3), AccountKey: "k", PasswordFingerprintInput: []byte("hunter2")}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "attempt", a)
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), buf.String()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "104 117") {
			t.Fatalf("password printed: %s", s)
		}
	}
}
