package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/keys"
)

const (
	testIssuer   = "https://id.example.com"
	testAudience = "https://api.example.com"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// testRing is an in-memory SigningKeys that can rotate.
type testRing struct {
	mu   sync.Mutex
	keys []keys.SigningKey
}

func (r *testRing) Signer() keys.SigningKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[len(r.keys)-1]
}

func (r *testRing) SigningKeys() []keys.SigningKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys
}

func (r *testRing) add(k keys.SigningKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(append([]keys.SigningKey(nil), r.keys...), k)
}

func newSigningKey(t testing.TB, version int) keys.SigningKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keys.SigningKey{Name: "gatehouse-signing", Version: version, Private: priv}
}

// fixture is a ring with one key, an issuer and a verifier over it.
type fixture struct {
	ring     *testRing
	key      keys.SigningKey
	issuer   *Issuer
	verifier *Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	k := newSigningKey(t, 1)
	ring := &testRing{keys: []keys.SigningKey{k}}
	return &fixture{
		ring:   ring,
		key:    k,
		issuer: NewIssuer(testIssuer, ring, 15*time.Minute, fixedClock),
		verifier: NewVerifier(VerifierOptions{
			Issuer:   testIssuer,
			Audience: testAudience,
			Keys:     NewLocalKeySet(ring),
			Now:      fixedClock,
		}),
	}
}

func testClaims() Claims {
	return Claims{
		Subject:    "user-123",
		Audience:   Audience{testAudience},
		ClientID:   "web",
		SessionID:  "sess-9",
		AMR:        []string{"pwd", "otp"},
		ACR:        "urn:gatehouse:acr:mfa",
		AuthTime:   testNow.Add(-time.Minute),
		HomeRegion: "eu-west",
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// validPayload is a claims set the fixture's verifier accepts.
func validPayload() string {
	return `{"iss":"` + testIssuer + `","sub":"user-123","aud":"` + testAudience +
		`","exp":` + itoa(testNow.Add(10*time.Minute).Unix()) + `,"iat":` + itoa(testNow.Unix()) + `,"jti":"j1"}`
}

func itoa(v int64) string { return string(appendJSONInt(nil, v)) }

// headerFor is a header naming key.
func headerFor(k keys.SigningKey) string {
	return `{"alg":"ES256","typ":"at+jwt","kid":"` + k.KID() + `"}`
}

// signES256 signs header and payload JSON with priv, JOSE r||s form.
func signES256(t testing.TB, priv *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig[:])
}

// wantInvalid checks err is an invalid_token error whose message has reason.
func wantInvalid(t *testing.T, err error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want rejection %q", reason)
	}
	e := errs.As(err)
	if e == nil || e.Kind != errs.KindUnauthenticated || e.Code != CodeInvalidToken {
		t.Fatalf("err = %v; want unauthenticated invalid_token", err)
	}
	if !strings.Contains(e.Message, reason) {
		t.Fatalf("err = %v; want reason %q", err, reason)
	}
}

var bg = context.Background()
