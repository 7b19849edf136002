package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// An ID token is ES256 with typ JWT (never confusable with an at+jwt), and
// VerifyIDTokenHint accepts exactly the tokens the issuer signed.
func TestIDTokenRoundTrip(t *testing.T) {
	fx := newFixture(t)
	tok, err := fx.issuer.SignIDToken(IDToken{Subject: "u1", Audience: "app", AuthTime: 1, Nonce: "n", ACR: "aal1", AMR: []string{"pwd"},
		SessionID: "s1", AtHash: AtHash("at")})
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]string
	if json.Unmarshal(hdr, &h) != nil || h["typ"] != "JWT" || h["alg"] != "ES256" || h["kid"] != fx.key.KID() {
		t.Fatalf("header %s", hdr)
	}
	keys := NewLocalKeySet(fx.ring)
	got, err := VerifyIDTokenHint(context.Background(), keys, testIssuer, tok)
	if err != nil || got.Subject != "u1" || got.SessionID != "s1" || got.Audience != "app" {
		t.Fatalf("hint: %+v %v", got, err)
	}
	if _, err := fx.verifier.Verify(context.Background(), tok); err == nil {
		t.Fatal("an ID token was accepted as an access token")
	}
	at, _ := fx.issuer.Issue(testClaims())
	if _, err := VerifyIDTokenHint(context.Background(), keys, testIssuer, at); err == nil {
		t.Fatal("an access token was accepted as an ID token hint")
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+testIssuer+`","sub":"u2","aud":"app"}`)) + "." + parts[2]
	if _, err := VerifyIDTokenHint(context.Background(), keys, testIssuer, forged); err == nil {
		t.Fatal("a forged hint was accepted")
	}
	if _, err := VerifyIDTokenHint(context.Background(), keys, "https://other.example", tok); err == nil {
		t.Fatal("a hint of another issuer was accepted")
	}
}

// FuzzVerifyIDTokenHint: no input panics, and nothing but a real token of
// the fixture's key verifies.
func FuzzVerifyIDTokenHint(f *testing.F) {
	fx := newFixture(f)
	tok, _ := fx.issuer.SignIDToken(IDToken{Subject: "u1", Audience: "app"})
	f.Add(tok)
	f.Add("a.b.c")
	f.Add(b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"sub":"x"}`) + ".")
	keys := NewLocalKeySet(fx.ring)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := VerifyIDTokenHint(context.Background(), keys, testIssuer, s)
		if err == nil && s != tok {
			t.Fatalf("verified %q: %+v", s, got)
		}
	})
}
