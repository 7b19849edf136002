package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// FuzzParseSigningKeyPEM: whatever a key source hands over, parsing never
// panics, and what it accepts is a valid P-256 key that survives a round trip.
func FuzzParseSigningKeyPEM(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sec1, _ := EncodeSigningKeyPEM(k)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(sec1)
	f.Add(bytes.TrimSpace(sec1))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte(""))
	f.Add(zeroScalarSEC1())
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: zeroScalarSEC1()}))

	f.Fuzz(func(t *testing.T, data []byte) {
		priv, err := ParseSigningKeyPEM(data)
		if err != nil {
			if priv != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		if priv.Curve != elliptic.P256() {
			t.Fatalf("accepted a key on %s", priv.Curve.Params().Name)
		}
		if !priv.Curve.IsOnCurve(priv.X, priv.Y) || priv.D.Sign() <= 0 || priv.D.Cmp(priv.Curve.Params().N) >= 0 {
			t.Fatal("accepted an invalid key")
		}
		out, err := EncodeSigningKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSigningKeyPEM(out)
		if err != nil || !again.Equal(priv) {
			t.Fatalf("round trip: %v", err)
		}
		set := &Set{
			Peppers: []Secret{{Version: 1, Key: make([]byte, 32)}},
			Signing: []SigningKey{{Name: "k", Version: 1, Private: priv}},
		}
		if err := set.Validate(); err != nil {
			t.Fatalf("accepted key fails Validate: %v", err)
		}
	})
}

// FuzzParsePepper: decoding never panics, and what it accepts re-encodes to
// the same text.
func FuzzParsePepper(f *testing.F) {
	f.Add(EncodePepper(make([]byte, 32)) + "\n")
	f.Add("")
	f.Add("QQ==")
	f.Add("QR==")
	f.Add("QQ")
	f.Add(" \t\n")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParsePepper(s)
		if err != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxPepperBytes {
			t.Fatalf("accepted a %d-byte pepper", len(key))
		}
		// The decoder skips line breaks (openssl rand -base64 wraps long
		// output); otherwise only the canonical encoding is accepted.
		if EncodePepper(key) != strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimSpace(s)) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

// FuzzParseVersion: accepted versions are positive and canonical.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1", "0", "01", "-1", "+1", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v <= 0 {
			t.Fatalf("accepted version %d", v)
		}
	})
}
