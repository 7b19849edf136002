package store_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
	"github.com/gatehouse-id/gatehouse/app/store"
)

var _ mfa.Store = (*store.DB)(nil)

// mfaRegion is the region the MFA tests' store serves.
const mfaRegion = "asia-south1"

// newMFAFixture is newFixture whose store has Options.Region set and room
// for the concurrency tests' goroutines; it also returns the fixture's
// original store, opened without a region.
func newMFAFixture(t *testing.T) (*fixture, *store.DB) {
	t.Helper()
	f := newFixture(t, 24)
	db, err := store.Open(f.ctx, f.raw.Config().ConnString(),
		store.Options{MaxConns: 24, Region: mfaRegion, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	plain := f.db
	f.db = db
	return f, plain
}

// createUserIn creates a user homed in region.
func (f *fixture) createUserIn(email, region string) uuid.UUID {
	f.tb.Helper()
	u, h, c := f.newUser(email)
	u.HomeRegion, c.HomeRegion = region, region
	if err := f.db.CreateUser(f.ctx, u, h, c); err != nil {
		f.tb.Fatalf("create user %s: %v", email, err)
	}
	return u.ID
}

// homeRegion reads the home_region of the rows of table matching where.
func (f *fixture) homeRegion(table, where string, args ...any) string {
	f.tb.Helper()
	var r string
	if err := f.raw.QueryRow(f.ctx, `SELECT home_region FROM `+table+` WHERE `+where, args...).Scan(&r); err != nil {
		f.tb.Fatalf("home_region of %s: %v", table, err)
	}
	return r
}

// ok fails the test on err and returns ok.
func (f *fixture) ok(ok bool, err error) bool {
	f.tb.Helper()
	if err != nil {
		f.tb.Fatal(err)
	}
	return ok
}

// expect returns a check that a call's result is want; what names the
// expectation in the failure.
func (f *fixture) expect(want bool, what string) func(bool, error) {
	return func(ok bool, err error) {
		f.tb.Helper()
		if err != nil || ok != want {
			f.tb.Fatalf("%s: got %v (err %v), want %v", what, ok, err, want)
		}
	}
}

// race runs fn in n goroutines released at once and counts the trues.
func race(tb testing.TB, n int, fn func() (bool, error)) int {
	tb.Helper()
	var (
		wins  atomic.Int32
		wg    sync.WaitGroup
		start = make(chan struct{})
		errc  = make(chan error, n)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := fn()
			if err != nil {
				errc <- err
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		tb.Errorf("concurrent call: %v", err)
	}
	return int(wins.Load())
}

func TestTOTPStore(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("totp@example.com", "europe-west1")

	_, err := db.SavePendingTOTP(ctx, mfa.TOTPRecord{ID: uuid.New(), UserID: uuid.New(), SealedSeed: []byte("s"), CreatedAt: f.now})
	wantErr(t, err, errs.KindNotFound, "user_not_found")
	if _, ok, err := db.TOTP(ctx, uid); err != nil || ok {
		t.Fatalf("no enrolment yet: %v %v", ok, err)
	}

	first := mfa.TOTPRecord{ID: uuid.New(), UserID: uid, SealedSeed: []byte("seed-1"), LastStep: 5, CreatedAt: f.now}
	f.expect(true, "first pending enrolment refused")(db.SavePendingTOTP(ctx, first))
	if r := f.homeRegion("totp_enrolments", "user_id = $1", uid); r != "europe-west1" {
		t.Fatalf("home_region %q, want the user's", r)
	}
	f.expect(false, "confirm at a step <= LastStep must fail")(db.ConfirmTOTP(ctx, uid, first.ID, 5, f.now))
	second := mfa.TOTPRecord{ID: uuid.New(), UserID: uid, SealedSeed: []byte("seed-2"), CreatedAt: f.now.Add(time.Second)}
	f.expect(true, "a pending enrolment must be replaceable")(db.SavePendingTOTP(ctx, second))
	got, ok, err := db.TOTP(ctx, uid)
	if !f.ok(ok, err) || got.ID != second.ID || !bytes.Equal(got.SealedSeed, second.SealedSeed) || got.Confirmed ||
		got.LastStep != 0 || !got.CreatedAt.Equal(second.CreatedAt) || !got.ConfirmedAt.IsZero() {
		t.Fatalf("pending enrolment read back as %+v", got)
	}
	f.expect(false, "advance on a pending enrolment must fail")(db.AdvanceTOTPStep(ctx, uid, second.ID, 10))
	f.expect(false, "confirm of a replaced enrolment id must fail")(db.ConfirmTOTP(ctx, uid, first.ID, 10, f.now))
	at := f.now.Add(time.Minute)
	f.expect(true, "confirm refused")(db.ConfirmTOTP(ctx, uid, second.ID, 10, at))
	f.expect(false, "a second confirm must fail")(db.ConfirmTOTP(ctx, uid, second.ID, 11, at))
	got, _, _ = db.TOTP(ctx, uid)
	if !got.Confirmed || got.LastStep != 10 || !got.ConfirmedAt.Equal(at) {
		t.Fatalf("confirmed enrolment read back as %+v", got)
	}
	f.expect(false, "a pending enrolment must not replace a confirmed one")(db.SavePendingTOTP(ctx, mfa.TOTPRecord{ID: uuid.New(), UserID: uid, SealedSeed: []byte("x"), CreatedAt: f.now}))
	if got2, _, _ := db.TOTP(ctx, uid); got2.ID != second.ID || !bytes.Equal(got2.SealedSeed, second.SealedSeed) {
		t.Fatalf("refused SavePendingTOTP changed the enrolment: %+v", got2)
	}

	for _, c := range []struct {
		id   uuid.UUID
		step int64
		want bool
	}{{second.ID, 10, false}, {second.ID, 9, false}, {uuid.New(), 12, false}, {second.ID, 11, true}, {second.ID, 11, false}, {second.ID, 40, true}} {
		if ok := f.ok(db.AdvanceTOTPStep(ctx, uid, c.id, c.step)); ok != c.want {
			t.Fatalf("advance to %d with id %v: %v, want %v", c.step, c.id, ok, c.want)
		}
	}
	f.expect(false, "advance for another user must fail")(db.AdvanceTOTPStep(ctx, uuid.New(), second.ID, 100))

	f.expect(false, "seed swap from a stale value must fail")(db.ReplaceTOTPSeed(ctx, uid, second.ID, []byte("stale"), []byte("seed-3")))
	f.expect(false, "seed swap on another enrolment id must fail")(db.ReplaceTOTPSeed(ctx, uid, first.ID, second.SealedSeed, []byte("seed-3")))
	f.expect(true, "seed swap refused")(db.ReplaceTOTPSeed(ctx, uid, second.ID, second.SealedSeed, []byte("seed-3")))
	if got, _, _ := db.TOTP(ctx, uid); !bytes.Equal(got.SealedSeed, []byte("seed-3")) || got.LastStep != 40 {
		t.Fatalf("after swap: %+v", got)
	}

	f.expect(true, "first delete")(db.DeleteTOTP(ctx, uid))
	f.expect(false, "second delete")(db.DeleteTOTP(ctx, uid))
	if _, ok, err := db.TOTP(ctx, uid); err != nil || ok {
		t.Fatalf("deleted enrolment still read: %v %v", ok, err)
	}
}

func TestTOTPAdvanceConcurrent(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("race@example.com", "us-east1")
	id := uuid.New()
	f.ok(db.SavePendingTOTP(ctx, mfa.TOTPRecord{ID: id, UserID: uid, SealedSeed: []byte("s"), CreatedAt: f.now}))
	f.ok(db.ConfirmTOTP(ctx, uid, id, 100, f.now))
	for step := int64(101); step <= 103; step++ {
		if n := race(t, 20, func() (bool, error) { return db.AdvanceTOTPStep(ctx, uid, id, step) }); n != 1 {
			t.Fatalf("step %d: %d of 20 concurrent advances won, want exactly 1", step, n)
		}
	}
	if got, _, _ := db.TOTP(ctx, uid); got.LastStep != 103 {
		t.Fatalf("LastStep %d, want 103", got.LastStep)
	}
}

// codeSet makes a set of n distinct hashes for user uid.
func codeSet(uid uuid.UUID, n int, at time.Time) mfa.RecoveryCodeSet {
	set := mfa.RecoveryCodeSet{ID: uuid.New(), UserID: uid, Salt: []byte("salt-" + uuid.NewString()), CreatedAt: at}
	for i := range n {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", set.ID, i)))
		set.Hashes = append(set.Hashes, h[:])
	}
	return set
}

func TestRecoveryStore(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("recovery@example.com", "europe-west1")
	other := f.createUserIn("other@example.com", "us-east1")

	wantErr(t, db.ReplaceRecoveryCodes(ctx, codeSet(uuid.New(), 10, f.now)), errs.KindNotFound, "user_not_found")
	if _, ok, err := db.RecoveryCodes(ctx, uid); err != nil || ok {
		t.Fatalf("no set yet: %v %v", ok, err)
	}

	set := codeSet(uid, 10, f.now)
	if err := db.ReplaceRecoveryCodes(ctx, set); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.RecoveryCodes(ctx, uid)
	if !f.ok(ok, err) || got.ID != set.ID || got.UserID != uid || !bytes.Equal(got.Salt, set.Salt) ||
		!got.CreatedAt.Equal(set.CreatedAt) || got.Remaining != 10 || !slices.EqualFunc(got.Hashes, set.Hashes, bytes.Equal) {
		t.Fatalf("set read back as %+v", got)
	}
	if r := f.homeRegion("recovery_codes", "user_id = $1 LIMIT 1", uid); r != "europe-west1" {
		t.Fatalf("recovery_codes home_region %q", r)
	}
	if r := f.homeRegion("recovery_code_sets", "user_id = $1", uid); r != "europe-west1" {
		t.Fatalf("recovery_code_sets home_region %q", r)
	}

	f.expect(true, "consume refused")(db.ConsumeRecoveryCode(ctx, uid, set.ID, set.Hashes[3], f.now))
	for name, call := range map[string]func() (bool, error){
		"used again": func() (bool, error) { return db.ConsumeRecoveryCode(ctx, uid, set.ID, set.Hashes[3], f.now) },
		"wrong set":  func() (bool, error) { return db.ConsumeRecoveryCode(ctx, uid, uuid.New(), set.Hashes[4], f.now) },
		"wrong user": func() (bool, error) { return db.ConsumeRecoveryCode(ctx, other, set.ID, set.Hashes[4], f.now) },
		"wrong hash": func() (bool, error) { return db.ConsumeRecoveryCode(ctx, uid, set.ID, make([]byte, 32), f.now) },
	} {
		if f.ok(call()) {
			t.Fatalf("consume (%s) must fail", name)
		}
	}
	if got, _, _ := db.RecoveryCodes(ctx, uid); got.Remaining != 9 || len(got.Hashes) != 10 {
		t.Fatalf("after one use: remaining %d, %d hashes", got.Remaining, len(got.Hashes))
	}

	// A set with a repeated hash is refused as a whole: the old set stays.
	dup := codeSet(uid, 3, f.now)
	dup.Hashes[2] = dup.Hashes[1]
	wantErr(t, db.ReplaceRecoveryCodes(ctx, dup), errs.KindConflict, "")
	if got, _, _ := db.RecoveryCodes(ctx, uid); got.ID != set.ID || got.Remaining != 9 {
		t.Fatalf("a refused replace changed the set: %+v", got)
	}

	next := codeSet(uid, 10, f.now.Add(time.Hour))
	next.Hashes[5] = set.Hashes[5] // a hash shared with the old set
	if err := db.ReplaceRecoveryCodes(ctx, next); err != nil {
		t.Fatal(err)
	}
	f.expect(false, "a code of the replaced set must be refused")(db.ConsumeRecoveryCode(ctx, uid, set.ID, set.Hashes[5], f.now))
	if n := f.count(`SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND set_id = $2`, uid, set.ID); n != 0 {
		t.Fatalf("%d codes of the replaced set remain", n)
	}
	if got, _, _ := db.RecoveryCodes(ctx, uid); got.ID != next.ID || got.Remaining != 10 {
		t.Fatalf("new set read back as %+v", got)
	}
	f.expect(true, "new set's code refused")(db.ConsumeRecoveryCode(ctx, uid, next.ID, next.Hashes[5], f.now))

	f.expect(true, "first delete")(db.DeleteRecoveryCodes(ctx, uid))
	f.expect(false, "second delete")(db.DeleteRecoveryCodes(ctx, uid))
	if _, ok, err := db.RecoveryCodes(ctx, uid); err != nil || ok {
		t.Fatalf("deleted set still read: %v %v", ok, err)
	}
	if n := f.count(`SELECT count(*) FROM recovery_codes WHERE user_id = $1`, uid); n != 0 {
		t.Fatalf("%d codes remain after delete", n)
	}
}

func TestRecoveryConsumeConcurrent(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("race@example.com", "us-east1")
	set := codeSet(uid, 10, f.now)
	if err := db.ReplaceRecoveryCodes(ctx, set); err != nil {
		t.Fatal(err)
	}
	for _, h := range set.Hashes[:3] {
		if n := race(t, 20, func() (bool, error) { return db.ConsumeRecoveryCode(ctx, uid, set.ID, h, f.now) }); n != 1 {
			t.Fatalf("%d of 20 concurrent consumes won, want exactly 1", n)
		}
	}
	if got, _, _ := db.RecoveryCodes(ctx, uid); got.Remaining != 7 {
		t.Fatalf("remaining %d, want 7", got.Remaining)
	}
}

func TestWebAuthnCredentials(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	alice := f.createUserIn("alice@example.com", "europe-west1")
	bob := f.createUserIn("bob@example.com", "us-east1")

	c := mfa.WebAuthnCredential{ID: []byte("cred-1"), UserID: alice, PublicKey: []byte("cose"), AttestationType: "none",
		AttestationFormat: "packed", Transports: []string{"usb", "nfc"}, AAGUID: bytes.Repeat([]byte{7}, 16), Flags: 0x5d,
		SignCount: 5, Attachment: "cross-platform", CreatedAt: f.now}
	f.expect(true, "add refused")(db.AddWebAuthnCredential(ctx, c))
	if r := f.homeRegion("webauthn_credentials", "id = $1", c.ID); r != "europe-west1" {
		t.Fatalf("home_region %q", r)
	}
	taken := mfa.WebAuthnCredential{ID: []byte("cred-1"), UserID: bob, PublicKey: []byte("evil"), CreatedAt: f.now}
	f.expect(false, "an ID owned by another user must be refused")(db.AddWebAuthnCredential(ctx, taken))
	got, ok, err := db.WebAuthnCredential(ctx, c.ID)
	if !f.ok(ok, err) {
		t.Fatal("credential not found")
	}
	if got.UserID != alice || !bytes.Equal(got.PublicKey, c.PublicKey) || got.AttestationType != "none" ||
		got.AttestationFormat != "packed" || !slices.Equal(got.Transports, c.Transports) || !bytes.Equal(got.AAGUID, c.AAGUID) ||
		got.Flags != 0x5d || got.SignCount != 5 || got.CloneWarning || got.Attachment != "cross-platform" ||
		!got.CreatedAt.Equal(f.now) || !got.LastUsedAt.IsZero() {
		t.Fatalf("credential read back as %+v", got)
	}
	_, err = db.AddWebAuthnCredential(ctx, mfa.WebAuthnCredential{ID: []byte("x"), UserID: uuid.New(), PublicKey: []byte("k"), CreatedAt: f.now})
	wantErr(t, err, errs.KindNotFound, "user_not_found")
	if _, ok, err := db.WebAuthnCredential(ctx, []byte("nope")); err != nil || ok {
		t.Fatalf("unknown credential: %v %v", ok, err)
	}

	zero := mfa.WebAuthnCredential{ID: []byte("cred-0"), UserID: alice, PublicKey: []byte("k0"), SignCount: 0, CreatedAt: f.now}
	big := mfa.WebAuthnCredential{ID: []byte("cred-b"), UserID: bob, PublicKey: []byte("kb"), SignCount: 1<<32 - 2, CreatedAt: f.now}
	f.ok(db.AddWebAuthnCredential(ctx, zero))
	f.ok(db.AddWebAuthnCredential(ctx, big))
	list, err := db.WebAuthnCredentials(ctx, alice)
	if err != nil || len(list) != 2 || !bytes.Equal(list[0].ID, zero.ID) || !bytes.Equal(list[1].ID, c.ID) || list[0].Transports != nil {
		t.Fatalf("alice's credentials: %+v %v", list, err)
	}
	if list, err := db.WebAuthnCredentials(ctx, uuid.New()); err != nil || len(list) != 0 {
		t.Fatalf("credentials of nobody: %v %v", list, err)
	}

	use := func(user uuid.UUID, id []byte, count uint32) bool {
		return f.ok(db.RecordWebAuthnUse(ctx, mfa.WebAuthnUse{UserID: user, CredentialID: id, SignCount: count, Flags: 0x05, At: f.now}))
	}
	for _, s := range []struct {
		user  uuid.UUID
		id    []byte
		count uint32
		want  bool
	}{
		{alice, c.ID, 5, false}, {alice, c.ID, 4, false}, {alice, c.ID, 0, false}, {bob, c.ID, 9, false},
		{alice, c.ID, 6, true}, {alice, c.ID, 6, false},
		{alice, zero.ID, 0, true}, {alice, zero.ID, 0, true}, {alice, zero.ID, 3, true}, {alice, zero.ID, 0, false},
		{bob, big.ID, 1<<32 - 1, true}, {bob, big.ID, 1<<32 - 1, false},
	} {
		if got := use(s.user, s.id, s.count); got != s.want {
			t.Fatalf("use of %s at %d by %v: %v, want %v", s.id, s.count, s.user, got, s.want)
		}
	}
	got, _, _ = db.WebAuthnCredential(ctx, c.ID)
	if got.SignCount != 6 || got.Flags != 0x05 || !got.LastUsedAt.Equal(f.now) {
		t.Fatalf("after use: %+v", got)
	}
	if got, _, _ := db.WebAuthnCredential(ctx, big.ID); got.SignCount != 1<<32-1 {
		t.Fatalf("uint32 counter read back as %d", got.SignCount)
	}

	if err := db.MarkWebAuthnClone(ctx, bob, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := db.WebAuthnCredential(ctx, c.ID); got.CloneWarning {
		t.Fatal("another user flagged alice's credential")
	}
	if err := db.MarkWebAuthnClone(ctx, alice, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := db.WebAuthnCredential(ctx, c.ID); !got.CloneWarning {
		t.Fatal("clone warning not set")
	}
	if use(alice, c.ID, 100) {
		t.Fatal("a flagged credential must be refused")
	}

	f.expect(false, "another user deleted alice's credential")(db.DeleteWebAuthnCredential(ctx, bob, c.ID))
	f.expect(true, "first delete")(db.DeleteWebAuthnCredential(ctx, alice, c.ID))
	f.expect(false, "second delete")(db.DeleteWebAuthnCredential(ctx, alice, c.ID))
	f.expect(true, "a deleted credential's ID should be free again")(db.AddWebAuthnCredential(ctx, taken))
}

func TestWebAuthnCeremonies(t *testing.T) {
	f, noRegion := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("ceremony@example.com", "europe-west1")
	data := []byte(`{"challenge":"abc","user_id":"x","z":1, "a":2}`)

	c := mfa.WebAuthnCeremony{ID: "cer-user", UserID: uid, Purpose: mfa.PurposeRegister, Data: data, ExpiresAt: f.now.Add(5 * time.Minute)}
	if err := db.SaveWebAuthnCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	if r := f.homeRegion("webauthn_ceremonies", "id = $1", c.ID); r != "europe-west1" {
		t.Fatalf("home_region %q, want the user's", r)
	}
	wantErr(t, db.SaveWebAuthnCeremony(ctx, c), errs.KindConflict, "")
	got, ok, err := db.TakeWebAuthnCeremony(ctx, c.ID)
	if !f.ok(ok, err) || got.ID != c.ID || got.UserID != uid || got.Purpose != c.Purpose ||
		!bytes.Equal(got.Data, data) || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("ceremony taken as %+v", got)
	}
	if _, ok, err := db.TakeWebAuthnCeremony(ctx, c.ID); err != nil || ok {
		t.Fatalf("a ceremony must be taken once: %v %v", ok, err)
	}

	pk := mfa.WebAuthnCeremony{ID: "cer-passkey", Purpose: mfa.PurposePasskey, Data: data, ExpiresAt: f.now.Add(time.Minute)}
	if err := db.SaveWebAuthnCeremony(ctx, pk); err != nil {
		t.Fatal(err)
	}
	if r := f.homeRegion("webauthn_ceremonies", "id = $1 AND user_id IS NULL", pk.ID); r != mfaRegion {
		t.Fatalf("passwordless ceremony homed in %q, want Options.Region", r)
	}
	if got, ok, err := db.TakeWebAuthnCeremony(ctx, pk.ID); !f.ok(ok, err) || got.UserID != uuid.Nil {
		t.Fatalf("passwordless ceremony taken as %+v", got)
	}

	err = db.SaveWebAuthnCeremony(ctx, mfa.WebAuthnCeremony{ID: "cer-ghost", UserID: uuid.New(), Purpose: mfa.PurposeLogin,
		Data: data, ExpiresAt: f.now.Add(time.Minute)})
	wantErr(t, err, errs.KindNotFound, "user_not_found")
	err = db.SaveWebAuthnCeremony(ctx, mfa.WebAuthnCeremony{ID: "cer-bad", UserID: uid, Purpose: "other", Data: data, ExpiresAt: f.now})
	wantErr(t, err, errs.KindInvalid, "")

	if err := noRegion.SaveWebAuthnCeremony(ctx, pk); err == nil {
		t.Fatal("a ceremony without a user needs Options.Region")
	}

	expired := mfa.WebAuthnCeremony{ID: "cer-old", UserID: uid, Purpose: mfa.PurposeLogin, Data: data, ExpiresAt: time.Now().Add(-time.Second)}
	if err := db.SaveWebAuthnCeremony(ctx, expired); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.TakeWebAuthnCeremony(ctx, expired.ID); err != nil || ok {
		t.Fatalf("an expired ceremony must not be returned: %v %v", ok, err)
	}

	for i := range 3 {
		old := mfa.WebAuthnCeremony{ID: fmt.Sprintf("cer-purge-%d", i), Purpose: mfa.PurposeLogin, Data: data, ExpiresAt: f.now.Add(-time.Hour)}
		if err := db.SaveWebAuthnCeremony(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SaveWebAuthnCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeWebAuthnCeremonies(ctx, f.now, 2); err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if n, err := db.PurgeWebAuthnCeremonies(ctx, f.now, 2); err != nil || n != 1 {
		t.Fatalf("second purge: %d %v", n, err)
	}
	if n := f.count(`SELECT count(*) FROM webauthn_ceremonies`); n != 1 {
		t.Fatalf("purge left %d ceremonies, want the live one", n)
	}
}

func TestWebAuthnTakeConcurrent(t *testing.T) {
	f, _ := newMFAFixture(t)
	ctx, db := f.ctx, f.db
	uid := f.createUserIn("race@example.com", "us-east1")
	for i := range 3 {
		c := mfa.WebAuthnCeremony{ID: fmt.Sprintf("cer-%d", i), UserID: uid, Purpose: mfa.PurposeLogin,
			Data: []byte(`{}`), ExpiresAt: f.now.Add(time.Minute)}
		if i == 2 {
			c.UserID = uuid.Nil
		}
		if err := db.SaveWebAuthnCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		n := race(t, 20, func() (bool, error) {
			_, ok, err := db.TakeWebAuthnCeremony(ctx, c.ID)
			return ok, err
		})
		if n != 1 {
			t.Fatalf("%d of 20 concurrent takes got ceremony %s, want exactly 1", n, c.ID)
		}
	}
}
