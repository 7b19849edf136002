package token

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Gatehouse tokens verify with go-oidc, a verifier nobody here wrote, against
// the JWKS we publish; and keep verifying across a key rotation. go-oidc is
// an ID-token verifier: it checks iss, aud (ClientID), exp, nbf and the
// algorithm, ignores typ, and parses aud as a string or an array.
func TestGoOIDCVerifiesOurTokens(t *testing.T) {
	ring := &testRing{}
	ring.add(newSigningKey(t, 1))
	var mu sync.Mutex
	serve := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		data, err := JWKS(ring.SigningKeys())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}
	srv := httptest.NewServer(http.HandlerFunc(serve))
	defer srv.Close()

	ctx := oidc.ClientContext(context.Background(), srv.Client())
	keySet := oidc.NewRemoteKeySet(ctx, srv.URL)
	theirs := oidc.NewVerifier(testIssuer, keySet, &oidc.Config{
		ClientID:             testAudience,
		SupportedSigningAlgs: []string{oidc.ES256},
		Now:                  func() time.Time { return testNow },
	})
	issuer := NewIssuer(testIssuer, ring, 15*time.Minute, fixedClock)

	v1Token, err := issuer.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	idt, err := theirs.Verify(ctx, v1Token)
	if err != nil {
		t.Fatalf("go-oidc refuses our token: %v", err)
	}
	if idt.Subject != "user-123" || idt.Issuer != testIssuer || len(idt.Audience) != 1 || idt.Audience[0] != testAudience {
		t.Fatalf("go-oidc read %+v", idt)
	}
	var extra struct {
		SID        string   `json:"sid"`
		AMR        []string `json:"amr"`
		HomeRegion string   `json:"home_region"`
	}
	if err := idt.Claims(&extra); err != nil || extra.SID != "sess-9" || len(extra.AMR) != 2 || extra.HomeRegion != "eu-west" {
		t.Fatalf("custom claims %+v, %v", extra, err)
	}

	// go-oidc also refuses what it should: another audience or issuer.
	other := oidc.NewVerifier(testIssuer, keySet, &oidc.Config{ClientID: "someone-else", SupportedSigningAlgs: []string{oidc.ES256}, Now: fixedClock})
	if _, err := other.Verify(ctx, v1Token); err == nil {
		t.Fatal("go-oidc accepted a token for another audience")
	}

	// Rotate: add version 2. New tokens carry its kid; old ones still verify
	// with both go-oidc (which refetches on the unknown kid) and ours.
	ring.add(newSigningKey(t, 2))
	v2Token, err := issuer.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, v2Token); got != "gatehouse-signing-v2" {
		t.Fatalf("new token kid %q, want gatehouse-signing-v2", got)
	}
	ours := NewVerifier(VerifierOptions{
		Issuer: testIssuer, Audience: testAudience, Now: fixedClock,
		Keys: NewRemoteKeySet(RemoteKeySetOptions{URL: srv.URL, Client: srv.Client(), Now: fixedClock}),
	})
	for name, tok := range map[string]string{"v1": v1Token, "v2": v2Token} {
		// go-oidc's RemoteKeySet hands a lookup that misses its cache the
		// result of a fetch still marked in flight, even one that finished
		// before our rotation (it clears the mark a moment after
		// publishing the result): a few microseconds after the first fetch,
		// a new kid can miss once. The next lookup fetches again.
		var err error
		for range 3 {
			if _, err = theirs.Verify(ctx, tok); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("go-oidc, %s token after rotation: %v", name, err)
		}
		if _, err := ours.Verify(context.Background(), tok); err != nil {
			t.Errorf("our verifier, %s token after rotation: %v", name, err)
		}
	}
}
