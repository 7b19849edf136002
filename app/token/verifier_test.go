package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	in := testClaims()
	tok, err := f.issuer.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.verifier.Verify(bg, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := in
	want.Issuer = testIssuer
	want.IssuedAt = time.Unix(testNow.Unix(), 0)
	want.ExpiresAt = time.Unix(testNow.Add(15*time.Minute).Unix(), 0)
	want.AuthTime = time.Unix(in.AuthTime.Unix(), 0)
	want.ID = got.ID
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("claims:\n got %+v\nwant %+v", *got, want)
	}
	if id, err := base64.RawURLEncoding.DecodeString(got.ID); err != nil || len(id) != 16 {
		t.Fatalf("jti %q is not 128 bits of base64url", got.ID)
	}

	// The header is exactly what RFC 9068 asks, the signature 64 raw bytes.
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if want := `{"alg":"ES256","typ":"at+jwt","kid":"gatehouse-signing-v1"}`; string(hdr) != want {
		t.Fatalf("header %s, want %s", hdr, want)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if len(sig) != 64 {
		t.Fatalf("signature is %d bytes, want 64", len(sig))
	}
	// A single audience is written as a string.
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	if m["aud"] != testAudience {
		t.Fatalf("aud = %#v, want a string", m["aud"])
	}
	// Two tokens never share a jti.
	tok2, _ := f.issuer.Issue(in)
	got2, _ := f.verifier.Verify(bg, tok2)
	if got2.ID == got.ID {
		t.Fatal("jti repeated")
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	f := newFixture(t)
	for name, mutate := range map[string]func(*Claims){
		"no sub":        func(c *Claims) { c.Subject = "" },
		"no aud":        func(c *Claims) { c.Audience = nil },
		"empty aud":     func(c *Claims) { c.Audience = Audience{""} },
		"other issuer":  func(c *Claims) { c.Issuer = "https://evil.example" },
		"exp <= iat":    func(c *Claims) { c.ExpiresAt = testNow },
		"invalid utf-8": func(c *Claims) { c.Subject = "\xff" },
	} {
		t.Run(name, func(t *testing.T) {
			c := testClaims()
			mutate(&c)
			_, err := f.issuer.Issue(c)
			if errs.KindOf(err) != errs.KindInternal || err == nil {
				t.Fatalf("err = %v, want an internal error", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	hdr := headerFor(f.key)
	exp := itoa(testNow.Add(time.Minute).Unix())
	iat := itoa(testNow.Unix())
	claims := func(extra string) string {
		return `{"iss":"` + testIssuer + `","sub":"u","exp":` + exp + `,"iat":` + iat + extra + `}`
	}
	for name, tok := range map[string]string{
		"aud array containing ours": signES256(t, f.key.Private, hdr, claims(`,"aud":["other","`+testAudience+`"]`)),
		"typ application/at+jwt":    signES256(t, f.key.Private, `{"alg":"ES256","typ":"application/at+jwt","kid":"`+f.key.KID()+`"}`, claims(`,"aud":"`+testAudience+`"`)),
		"typ in upper case":         signES256(t, f.key.Private, `{"alg":"ES256","typ":"AT+JWT","kid":"`+f.key.KID()+`"}`, claims(`,"aud":"`+testAudience+`"`)),
		"expired within leeway":     signES256(t, f.key.Private, hdr, strings.Replace(claims(`,"aud":"`+testAudience+`"`), exp, itoa(testNow.Add(-29*time.Second).Unix()), 1)),
		"nbf within leeway":         signES256(t, f.key.Private, hdr, claims(`,"aud":"`+testAudience+`","nbf":`+itoa(testNow.Add(20*time.Second).Unix()))),
		"unknown claims and nesting": signES256(t, f.key.Private, hdr,
			claims(`,"aud":"`+testAudience+`","x":{"a":[1,-2.5e3,true,false,null,"\u00e9"]},"scope":"read"`)),
		"ignored header members": signES256(t, f.key.Private,
			`{"alg":"ES256","typ":"at+jwt","kid":"`+f.key.KID()+`","cty":"x","x5t":"abc"}`, claims(`,"aud":"`+testAudience+`"`)),
		"escaped member names": signES256(t, f.key.Private,
			`{"\u0061lg":"ES256","typ":"at+jwt","kid":"`+f.key.KID()+`"}`, claims(`,"a\u0075d":"`+testAudience+`"`)),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := f.verifier.Verify(bg, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "u" || !c.Audience.Contains(testAudience) {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	priv := f.key.Private
	kid := f.key.KID()
	hdr := headerFor(f.key)
	valid := signES256(t, priv, hdr, validPayload())
	parts := strings.Split(valid, ".")
	payload := validPayload()
	withClaim := func(old, new string) string { return strings.Replace(payload, old, new, 1) }
	headerWith := func(alg string) string { return `{"alg":"` + alg + `","typ":"at+jwt","kid":"` + kid + `"}` }

	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubPoint, _ := priv.PublicKey.Bytes()
	hs256 := func(secret []byte) string {
		in := b64(headerWith("HS256")) + "." + b64(payload)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rs256 := func(alg string) string {
		in := b64(headerWith(alg)) + "." + b64(payload)
		d := sha256.Sum256([]byte(in))
		sig, _ := rsaKey.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: 5}) // crypto.SHA256
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ax, _ := attacker.PublicKey.Bytes()
	attackerJWK := `{"kty":"EC","crv":"P-256","x":"` + base64.RawURLEncoding.EncodeToString(ax[1:33]) +
		`","y":"` + base64.RawURLEncoding.EncodeToString(ax[33:]) + `"}`
	derSig := func() string {
		d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		sig, _ := ecdsa.SignASN1(rand.Reader, priv, d[:])
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", "empty token"},
		{"too long", strings.Repeat("a", DefaultMaxTokenBytes+1), "too long"},
		{"one segment", "abc", "not a compact JWS"},
		{"JWE-like five segments", valid + ".a.b", "not a compact JWS"},
		{"alg none, empty signature", b64(headerWith("none")) + "." + b64(payload) + ".", "alg is not ES256"},
		{"alg NONE", b64(headerWith("NONE")) + "." + b64(payload) + ".", "alg is not ES256"},
		{"alg nOnE", b64(headerWith("nOnE")) + "." + b64(payload) + ".", "alg is not ES256"},
		{"alg es256 lower case", signES256(t, priv, headerWith("es256"), payload), "alg is not ES256"},
		{"no alg", signES256(t, priv, `{"typ":"at+jwt","kid":"`+kid+`"}`, payload), "alg is not ES256"},
		{"alg as array", signES256(t, priv, `{"alg":["ES256"],"typ":"at+jwt","kid":"`+kid+`"}`, payload), "bad header"},
		{"HS256 keyed with public point", hs256(pubPoint), "alg is not ES256"},
		{"HS256 keyed with public PEM", hs256(pubPEM), "alg is not ES256"},
		{"ES384 header, ES256 signature", signES256(t, priv, headerWith("ES384"), payload), "alg is not ES256"},
		{"RS256", rs256("RS256"), "alg is not ES256"},
		{"PS256", rs256("PS256"), "alg is not ES256"},
		{"typ JWT", signES256(t, priv, `{"alg":"ES256","typ":"JWT","kid":"`+kid+`"}`, payload), "typ is not at+jwt"},
		{"typ missing", signES256(t, priv, `{"alg":"ES256","kid":"`+kid+`"}`, payload), "typ is not at+jwt"},
		{"typ id_token-ish", signES256(t, priv, `{"alg":"ES256","typ":"id+jwt","kid":"`+kid+`"}`, payload), "typ is not at+jwt"},
		{"crit", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`","crit":["exp"],"exp":1}`, payload), "crit"},
		{"empty crit", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`","crit":[]}`, payload), "crit"},
		{"duplicate alg", signES256(t, priv, `{"alg":"ES256","alg":"none","typ":"at+jwt","kid":"`+kid+`"}`, payload), "bad header"},
		{"duplicate alg, escaped", signES256(t, priv, `{"alg":"ES256","\u0061lg":"none","typ":"at+jwt","kid":"`+kid+`"}`, payload), "bad header"},
		{"header not an object", signES256(t, priv, `["ES256"]`, payload), "bad header"},
		{"kid not a string", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt","kid":1}`, payload), "bad header"},
		{"duplicate kid", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`","kid":"x"}`, payload), "bad header"},
		{"no kid", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt"}`, payload), "no kid"},
		{"unknown kid", signES256(t, priv, `{"alg":"ES256","typ":"at+jwt","kid":"gatehouse-signing-v9"}`, payload), "unknown kid"},
		{"jwk header with attacker key and own kid", signES256(t, attacker, `{"alg":"ES256","typ":"at+jwt","kid":"evil","jwk":`+attackerJWK+`}`, payload), "unknown kid"},
		{"jwk header with attacker key and our kid", signES256(t, attacker, `{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`","jwk":`+attackerJWK+`}`, payload), "bad signature"},
		{"jku header to attacker JWKS", signES256(t, attacker, `{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`","jku":"https://evil.example/jwks","x5u":"https://evil.example/c"}`, payload), "bad signature"},
		{"signed by another key", signES256(t, attacker, hdr, payload), "bad signature"},
		{"tampered payload", parts[0] + "." + b64(withClaim(`"sub":"user-123"`, `"sub":"admin"`)) + "." + parts[2], "bad signature"},
		{"tampered header", b64(`{"alg":"ES256","typ":"at+jwt","kid":"`+kid+`" }`) + "." + parts[1] + "." + parts[2], "bad signature"},
		{"ASN.1 signature", derSig(), "signature is not 64 bytes"},
		{"signature truncated", valid[:len(valid)-2], "signature is not 64 bytes"},
		{"signature zero", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), "bad signature"},
		{"padded signature", valid + "==", "signature is not 64 bytes"},
		{"padded header", b64(hdr) + "=." + parts[1] + "." + parts[2], "bad base64url in header"},
		{"std base64 alphabet", "+" + valid[1:], "bad base64url in header"},
		{"std base64 alphabet in signature", valid[:len(valid)-1] + "/", "bad base64url in signature"},
		{"non-canonical trailing bits", parts[0] + "." + parts[1] + "." + parts[2][:85] + flipLastBits(parts[2][85:]), "bad base64url in signature"},
		{"newline in header", parts[0][:4] + "\n" + parts[0][4:] + "." + parts[1] + "." + parts[2], "bad base64url"},
		{"empty payload", signES256(t, priv, hdr, ""), "bad base64url in payload"},
		{"payload not JSON", signES256(t, priv, hdr, "hello"), "bad claims"},
		{"payload trailing garbage", signES256(t, priv, hdr, payload+"x"), "bad claims"},
		{"duplicate sub", signES256(t, priv, hdr, withClaim(`"sub":"user-123"`, `"sub":"user-123","sub":"admin"`)), "bad claims"},
		{"duplicate aud", signES256(t, priv, hdr, withClaim(`"jti"`, `"aud":"other","jti"`)), "bad claims"},
		{"wrong aud", signES256(t, priv, hdr, withClaim(testAudience, "https://other.example.com")), "wrong aud"},
		{"aud array without ours", signES256(t, priv, hdr, withClaim(`"`+testAudience+`"`, `["a","b"]`)), "wrong aud"},
		{"aud empty array", signES256(t, priv, hdr, withClaim(`"`+testAudience+`"`, `[]`)), "wrong aud"},
		{"aud empty string", signES256(t, priv, hdr, withClaim(`"`+testAudience+`"`, `""`)), "wrong aud"},
		{"aud prefix of ours", signES256(t, priv, hdr, withClaim(testAudience, testAudience+"/x")), "wrong aud"},
		{"aud missing", signES256(t, priv, hdr, withClaim(`"aud":"`+testAudience+`",`, ``)), "wrong aud"},
		{"aud number", signES256(t, priv, hdr, withClaim(`"`+testAudience+`"`, `1`)), "bad claims"},
		{"wrong iss", signES256(t, priv, hdr, withClaim(testIssuer, "https://evil.example.com")), "wrong iss"},
		{"iss with trailing slash", signES256(t, priv, hdr, withClaim(testIssuer, testIssuer+"/")), "wrong iss"},
		{"iss prefix", signES256(t, priv, hdr, withClaim(testIssuer, "https://id.example.co")), "wrong iss"},
		{"iss suffix", signES256(t, priv, hdr, withClaim(testIssuer, testIssuer+".evil.example")), "wrong iss"},
		{"iss case", signES256(t, priv, hdr, withClaim(testIssuer, strings.ToUpper(testIssuer))), "wrong iss"},
		{"iss missing", signES256(t, priv, hdr, withClaim(`"iss":"`+testIssuer+`",`, ``)), "wrong iss"},
		{"no sub", signES256(t, priv, hdr, withClaim(`"sub":"user-123",`, ``)), "no sub"},
		{"empty sub", signES256(t, priv, hdr, withClaim(`"sub":"user-123"`, `"sub":""`)), "no sub"},
		{"expired", signES256(t, priv, hdr, withClaim(itoa(testNow.Add(10*time.Minute).Unix()), itoa(testNow.Add(-31*time.Second).Unix()))), "expired"},
		{"no exp", signES256(t, priv, hdr, withClaim(`"exp":`+itoa(testNow.Add(10*time.Minute).Unix())+`,`, ``)), "no exp"},
		{"exp as string", signES256(t, priv, hdr, withClaim(`"exp":`+itoa(testNow.Add(10*time.Minute).Unix()), `"exp":"`+itoa(testNow.Add(10*time.Minute).Unix())+`"`)), "bad claims"},
		{"exp as float", signES256(t, priv, hdr, withClaim(`"exp":`+itoa(testNow.Add(10*time.Minute).Unix()), `"exp":1.9e12`)), "bad claims"},
		{"nbf in future", signES256(t, priv, hdr, withClaim(`"jti"`, `"nbf":`+itoa(testNow.Add(time.Minute).Unix())+`,"jti"`)), "nbf"},
		{"iat in future", signES256(t, priv, hdr, withClaim(`"iat":`+itoa(testNow.Unix()), `"iat":`+itoa(testNow.Add(5*time.Minute).Unix()))), "iat in the future"},
		{"no iat", signES256(t, priv, hdr, withClaim(`,"iat":`+itoa(testNow.Unix()), ``)), "no iat"},
		{"invalid utf-8 in claim", signES256(t, priv, hdr, withClaim(`"sub":"user-123"`, "\"sub\":\"\xff\"")), "bad claims"},
		{"lone surrogate", signES256(t, priv, hdr, withClaim(`"sub":"user-123"`, `"sub":"\ud800"`)), "bad claims"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verifier.Verify(bg, tc.token)
			if c != nil {
				t.Fatalf("returned claims %+v with error %v", c, err)
			}
			wantInvalid(t, err, tc.reason)
		})
	}
	if _, err := f.verifier.Verify(bg, valid); err != nil {
		t.Fatalf("the untampered token fails: %v", err)
	}
}

// A token is refused once its key leaves the ring, and a token with a
// rotated-in key is accepted at once.
func TestVerifyFollowsRing(t *testing.T) {
	f := newFixture(t)
	old, _ := f.issuer.Issue(testClaims())
	k2 := newSigningKey(t, 2)
	f.ring.add(k2)
	fresh, _ := f.issuer.Issue(testClaims())
	if kidOf(t, fresh) != k2.KID() {
		t.Fatalf("new token kid %s, want %s", kidOf(t, fresh), k2.KID())
	}
	for _, tok := range []string{old, fresh} {
		if _, err := f.verifier.Verify(bg, tok); err != nil {
			t.Fatal(err)
		}
	}
	f.ring.mu.Lock()
	f.ring.keys = f.ring.keys[1:]
	f.ring.mu.Unlock()
	_, err := f.verifier.Verify(bg, old)
	wantInvalid(t, err, "unknown kid")
}

func TestVerifierMisconfigured(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.issuer.Issue(testClaims())
	for _, opts := range []VerifierOptions{
		{Audience: testAudience, Keys: NewLocalKeySet(f.ring)},
		{Issuer: testIssuer, Keys: NewLocalKeySet(f.ring)},
		{Issuer: testIssuer, Audience: testAudience},
	} {
		if _, err := NewVerifier(opts).Verify(bg, tok); errs.KindOf(err) != errs.KindInternal || err == nil {
			t.Fatalf("%+v: err = %v, want internal", opts, err)
		}
	}
}

func TestVerifierLeewayAndSize(t *testing.T) {
	f := newFixture(t)
	c := testClaims()
	c.ExpiresAt = testNow.Add(-time.Second)
	c.IssuedAt = testNow.Add(-time.Minute)
	tok, err := f.issuer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verifier.Verify(bg, tok); err != nil {
		t.Fatalf("default leeway: %v", err)
	}
	strict := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: NewLocalKeySet(f.ring), Now: fixedClock, Leeway: -1})
	_, err = strict.Verify(bg, tok)
	wantInvalid(t, err, "expired")
	small := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: NewLocalKeySet(f.ring), Now: fixedClock, MaxTokenBytes: 100})
	_, err = small.Verify(bg, tok)
	wantInvalid(t, err, "too long")
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// flipLastBits changes the unused low bits of a final base64url character,
// which a lax decoder would ignore.
func flipLastBits(c string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c[0])^1])
}
