package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/keys"
)

// fuzzKey is a fixed P-256 key so that committed seeds stay valid.
func fuzzKey(t testing.TB) keys.SigningKey {
	d, _ := new(big.Int).SetString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", 16)
	raw := d.FillBytes(make([]byte, 32))
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return keys.SigningKey{Name: "fuzz", Version: 1, Private: priv}
}

// FuzzVerify: no input panics, and an accepted token is exactly a canonical
// compact JWS whose ES256 signature bare crypto/ecdsa accepts, with an
// ES256 at+jwt header and claims that encoding/json reads the same way.
func FuzzVerify(f *testing.F) {
	k := fuzzKey(f)
	ring := &testRing{keys: []keys.SigningKey{k}}
	issuer := NewIssuer(testIssuer, ring, time.Hour, fixedClock)
	v := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: NewLocalKeySet(ring), Now: fixedClock})

	valid, err := issuer.Issue(testClaims())
	if err != nil {
		f.Fatal(err)
	}
	hdr := headerFor(k)
	f.Add(valid)
	f.Add(signES256(f, k.Private, hdr, validPayload()))
	f.Add(signES256(f, k.Private, hdr, strings.Replace(validPayload(), `"`+testAudience+`"`, `["x","`+testAudience+`"]`, 1)))
	f.Add(signES256(f, k.Private, `{"alg":"ES256","typ":"at+jwt","kid":"fuzz-v1","jwk":{"kty":"EC"}}`, validPayload()))
	f.Add(b64(`{"alg":"none","typ":"at+jwt","kid":"fuzz-v1"}`) + "." + b64(validPayload()) + ".")
	f.Add(valid + "=")
	f.Add("..")
	f.Add("")
	f.Add("e30.e30.AAAA")

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(bg, tok)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d segments", len(parts))
		}
		var seg [3][]byte
		for i, p := range parts {
			b, err := base64.RawURLEncoding.DecodeString(p)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
				t.Fatalf("accepted non-canonical segment %d %q", i, p)
			}
			seg[i] = b
		}
		if len(seg[2]) != 64 {
			t.Fatal("accepted a signature that is not 64 bytes")
		}
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		r, s := new(big.Int).SetBytes(seg[2][:32]), new(big.Int).SetBytes(seg[2][32:])
		if !ecdsa.Verify(&k.Private.PublicKey, digest[:], r, s) {
			t.Fatal("accepted a token crypto/ecdsa does not verify")
		}
		var h struct{ Alg, Typ, Kid string }
		if err := json.Unmarshal(seg[0], &h); err != nil || h.Alg != "ES256" || h.Kid != k.KID() {
			t.Fatalf("accepted header %s", seg[0])
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(seg[1], &m); err != nil || string(m["sub"]) == `""` {
			t.Fatalf("accepted claims %s", seg[1])
		}
	})
}

// FuzzParseJWKS: no input panics; every key kept is a valid P-256 point
// under a non-empty kid.
func FuzzParseJWKS(f *testing.F) {
	k := fuzzKey(f)
	data, err := JWKS([]keys.SigningKey{k})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","kid":"a","x":"","y":""}]}`))
	f.Add(bytes.Replace(data, []byte(`"use":"sig"`), []byte(`"use":"sig","d":"AAAA"`), 1))
	f.Add(bytes.Replace(data, []byte(`"keys":[`), append(append([]byte(`"keys":[`), data[9:len(data)-2]...), ','), 1))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for kid, pub := range ks {
			if kid == "" || pub == nil || pub.Curve != elliptic.P256() || !pub.Curve.IsOnCurve(pub.X, pub.Y) {
				t.Fatalf("kept bad key %q", kid)
			}
		}
	})
}

// FuzzClaimsJSON: the strict claims reader never panics, agrees with
// encoding/json on everything it accepts, and what it accepts re-encodes to
// something it reads back identically.
func FuzzClaimsJSON(f *testing.F) {
	f.Add([]byte(validPayload()))
	f.Add([]byte(`{"aud":["a","b"],"amr":["pwd"],"nbf":0,"auth_time":1,"x":{"y":[1,2.5e-1,null,true,"\u00e9\ud83d\ude00"]}}`))
	f.Add([]byte(`{"sub":"a","sub":"b"}`))
	f.Add([]byte(` { "sub" : "\"\\\/\b\f\n\r\t" } `))
	f.Add([]byte(`{"exp":1.5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Claims
		if err := parseClaims(string(data), &c); err != nil {
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		str := func(name, got string) {
			if raw, ok := m[name]; ok {
				var want string
				if err := json.Unmarshal(raw, &want); err != nil || want != got {
					t.Fatalf("%s: we read %q, encoding/json %q (%v)", name, got, want, err)
				}
			} else if got != "" {
				t.Fatalf("%s: we read %q from nowhere", name, got)
			}
		}
		str("iss", c.Issuer)
		str("sub", c.Subject)
		str("jti", c.ID)
		str("sid", c.SessionID)
		if raw, ok := m["exp"]; ok && string(raw) != itoa(c.ExpiresAt.Unix()) {
			t.Fatalf("exp: we read %d from %s", c.ExpiresAt.Unix(), raw)
		}
		out, err := appendClaims(nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		var back Claims
		if err := parseClaims(string(out), &back); err != nil {
			t.Fatalf("cannot read back %s: %v", out, err)
		}
		if back.Subject != c.Subject || back.Issuer != c.Issuer || !slicesEqual(back.Audience, c.Audience) || !slicesEqual(back.AMR, c.AMR) {
			t.Fatalf("round trip changed %+v into %+v", c, back)
		}
	})
}

// FuzzJSONString: what appendJSONString writes, encoding/json reads back.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\u2028\u2029<>&", "é😀", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := appendJSONString(nil, s)
		if err != nil {
			if utf8.ValidString(s) {
				t.Fatalf("refused valid UTF-8 %q", s)
			}
			return
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != s {
			t.Fatalf("%q -> %s -> %q, %v", s, out, back, err)
		}
		r := jsonReader{data: string(out)}
		if ours, err := r.string(); err != nil || ours != s {
			t.Fatalf("our reader: %q, %v", ours, err)
		}
	})
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
