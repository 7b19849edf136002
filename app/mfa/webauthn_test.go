package mfa

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/gatehouse-id/gatehouse/app/mfa/webauthntest"
	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

var rp = virtualwebauthn.RelyingParty{ID: "example.com", Name: "Gatehouse", Origin: "https://auth.example.com"}

type waFixture struct {
	store *memStore
	clk   *clock
	svc   *WebAuthn
}

func newWAFixture(t *testing.T) *waFixture {
	t.Helper()
	f := &waFixture{store: newMemStore(), clk: &clock{t: t0}}
	svc, err := NewWebAuthn(f.store, WebAuthnConfig{RPID: rp.ID, RPDisplayName: rp.Name, RPOrigins: []string{rp.Origin}}, f.clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// device is a software authenticator holding one credential.
type device struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newDevice(user uuid.UUID, opts virtualwebauthn.AuthenticatorOptions) *device {
	opts.UserHandle = user[:]
	return &device{auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: webauthntest.NewEC2Credential()}
}

// register runs a registration ceremony answered by d as seen from party.
func (f *waFixture) register(t *testing.T, user uuid.UUID, d *device, party virtualwebauthn.RelyingParty) (WebAuthnCredential, error) {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginRegistration(ctx, user, "alice@example.com", "Alice")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		t.Fatal(err)
	}
	resp := virtualwebauthn.CreateAttestationResponse(party, d.auth, d.cred, *opts)
	return f.svc.FinishRegistration(ctx, user, c.ID, []byte(resp))
}

// assert answers a begun login ceremony with d as seen from party.
func assert(t *testing.T, c Ceremony, d *device, party virtualwebauthn.RelyingParty) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(party, d.auth, d.cred, *opts))
}

// login runs a second-factor login with counter set to counter.
func (f *waFixture) login(t *testing.T, user uuid.UUID, d *device, party virtualwebauthn.RelyingParty, counter uint32) AssertionResult {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginLogin(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	d.cred.Counter = counter
	res, err := f.svc.FinishLogin(ctx, user, c.ID, assert(t, c, d, party))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWebAuthnSecondFactor(t *testing.T) {
	f := newWAFixture(t)
	ctx := context.Background()
	user := uuid.New()
	if _, err := f.svc.BeginLogin(ctx, user); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("begin login without credentials: %v", err)
	}
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	rec, err := f.register(t, user, d, rp)
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.ID) != string(d.cred.ID) || rec.UserID != user {
		t.Fatal("stored credential does not match")
	}
	res := f.login(t, user, d, rp, 1)
	if !res.OK || res.UserID != user || !res.UserVerified || res.BackupEligible || res.PossibleClone {
		t.Fatalf("login: %+v", res)
	}
	amr, acr := Assurance(Authentication{Password: true}.FromAssertion(res))
	if acr != "aal2" || amr[1] != "hwk" {
		t.Fatalf("amr %v acr %s", amr, acr)
	}
	if res := f.login(t, user, d, rp, 2); !res.OK {
		t.Fatalf("second login: %+v", res)
	}
	stored, _, _ := f.store.WebAuthnCredential(ctx, d.cred.ID)
	if stored.SignCount != 2 || !stored.LastUsedAt.Equal(t0) {
		t.Fatalf("use not recorded: %+v", stored)
	}
	// A ceremony is for its user only.
	c, _ := f.svc.BeginLogin(ctx, user)
	d.cred.Counter = 3
	if res, err := f.svc.FinishLogin(ctx, uuid.New(), c.ID, assert(t, c, d, rp)); err != nil || res.OK {
		t.Fatalf("another user's ceremony: %+v %v", res, err)
	}
	if ok, _ := f.svc.DeleteCredential(ctx, uuid.New(), d.cred.ID); ok {
		t.Fatal("deleted another user's credential")
	}
	if ok, _ := f.svc.DeleteCredential(ctx, user, d.cred.ID); !ok {
		t.Fatal("delete failed")
	}
}

func TestWebAuthnWrongOriginAndRPID(t *testing.T) {
	f := newWAFixture(t)
	user := uuid.New()
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	evilOrigin := rp
	evilOrigin.Origin = "https://auth.example.com.evil.net"
	evilRP := rp
	evilRP.ID = "evil.net"
	if _, err := f.register(t, user, d, evilOrigin); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("registration from a wrong origin: %v", err)
	}
	if _, err := f.register(t, user, d, evilRP); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("registration for a wrong RP ID: %v", err)
	}
	if _, err := f.register(t, user, d, rp); err != nil {
		t.Fatal(err)
	}
	if res := f.login(t, user, d, evilOrigin, 1); res.OK {
		t.Fatal("assertion from a wrong origin accepted")
	}
	if res := f.login(t, user, d, evilRP, 2); res.OK {
		t.Fatal("assertion for a wrong RP ID accepted")
	}
	if res := f.login(t, user, d, rp, 3); !res.OK {
		t.Fatalf("good assertion refused: %+v", res)
	}
}

func TestWebAuthnReplayedChallenge(t *testing.T) {
	f := newWAFixture(t)
	ctx := context.Background()
	user := uuid.New()
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	if _, err := f.register(t, user, d, rp); err != nil {
		t.Fatal(err)
	}
	c, _ := f.svc.BeginLogin(ctx, user)
	d.cred.Counter = 1
	resp := assert(t, c, d, rp)
	if res, _ := f.svc.FinishLogin(ctx, user, c.ID, resp); !res.OK {
		t.Fatalf("first use: %+v", res)
	}
	if res, _ := f.svc.FinishLogin(ctx, user, c.ID, resp); res.OK || res.Reason != "unknown_ceremony" {
		t.Fatalf("replayed ceremony: %+v", res)
	}
	// The same signed response against a fresh ceremony: wrong challenge.
	c2, _ := f.svc.BeginLogin(ctx, user)
	if res, _ := f.svc.FinishLogin(ctx, user, c2.ID, resp); res.OK {
		t.Fatalf("replayed response: %+v", res)
	}
	// Expired ceremony.
	c3, _ := f.svc.BeginLogin(ctx, user)
	d.cred.Counter = 5
	resp3 := assert(t, c3, d, rp)
	f.clk.Set(t0.Add(6 * time.Minute))
	if res, _ := f.svc.FinishLogin(ctx, user, c3.ID, resp3); res.OK || res.Reason != "ceremony_expired" {
		t.Fatalf("expired ceremony: %+v", res)
	}
	// A registration ceremony cannot finish a login.
	f.clk.Set(t0)
	reg, _ := f.svc.BeginRegistration(ctx, user, "", "")
	if res, _ := f.svc.FinishLogin(ctx, user, reg.ID, resp3); res.OK || res.Reason != "ceremony_mismatch" {
		t.Fatalf("registration ceremony used for login: %+v", res)
	}
	// Concurrent finishes of one ceremony: one wins.
	c4, _ := f.svc.BeginLogin(ctx, user)
	d.cred.Counter = 9
	resp4 := assert(t, c4, d, rp)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			res, err := f.svc.FinishLogin(ctx, user, c4.ID, resp4)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if res.OK {
				wins++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent finishes succeeded", wins)
	}
}

func TestWebAuthnSignCountRegression(t *testing.T) {
	f := newWAFixture(t)
	ctx := context.Background()
	user := uuid.New()
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	if _, err := f.register(t, user, d, rp); err != nil {
		t.Fatal(err)
	}
	if res := f.login(t, user, d, rp, 5); !res.OK {
		t.Fatalf("login: %+v", res)
	}
	res := f.login(t, user, d, rp, 3)
	if res.OK || !res.PossibleClone {
		t.Fatalf("lowered sign count: %+v", res)
	}
	stored, _, _ := f.store.WebAuthnCredential(ctx, d.cred.ID)
	if !stored.CloneWarning || stored.SignCount != 5 {
		t.Fatalf("credential not flagged: %+v", stored)
	}
	if res := f.login(t, user, d, rp, 10); res.OK || !res.PossibleClone {
		t.Fatalf("flagged credential accepted: %+v", res)
	}
	// An equal, non-zero counter is a regression too.
	d2 := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	if _, err := f.register(t, user, d2, rp); err != nil {
		t.Fatal(err)
	}
	f.login(t, user, d2, rp, 7)
	if res := f.login(t, user, d2, rp, 7); res.OK || !res.PossibleClone {
		t.Fatalf("repeated sign count: %+v", res)
	}
}

func TestWebAuthnCredentialOwnedByAnotherUser(t *testing.T) {
	f := newWAFixture(t)
	alice, bob := uuid.New(), uuid.New()
	d := newDevice(alice, virtualwebauthn.AuthenticatorOptions{})
	if _, err := f.register(t, alice, d, rp); err != nil {
		t.Fatal(err)
	}
	// Bob presents a credential with alice's credential ID.
	if _, err := f.register(t, bob, d, rp); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("registering another user's credential ID: %v", err)
	}
	if _, err := f.register(t, alice, d, rp); !errs.Is(err, errs.KindConflict) {
		t.Fatalf("registering a credential twice: %v", err)
	}
	creds, _ := f.svc.Credentials(context.Background(), bob)
	if len(creds) != 0 {
		t.Fatal("bob got a credential")
	}
}

func TestWebAuthnBackupStateWithoutEligibility(t *testing.T) {
	f := newWAFixture(t)
	user := uuid.New()
	bad := newDevice(user, virtualwebauthn.AuthenticatorOptions{BackupState: true})
	if _, err := f.register(t, user, bad, rp); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("BS=1 BE=0 registration: %v", err)
	}
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	if _, err := f.register(t, user, d, rp); err != nil {
		t.Fatal(err)
	}
	d.auth.Options.BackupState = true
	if res := f.login(t, user, d, rp, 1); res.OK {
		t.Fatalf("BS=1 BE=0 assertion accepted: %+v", res)
	}
	// BE flipping after registration is refused as well.
	d.auth.Options.BackupEligible = true
	if res := f.login(t, user, d, rp, 2); res.OK {
		t.Fatalf("BE changed after registration accepted: %+v", res)
	}
}

func TestWebAuthnPasskeyLogin(t *testing.T) {
	f := newWAFixture(t)
	ctx := context.Background()
	alice, bob := uuid.New(), uuid.New()
	d := newDevice(alice, virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})
	if _, err := f.register(t, alice, d, rp); err != nil {
		t.Fatal(err)
	}
	passkey := func(d *device, party virtualwebauthn.RelyingParty) AssertionResult {
		t.Helper()
		c, err := f.svc.BeginPasskeyLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.FinishPasskeyLogin(ctx, c.ID, assert(t, c, d, party))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i := range 2 { // a synced passkey's counter stays 0
		res := passkey(d, rp)
		if !res.OK || res.UserID != alice || !res.UserVerified || !res.BackupEligible {
			t.Fatalf("passkey login %d: %+v", i, res)
		}
		amr, acr := Assurance(Authentication{}.FromAssertion(res))
		if acr != "aal2" || len(amr) != 2 || amr[0] != "swk" || amr[1] != "mfa" {
			t.Fatalf("amr %v acr %s", amr, acr)
		}
	}
	noUV := *d
	noUV.auth.Options.UserNotVerified = true
	if res := passkey(&noUV, rp); res.OK {
		t.Fatalf("passkey without UV accepted: %+v", res)
	}
	asBob := *d
	asBob.auth.Options.UserHandle = bob[:]
	if res := passkey(&asBob, rp); res.OK {
		t.Fatalf("alice's credential with bob's user handle accepted: %+v", res)
	}
	evil := rp
	evil.Origin = "https://evil.example.org"
	if res := passkey(d, evil); res.OK {
		t.Fatalf("passkey from a wrong origin accepted: %+v", res)
	}
	unknown := newDevice(alice, virtualwebauthn.AuthenticatorOptions{})
	if res := passkey(unknown, rp); res.OK {
		t.Fatalf("unregistered credential accepted: %+v", res)
	}
	// A second-factor ceremony is not a passkey ceremony.
	c, _ := f.svc.BeginLogin(ctx, alice)
	if res, _ := f.svc.FinishPasskeyLogin(ctx, c.ID, assert(t, c, d, rp)); res.OK {
		t.Fatal("second-factor ceremony finished a passkey login")
	}
}

// A P-256 key whose COSE x or y lacks its leading zero byte (31 bytes
// instead of 32) is refused: RFC 9053 §7.1.1 requires the full length.
// virtualwebauthn encodes keys that way about once in 128 draws, which
// is why the other tests use webauthntest.NewEC2Credential.
func TestWebAuthnShortCoordinateRefused(t *testing.T) {
	f := newWAFixture(t)
	user := uuid.New()
	d := newDevice(user, virtualwebauthn.AuthenticatorOptions{})
	for i := 0; ; i++ {
		d.cred = virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if !webauthntest.FullLengthCoordinates(d.cred) {
			break
		}
		if i == 100_000 {
			t.Fatal("no key with a short coordinate in 100,000 draws")
		}
	}
	if _, err := f.register(t, user, d, rp); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("a key with a 31-byte coordinate: %v", err)
	}
	d.cred = webauthntest.NewEC2Credential()
	if _, err := f.register(t, user, d, rp); err != nil {
		t.Fatalf("the same authenticator with a full-length key: %v", err)
	}
}
