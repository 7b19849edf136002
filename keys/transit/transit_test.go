package transit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/keys"
)

const testToken = "hvs.test-token"

// cleanEnv keeps the developer's or CI's Vault settings out of the tests.
func cleanEnv(t *testing.T) {
	for _, v := range []string{
		"VAULT_ADDR", "VAULT_AGENT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH",
		"VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "VAULT_SKIP_VERIFY", "VAULT_MAX_RETRIES", "VAULT_HEADERS",
		"VAULT_CLIENT_TIMEOUT", "VAULT_RATE_LIMIT", "VAULT_SRV_LOOKUP", "VAULT_TLS_SERVER_NAME",
	} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func newSource(t *testing.T, addr, token string) *Source {
	t.Helper()
	s, err := New(Config{Address: addr, Token: token, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setup(t *testing.T) (*fakeVault, *Source) {
	cleanEnv(t)
	f := newFakeVault(t, testToken)
	return f, newSource(t, f.URL(), testToken)
}

func versions(s *keys.Set) (peppers, signing []int) {
	for _, p := range s.Peppers {
		peppers = append(peppers, p.Version)
	}
	for _, k := range s.Signing {
		signing = append(signing, k.Version)
	}
	return
}

func TestInitIdempotentAndLoad(t *testing.T) {
	f, s := setup(t)
	ctx := t.Context()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	pk, sk := f.key(DefaultPepperKey), f.key(DefaultSigningKey)
	if pk == nil || sk == nil {
		t.Fatal("Init did not create both keys")
	}
	if pk.typ != "hmac" || !pk.exportable || pk.keySize != 32 {
		t.Errorf("pepper key is %+v, want exportable hmac of 32 bytes", pk)
	}
	if sk.typ != "ecdsa-p256" || !sk.exportable {
		t.Errorf("signing key is %+v, want exportable ecdsa-p256", sk)
	}
	first, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Init(ctx); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	if pk.latest != 1 || sk.latest != 1 {
		t.Errorf("second Init changed the keys: versions %d, %d", pk.latest, sk.latest)
	}
	writes := 0
	for _, r := range f.log() {
		if strings.HasPrefix(r, "PUT") || strings.HasPrefix(r, "POST") {
			writes++
		}
	}
	if writes != 2 {
		t.Errorf("%d writes for two Inits, want 2 (one create per key): %v", writes, f.log())
	}

	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, g := versions(set)
	if !slices.Equal(p, []int{1}) || !slices.Equal(g, []int{1}) {
		t.Fatalf("versions %v %v, want one of each", p, g)
	}
	if !bytes.Equal(set.Pepper().Key, pk.versions[1].key) || len(set.Pepper().Key) != 32 {
		t.Error("pepper is not Vault's hmac key")
	}
	if !bytes.Equal(set.Pepper().Key, first.Pepper().Key) {
		t.Error("pepper changed between loads")
	}
	if !set.Signer().Private.Equal(sk.versions[1].ec) {
		t.Error("signing key is not Vault's")
	}
	if kid := set.Signer().KID(); kid != "gatehouse-signing-v1" {
		t.Errorf("kid %q, want gatehouse-signing-v1", kid)
	}
	for _, r := range f.log() {
		if !strings.HasPrefix(r, "GET /v1/transit/") && !strings.HasPrefix(r, "PUT /v1/transit/keys/") {
			t.Errorf("unexpected request %s", r)
		}
	}
}

func TestRotate(t *testing.T) {
	f, s := setup(t)
	ctx := t.Context()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(ctx, keys.PurposePepper); err != nil {
		t.Fatal(err)
	}
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, g := versions(set)
	if !slices.Equal(p, []int{1, 2}) || !slices.Equal(g, []int{1}) {
		t.Fatalf("after rotating the pepper: versions %v %v", p, g)
	}
	if set.Pepper().Version != 2 {
		t.Fatalf("current pepper v%d, want 2", set.Pepper().Version)
	}
	v1, ok := set.PepperVersion(1)
	if !ok || !bytes.Equal(v1.Key, before.Pepper().Key) {
		t.Fatal("pepper v1 missing or changed after rotation")
	}
	if bytes.Equal(set.Pepper().Key, v1.Key) {
		t.Fatal("v2 pepper equals v1")
	}
	if !bytes.Equal(set.Pepper().Key, f.key(DefaultPepperKey).versions[2].key) {
		t.Fatal("pepper v2 is not Vault's")
	}

	if err := s.Rotate(ctx, keys.PurposeSigning); err != nil {
		t.Fatal(err)
	}
	set, err = s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid := set.Signer().KID(); kid != "gatehouse-signing-v2" {
		t.Fatalf("signer %s after rotation, want v2", kid)
	}
	if k, ok := set.SigningKeyByKID("gatehouse-signing-v1"); !ok || !k.Private.Equal(before.Signer().Private) {
		t.Fatal("signing v1 missing or changed after rotation")
	}
	if err := s.Rotate(ctx, keys.Purpose("tls")); err == nil {
		t.Fatal("rotated an unknown purpose")
	}
}

func TestMinDecryptionVersionRetires(t *testing.T) {
	f, s := setup(t)
	ctx := t.Context()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Rotate(ctx, keys.PurposePepper); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	f.keys[DefaultPepperKey].minDecryption = 2
	f.mu.Unlock()
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := versions(set); !slices.Equal(p, []int{2, 3}) {
		t.Fatalf("live peppers %v, want [2 3] with min_decryption_version 2", p)
	}
}

func TestPKCS8Export(t *testing.T) {
	f, s := setup(t)
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.pkcs8 = true
	f.mu.Unlock()
	set, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !set.Signer().Private.Equal(f.key(DefaultSigningKey).versions[1].ec) {
		t.Fatal("PKCS #8 export parsed to a different key")
	}
}

func TestLoadBeforeInit(t *testing.T) {
	_, s := setup(t)
	_, err := s.Load(t.Context())
	if !errors.Is(err, keys.ErrNotInitialized) {
		t.Fatalf("Load before Init: %v, want ErrNotInitialized", err)
	}
	if !strings.Contains(err.Error(), "gatehouse keys init") || !strings.Contains(err.Error(), DefaultPepperKey) {
		t.Errorf("unhelpful error: %v", err)
	}
	if err := s.Rotate(t.Context(), keys.PurposeSigning); !errors.Is(err, keys.ErrNotInitialized) {
		t.Fatalf("Rotate before Init: %v, want ErrNotInitialized", err)
	}
}

func TestWrongToken(t *testing.T) {
	f, s := setup(t)
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	bad := newSource(t, f.URL(), "hvs.wrong")
	for name, op := range map[string]func() error{
		"Load":   func() error { _, err := bad.Load(t.Context()); return err },
		"Init":   func() error { return bad.Init(t.Context()) },
		"Rotate": func() error { return bad.Rotate(t.Context(), keys.PurposePepper) },
	} {
		err := op()
		if !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("%s with a wrong token: %v, want ErrPermissionDenied", name, err)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"403", "permission denied", "token", "gatehouse-policy.hcl"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q does not mention %q", name, msg, want)
			}
		}
		if strings.Contains(msg, "hvs.wrong") {
			t.Errorf("%s: error quotes the token", name)
		}
	}
}

func TestInitRefusesUnfitExistingKeys(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		name, key, typ string
		exportable     bool
		want           []string
	}{
		{"pepper of the wrong type", DefaultPepperKey, "aes256-gcm96", true, []string{`type "aes256-gcm96"`, `"hmac"`}},
		{"signing key of the wrong type", DefaultSigningKey, "hmac", true, []string{`type "hmac"`, `"ecdsa-p256"`}},
		{"pepper not exportable", DefaultPepperKey, "hmac", false, []string{"not exportable", "exportable=true", "transit/keys/gatehouse-pepper/config"}},
		{"signing key not exportable", DefaultSigningKey, "ecdsa-p256", false, []string{"not exportable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVault(t, testToken)
			s := newSource(t, f.URL(), testToken)
			k := f.addKey(tc.key, tc.typ, tc.exportable)
			err := s.Init(t.Context())
			if err == nil {
				t.Fatal("Init accepted an unfit key")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if k.latest != 1 || k.typ != tc.typ {
				t.Error("Init changed the existing key")
			}
			// Load refuses it too: an ecdsa key used as pepper would
			// otherwise silently export its secondary HMAC key.
			if _, err := s.Load(t.Context()); err == nil {
				t.Error("Load accepted an unfit key")
			}
		})
	}
}

func TestVaultDown(t *testing.T) {
	f, s := setup(t)
	ctx := t.Context()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := keys.NewRing(ctx, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	before := r.Current()
	f.srv.Close()

	start := time.Now()
	_, err = s.Load(ctx)
	if err == nil {
		t.Fatal("Load with Vault down succeeded")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Load with Vault down took %v (retries?)", time.Since(start))
	}
	var ve *Error
	if !errors.As(err, &ve) || ve.Status != 0 || !strings.Contains(err.Error(), "cannot reach Vault at "+f.URL()) {
		t.Errorf("error %v, want a clear unreachable error", err)
	}
	if err := r.Reload(ctx); err == nil {
		t.Fatal("Ring reload with Vault down succeeded")
	}
	if r.Current() != before {
		t.Fatal("Ring dropped its keys when Vault went down")
	}
	if r.Pepper().Version != 1 || r.Signer().KID() != "gatehouse-signing-v1" {
		t.Fatal("Ring no longer serves the keys")
	}

	// Nor does NewRing start without Vault.
	if _, err := keys.NewRing(ctx, s, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("NewRing succeeded with Vault down")
	}
}

func TestVaultErrorsAreClear(t *testing.T) {
	f, s := setup(t)
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A wrong mount: Vault answers 404 with "no handler for route".
	other, err := New(Config{Address: f.URL(), Token: testToken, Mount: "/kv/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Load(t.Context()); !errors.Is(err, keys.ErrNotInitialized) || !strings.Contains(err.Error(), `"kv/"`) {
		t.Errorf("Load on a wrong mount: %v", err)
	}
	if err := other.Init(t.Context()); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no handler for route") {
		t.Errorf("Init on a wrong mount: %v", err)
	}
}

func TestLoadRejectsBadMaterial(t *testing.T) {
	f, s := setup(t)
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Vault exports an empty string for a version without private key
	// material (an imported public key).
	f.mu.Lock()
	f.keys[DefaultSigningKey].versions[1].publicOnly = true
	f.mu.Unlock()
	if _, err := s.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "no private key material") {
		t.Fatalf("Load with a public-only signing key: %v", err)
	}
	f.mu.Lock()
	f.keys[DefaultSigningKey].versions[1].publicOnly = false
	f.mu.Unlock()
	// A short pepper (an imported key) fails validation.
	f.mu.Lock()
	f.keys[DefaultPepperKey].versions[1].key = []byte("short")
	f.mu.Unlock()
	_, err := s.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "pepper version 1 is 5 bytes") {
		t.Fatalf("Load with a 5-byte pepper: %v", err)
	}
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("short"))) {
		t.Fatal("error quotes the pepper")
	}
}

func TestNewConfig(t *testing.T) {
	cleanEnv(t)
	if _, err := New(Config{Address: "http://127.0.0.1:8200"}); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("New without a token: %v", err)
	}
	t.Setenv("VAULT_TOKEN", "hvs.from-env")
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:8201")
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.client.Token() != "hvs.from-env" || s.addr != "http://127.0.0.1:8201" || s.mount != "transit" ||
		s.pepperKey != DefaultPepperKey || s.signingKey != DefaultSigningKey {
		t.Errorf("defaults: %+v", s)
	}
	if s.client.MaxRetries() != 0 {
		t.Errorf("client retries %d times, want 0", s.client.MaxRetries())
	}
	s, err = New(Config{Address: "http://127.0.0.1:9999", Token: "hvs.explicit"})
	if err != nil {
		t.Fatal(err)
	}
	if s.client.Token() != "hvs.explicit" || s.addr != "http://127.0.0.1:9999" {
		t.Errorf("explicit settings lost: %+v", s)
	}
	for _, bad := range []Config{
		{Token: "x", PepperKey: "a/b"},
		{Token: "x", SigningKey: "../x"},
		{Token: "x", PepperKey: "same", SigningKey: "same"},
		{Token: "x", Mount: "/"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

// The policy files name exactly the paths the code uses.
func TestPolicies(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(".", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	server := read("gatehouse-policy.hcl")
	for _, p := range []string{
		`path "transit/keys/gatehouse-pepper"`, `path "transit/keys/gatehouse-signing"`,
		`path "transit/export/hmac-key/gatehouse-pepper"`, `path "transit/export/signing-key/gatehouse-signing"`,
	} {
		if !strings.Contains(server, p) {
			t.Errorf("gatehouse-policy.hcl lacks %s", p)
		}
	}
	for _, c := range []string{`"create"`, `"update"`, `"delete"`, `"sudo"`, `"list"`, "*"} {
		if strings.Contains(stripComments(server), c) {
			t.Errorf("gatehouse-policy.hcl grants more than read: %s", c)
		}
	}
	admin := read("gatehouse-admin-policy.hcl")
	for _, p := range []string{`path "transit/keys/gatehouse-pepper/rotate"`, `path "transit/keys/gatehouse-signing/rotate"`} {
		if !strings.Contains(admin, p) {
			t.Errorf("gatehouse-admin-policy.hcl lacks %s", p)
		}
	}
	for _, c := range []string{"export", `"delete"`, `"sudo"`, "*"} {
		if strings.Contains(stripComments(admin), c) {
			t.Errorf("gatehouse-admin-policy.hcl grants %s", c)
		}
	}
}

func stripComments(hcl string) string {
	var out []string
	for _, l := range strings.Split(hcl, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Cancellation reaches the request.
func TestContextCancel(t *testing.T) {
	_, s := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Load(ctx); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}
}
