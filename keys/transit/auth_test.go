package transit

import (
	"crypto"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/keys"
)

// testClock is a clock the test moves; the fake Vault and the Source share it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const saJWT = "eyJhbGciOiJSUzI1NiJ9.service-account.sig"

// k8sSetup is a fake Vault with the keys in place, no static token, a
// Kubernetes role "gatehouse" bound to saJWT, and a Source logging in with it.
func k8sSetup(t *testing.T) (*fakeVault, *Source, *testClock) {
	t.Helper()
	cleanEnv(t)
	clock := &testClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	f := newFakeVault(t, "")
	f.now = clock.Now
	f.lease = time.Hour
	f.k8sRoles["gatehouse"] = saJWT
	f.addKey(DefaultPepperKey, "hmac", true)
	f.addKey(DefaultSigningKey, "ecdsa-p256", true)
	jwtFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(jwtFile, []byte(saJWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Address: f.URL(), Timeout: 2 * time.Second, Now: clock.Now,
		Auth: Auth{Method: AuthKubernetes, Role: "gatehouse", JWTFile: jwtFile}})
	if err != nil {
		t.Fatal(err)
	}
	return f, s, clock
}

func countRequests(f *fakeVault, prefix string) int {
	n := 0
	for _, r := range f.log() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func TestKubernetesLogin(t *testing.T) {
	f, s, _ := k8sSetup(t)
	t.Setenv("VAULT_TOKEN", "hvs.from-the-environment") // must not be used
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	logins, _ := f.counts()
	if logins != 1 {
		t.Fatalf("logins = %d, want 1", logins)
	}
	log := f.log()
	if len(log) == 0 || log[0] != "PUT /v1/auth/kubernetes/login" && log[0] != "POST /v1/auth/kubernetes/login" {
		t.Fatalf("first request %v, want the Kubernetes login", log)
	}
	// A second load reuses the token.
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 1 {
		t.Errorf("logins after a second load = %d, want 1", logins)
	}
}

func TestKubernetesLoginRefused(t *testing.T) {
	cleanEnv(t)
	f := newFakeVault(t, "")
	f.k8sRoles["gatehouse"] = saJWT
	f.addKey(DefaultPepperKey, "hmac", true)
	f.addKey(DefaultSigningKey, "ecdsa-p256", true)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("another-jwt"), 0o600)
	for name, auth := range map[string]Auth{
		"unbound jwt":  {Method: AuthKubernetes, Role: "gatehouse", JWTFile: wrong},
		"unknown role": {Method: AuthKubernetes, Role: "nobody", JWTFile: wrong},
		"no jwt file":  {Method: AuthKubernetes, Role: "gatehouse", JWTFile: filepath.Join(dir, "absent")},
	} {
		s, err := New(Config{Address: f.URL(), Timeout: 2 * time.Second, Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(t.Context()); err == nil {
			t.Errorf("%s: Load succeeded", name)
		} else if strings.Contains(err.Error(), saJWT) {
			t.Errorf("%s: error quotes the JWT: %v", name, err)
		}
	}
	if n := countRequests(f, "GET /v1/transit/export"); n != 0 {
		t.Errorf("%d exports without a login", n)
	}
}

func TestAuthConfigErrors(t *testing.T) {
	cleanEnv(t)
	for name, auth := range map[string]Auth{
		"k8s without role":       {Method: AuthKubernetes},
		"approle without secret": {Method: AuthAppRole, RoleID: "r"},
		"unknown method":         {Method: "ldap"},
		"bad mount":              {Method: AuthKubernetes, Role: "r", Mount: "//"},
	} {
		if _, err := New(Config{Address: "http://127.0.0.1:1", Auth: auth}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestAppRoleLogin(t *testing.T) {
	cleanEnv(t)
	f := newFakeVault(t, "")
	f.appRoles["role-1234"] = "secret-5678"
	f.addKey(DefaultPepperKey, "hmac", true)
	f.addKey(DefaultSigningKey, "ecdsa-p256", true)
	file := filepath.Join(t.TempDir(), "secret-id")
	os.WriteFile(file, []byte("secret-5678"), 0o600)
	s, err := New(Config{Address: f.URL(), Auth: Auth{Method: AuthAppRole, RoleID: "role-1234", SecretIDFile: file}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if countRequests(f, "PUT /v1/auth/approle/login")+countRequests(f, "POST /v1/auth/approle/login") != 1 {
		t.Errorf("requests %v, want one AppRole login", f.log())
	}
	os.WriteFile(file, []byte("wrong"), 0o600)
	f.revokeAll()
	if _, err := s.Load(t.Context()); err == nil {
		t.Error("Load with a revoked token and a wrong secret id succeeded")
	}
}

func TestRenewalBeforeExpiry(t *testing.T) {
	f, s, clock := k8sSetup(t)
	ctx := t.Context()
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Before half the lease: no renewal.
	clock.Add(20 * time.Minute)
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, renewals := f.counts(); renewals != 0 {
		t.Fatalf("renewed after 20 min of a 1 h lease")
	}
	// Past half the lease: renewed, same token, no new login.
	clock.Add(20 * time.Minute)
	tok := s.session.current()
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	logins, renewals := f.counts()
	if renewals != 1 || logins != 1 {
		t.Fatalf("logins %d renewals %d, want 1 and 1", logins, renewals)
	}
	if s.session.current() != tok {
		t.Error("renewal changed the token")
	}
	// 70 min after the login the original lease is over; the renewed one is not.
	clock.Add(30 * time.Minute)
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 1 {
		t.Errorf("logged in again although the renewed token lives: %d logins", logins)
	}
}

func TestReloginAfterRevokedToken(t *testing.T) {
	f, s, _ := k8sSetup(t)
	ctx := t.Context()
	if _, err := s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	old := s.session.current()
	f.revokeAll() // vault token revoke
	if _, err := s.Load(ctx); err != nil {
		t.Fatalf("Load after revocation: %v", err)
	}
	if logins, _ := f.counts(); logins != 2 {
		t.Errorf("logins = %d, want 2 (a re-login)", logins)
	}
	if s.session.current() == old {
		t.Error("still the revoked token")
	}
	// A rotate after another revocation also goes through, exactly once.
	f.revokeAll()
	before := f.key(DefaultPepperKey).latest
	if err := s.Rotate(ctx, keys.PurposePepper); err != nil {
		t.Fatal(err)
	}
	if got := f.key(DefaultPepperKey).latest; got != before+1 {
		t.Errorf("pepper went from version %d to %d, want one rotation", before, got)
	}
}

func TestReloginAfterExpiry(t *testing.T) {
	f, s, clock := k8sSetup(t)
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour) // nothing renewed it: expired
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 2 {
		t.Errorf("logins = %d, want 2", logins)
	}
}

// TestVaultOutageDuringRenewal: Vault is down when the renewal is due. The
// server's keys stay in memory (keys.Ring keeps the last good set), so
// password hashing and token signing go on; when Vault is back the token is
// renewed, or replaced by a login if it expired meanwhile.
func TestVaultOutageDuringRenewal(t *testing.T) {
	f, s, clock := k8sSetup(t)
	ctx := t.Context()
	ring, err := keys.NewRing(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	pepper, signer := ring.Pepper(), ring.Signer()

	clock.Add(40 * time.Minute) // renewal due
	f.setSealed(true)
	err = ring.Reload(ctx)
	if err == nil {
		t.Fatal("Reload succeeded with Vault down")
	}
	var ve *Error
	if !errors.As(err, &ve) || ve.Status != 503 {
		t.Errorf("error %v, want Vault's 503", err)
	}
	// Logins go on: the same pepper and signing key are at hand.
	if got := ring.Pepper(); got.Version != pepper.Version || string(got.Key) != string(pepper.Key) {
		t.Error("the pepper changed during the outage")
	}
	if got := ring.Signer(); got.KID() != signer.KID() {
		t.Error("the signing key changed during the outage")
	}
	if _, err := ring.Signer().Private.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); err != nil {
		t.Errorf("cannot sign during the outage: %v", err)
	}

	// Back within the lease: a renewal, no login.
	f.setSealed(false)
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if logins, renewals := f.counts(); logins != 1 || renewals != 1 {
		t.Errorf("logins %d renewals %d after the outage, want 1 and 1", logins, renewals)
	}

	// A longer outage, past the token's expiry: a login when Vault is back.
	clock.Add(40 * time.Minute)
	f.setSealed(true)
	clock.Add(2 * time.Hour)
	if ring.Reload(ctx) == nil {
		t.Fatal("Reload succeeded with Vault down")
	}
	if ring.Pepper().Version != pepper.Version {
		t.Error("lost the pepper")
	}
	f.setSealed(false)
	if err := ring.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 2 {
		t.Errorf("logins = %d, want 2", logins)
	}
}
