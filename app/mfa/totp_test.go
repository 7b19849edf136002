package mfa

import (
	"bytes"
	"context"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

var t0 = time.Unix(1_800_000_000-1_800_000_000%30+5, 0).UTC() // 5 s into a step

type totpFixture struct {
	store *memStore
	keys  *keyring
	clk   *clock
	svc   *TOTP
	user  uuid.UUID
}

func newTOTPFixture(t *testing.T) *totpFixture {
	t.Helper()
	f := &totpFixture{store: newMemStore(), keys: newKeyring(), clk: &clock{t: t0}, user: uuid.New()}
	svc, err := NewTOTP(f.store, f.keys, TOTPConfig{Issuer: "Gatehouse"}, f.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// code is what an authenticator app shows at time at, computed by pquerna/otp.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enabled enrols and confirms at t0 and returns the secret.
func (f *totpFixture) enabled(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	en, err := f.svc.Enroll(ctx, f.user, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.svc.Confirm(ctx, f.user, code(t, en.Secret, t0))
	if err != nil || out != Accepted {
		t.Fatalf("confirm = %v, %v", out, err)
	}
	return en.Secret
}

func TestTOTPEnrolment(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	en, err := f.svc.Enroll(ctx, f.user, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := b32.DecodeString(en.Secret)
	if err != nil || len(seed)*8 < 160 {
		t.Fatalf("secret %d bits, %v", len(seed)*8, err)
	}
	key, err := otp.NewKeyFromURL(en.OTPAuthURI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Issuer() != "Gatehouse" || key.AccountName() != "alice@example.com" || key.Secret() != en.Secret || key.Period() != 30 || key.Digits() != otp.DigitsSix {
		t.Fatalf("uri %q", en.OTPAuthURI)
	}
	if _, err := png.Decode(bytes.NewReader(en.QRPNG)); err != nil {
		t.Fatalf("qr png: %v", err)
	}
	rec, _, _ := f.store.TOTP(ctx, f.user)
	if rec.Confirmed || bytes.Contains(rec.SealedSeed, seed) {
		t.Fatal("pending record is confirmed or holds the seed in the clear")
	}
	if ok, _ := f.svc.Enabled(ctx, f.user); ok {
		t.Fatal("enabled before confirmation")
	}
	if _, err := f.svc.Verify(ctx, f.user, code(t, en.Secret, t0)); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("verify before confirm: %v", err)
	}
	if out, err := f.svc.Confirm(ctx, f.user, "000000"); err != nil || out == Accepted {
		t.Fatalf("wrong confirm code = %v, %v", out, err)
	}
	if out, err := f.svc.Confirm(ctx, f.user, code(t, en.Secret, t0)); err != nil || out != Accepted {
		t.Fatalf("confirm = %v, %v", out, err)
	}
	if ok, _ := f.svc.Enabled(ctx, f.user); !ok {
		t.Fatal("not enabled after confirmation")
	}
	// The confirming code is used up.
	if out, _ := f.svc.Verify(ctx, f.user, code(t, en.Secret, t0)); out != Replayed {
		t.Fatalf("confirming code reused = %v", out)
	}
	if _, err := f.svc.Enroll(ctx, f.user, "alice@example.com"); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("enrol over an enabled TOTP: %v", err)
	}
	if _, err := f.svc.Confirm(ctx, f.user, code(t, en.Secret, t0)); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("confirm twice: %v", err)
	}
}

func TestTOTPPendingExpires(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	en, _ := f.svc.Enroll(ctx, f.user, "a")
	later := t0.Add(16 * time.Minute)
	f.clk.Set(later)
	if _, err := f.svc.Confirm(ctx, f.user, code(t, en.Secret, later)); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("late confirm: %v", err)
	}
}

func TestTOTPVerifyWindowAndReplay(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	secret := f.enabled(t)
	now := t0.Add(10 * time.Minute)
	f.clk.Set(now)

	check := func(name string, c string, want Outcome) {
		t.Helper()
		got, err := f.svc.Verify(ctx, f.user, c)
		if err != nil || got != want {
			t.Fatalf("%s: got %v, %v; want %v", name, got, err, want)
		}
	}
	check("two steps old", code(t, secret, now.Add(-60*time.Second)), Rejected)
	check("two steps ahead", code(t, secret, now.Add(60*time.Second)), Rejected)
	check("malformed", "12345", Rejected)
	check("letters", "12a456", Rejected)
	check("previous step", code(t, secret, now.Add(-30*time.Second)), Accepted)
	check("previous step again", code(t, secret, now.Add(-30*time.Second)), Replayed)
	check("current step", code(t, secret, now), Accepted)
	check("current step replayed", code(t, secret, now), Replayed)
	check("next step", code(t, secret, now.Add(30*time.Second)), Accepted)
	// After the next step was used, the current one is older than the last use.
	f.clk.Set(now.Add(30 * time.Second))
	check("next step, replayed a step later", code(t, secret, now.Add(30*time.Second)), Replayed)
	f.clk.Set(now.Add(60 * time.Second))
	check("new step", code(t, secret, now.Add(60*time.Second)), Accepted)
}

func TestTOTPConcurrentUseOneWins(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	secret := f.enabled(t)
	now := t0.Add(5 * time.Minute)
	f.clk.Set(now)
	c := code(t, secret, now)
	const n = 32
	var wg sync.WaitGroup
	results := make(chan Outcome, n)
	for range n {
		wg.Go(func() {
			out, err := f.svc.Verify(ctx, f.user, c)
			if err != nil {
				t.Error(err)
			}
			results <- out
		})
	}
	wg.Wait()
	close(results)
	accepted := 0
	for out := range results {
		if out == Accepted {
			accepted++
		} else if out != Replayed {
			t.Errorf("outcome %v", out)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d concurrent uses accepted, want 1", accepted, n)
	}
}

func TestTOTPKeyRotation(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	secret := f.enabled(t)
	rec, _, _ := f.store.TOTP(ctx, f.user)
	if s, _ := parseSealed(rec.SealedSeed); s.keyVersion != 1 {
		t.Fatalf("sealed with v%d", s.keyVersion)
	}
	f.keys.add() // v2 becomes current; v1 stays readable
	now := t0.Add(time.Minute)
	f.clk.Set(now)
	if out, err := f.svc.Verify(ctx, f.user, code(t, secret, now)); err != nil || out != Accepted {
		t.Fatalf("verify with v1 seed after adding v2 = %v, %v", out, err)
	}
	rec, _, _ = f.store.TOTP(ctx, f.user)
	if s, _ := parseSealed(rec.SealedSeed); s.keyVersion != 2 {
		t.Fatalf("seed not re-sealed with v2 (v%d)", s.keyVersion)
	}
	delete(f.keys.keys, 1) // v1 retired
	f.clk.Set(now.Add(30 * time.Second))
	if out, err := f.svc.Verify(ctx, f.user, code(t, secret, now.Add(30*time.Second))); err != nil || out != Accepted {
		t.Fatalf("verify after retiring v1 = %v, %v", out, err)
	}
	if ok, err := f.svc.RewrapSeed(ctx, f.user); ok || err != nil {
		t.Fatalf("rewrap of a current seed = %v, %v", ok, err)
	}
}

func TestTOTPDisable(t *testing.T) {
	f := newTOTPFixture(t)
	ctx := context.Background()
	secret := f.enabled(t)
	if ok, err := f.svc.Disable(ctx, f.user); !ok || err != nil {
		t.Fatalf("disable = %v, %v", ok, err)
	}
	if _, err := f.svc.Verify(ctx, f.user, code(t, secret, t0.Add(time.Minute))); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("verify after disable: %v", err)
	}
}

// RFC 6238 Appendix B, SHA-1 seed, truncated to six digits.
func TestHOTPVectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := hotp(seed, uint64(v.unix/30)); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.want)
		}
	}
}
