package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/token"
)

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || h.Typ != "at+jwt" {
		t.Fatalf("header %s: %v", raw, err)
	}
	return h.Kid
}

func runCmd(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, lookup(env), nil, &out, &errb); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// A resource server verifies Gatehouse tokens with go-oidc (a verifier
// nobody here wrote) against the live JWKS. After a signing-key rotation,
// tokens signed before it still verify and new ones carry the new kid.
func TestSigningKeyRotationWithAForeignVerifier(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_KEYS_REFRESH_INTERVAL", "200ms")
	s := startServer(t, env)
	ctx := context.Background()
	signUp(t, s.URL, "rotate@example.org", "a passphrase to rotate")
	before := login(t, s.URL, "rotate@example.org", "a passphrase to rotate")["access_token"].(string)

	keySet := oidc.NewRemoteKeySet(ctx, s.URL+"/.well-known/jwks.json")
	verifier := oidc.NewVerifier(env["GATEHOUSE_ISSUER"], keySet, &oidc.Config{ClientID: "gatehouse", SupportedSigningAlgs: []string{"ES256"}})
	if _, err := verifier.Verify(ctx, before); err != nil {
		t.Fatalf("go-oidc refused a Gatehouse token: %v", err)
	}

	runCmd(t, env, "keys", "rotate", "signing")
	deadline := time.Now().Add(10 * time.Second)
	var after string
	for time.Now().Before(deadline) {
		after = login(t, s.URL, "rotate@example.org", "a passphrase to rotate")["access_token"].(string)
		if kidOf(t, after) != kidOf(t, before) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if kidOf(t, after) == kidOf(t, before) {
		t.Fatalf("new tokens still carry %s after rotation", kidOf(t, before))
	}
	resp, jwks := call(t, "GET", s.URL+"/.well-known/jwks.json", nil)
	if resp.StatusCode != 200 || len(jwks["keys"].([]any)) != 2 {
		t.Fatalf("JWKS after rotation: %v", jwks)
	}
	for _, k := range jwks["keys"].([]any) {
		m := k.(map[string]any)
		if m["alg"] != "ES256" || m["use"] != "sig" || m["kid"] == "" || m["d"] != nil {
			t.Fatalf("JWKS key %v", m)
		}
	}
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := verifier.Verify(ctx, tok); err != nil {
			t.Errorf("go-oidc refused the token from %s the rotation: %v", name, err)
		}
	}
	// A token for another audience is refused by the same foreign verifier.
	other := oidc.NewVerifier(env["GATEHOUSE_ISSUER"], keySet, &oidc.Config{ClientID: "someone-else", SupportedSigningAlgs: []string{"ES256"}})
	if _, err := other.Verify(ctx, after); err == nil {
		t.Error("go-oidc accepted a token for another audience")
	}
}

// A resource server in the same region uses the project's middleware with
// the Redis revocation check: a logout is refused there at once.
func TestResourceServerSeesRevocationWithinASecond(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	signUp(t, s.URL, "resource@example.org", "a passphrase for resources")
	tok := login(t, s.URL, "resource@example.org", "a passphrase for resources")["access_token"].(string)

	keys := token.NewRemoteKeySet(token.RemoteKeySetOptions{URL: s.URL + "/.well-known/jwks.json"})
	v := token.NewVerifier(token.VerifierOptions{Issuer: env["GATEHOUSE_ISSUER"], Audience: "gatehouse", Keys: keys})
	rdb, err := cache.NewClient(env["GATEHOUSE_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	protected := token.Middleware(v, cache.NewSessions(rdb, "gh:"), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := token.ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, c.Subject)
	}))
	rs := httptest.NewServer(protected)
	defer rs.Close()
	get := func() int {
		req, _ := http.NewRequest("GET", rs.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("resource server refused a live token: %d", code)
	}
	if resp, _ := call(t, "POST", s.URL+"/v1/logout", nil, bearer(tok)...); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	start := time.Now()
	for get() != 401 {
		if time.Since(start) > time.Second {
			t.Fatal("the resource server still accepts a logged-out token after 1 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Rotating the pepper and raising the Argon2id parameters: every user still
// logs in, and is upgraded at their next login.
func TestPepperRotationAndStrongerParametersUpgradeAtLogin(t *testing.T) {
	env := testEnv(t)
	old := startServer(t, env)
	uid := signUp(t, old.URL, "upgrade@example.org", "a passphrase to upgrade")
	old.stop(t)

	runCmd(t, env, "keys", "rotate", "pepper")
	stronger := with(env, "GATEHOUSE_ARGON2_MEMORY_KIB", "24576")
	s := startServer(t, stronger)

	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	credential := func() string {
		_, c, err := db.UserWithCredential(context.Background(), uuid.MustParse(uid))
		if err != nil {
			t.Fatal(err)
		}
		return c.Hash
	}
	if h := credential(); !strings.Contains(h, "m=19456,t=2,p=1,pv=1$") {
		t.Fatalf("before: %s", h)
	}
	login(t, s.URL, "upgrade@example.org", "a passphrase to upgrade")
	if h := credential(); !strings.Contains(h, "m=24576,t=2,p=1,pv=2$") {
		t.Fatalf("after the first login the credential is %s, want the new parameters and pepper v2", h)
	}
	login(t, s.URL, "upgrade@example.org", "a passphrase to upgrade")
	events, err := db.Events(context.Background(), uuid.MustParse(uid))
	if err != nil {
		t.Fatal(err)
	}
	upgrades := 0
	for _, e := range events {
		if e.Kind == auth.EventCredentialUpgrade {
			upgrades++
		}
	}
	if upgrades != 1 {
		t.Fatalf("want exactly one credential upgrade event, got %d (%v)", upgrades, events)
	}
}

// A session revoked without its mark reaching this region's Redis (by
// another region during a failover, or before Redis restarted empty) is
// refused within seconds: the marks are re-published from the database.
func TestRevocationsAreRepublishedFromTheDatabase(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TOKENS_REVOCATION_SYNC", "200ms")
	s := startServer(t, env)
	signUp(t, s.URL, "failover@example.org", "a passphrase for the failover")
	tok := login(t, s.URL, "failover@example.org", "a passphrase for the failover")
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...); resp.StatusCode != 200 {
		t.Fatalf("/v1/me: %d", resp.StatusCode)
	}
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	uid := uuid.MustParse(claimsOf(t, tok["access_token"].(string))["sub"].(string))
	if _, err := db.RevokeSession(context.Background(), uid, uuid.MustParse(tok["session_id"].(string)), "elsewhere", time.Now()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...)
		if resp.StatusCode == 401 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a session revoked in the database is still accepted after 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
