package token

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// BenchmarkVerify is the Verifier on a valid token (LocalKeySet lookup).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok, err := f.issuer.Issue(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.verifier.Verify(bg, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBareECDSA is crypto/ecdsa.Verify alone on the same
// signature over the same SHA-256 digest: the ceiling BenchmarkVerify is
// compared with.
func BenchmarkVerifyBareECDSA(b *testing.B) {
	f := newFixture(b)
	tok, err := f.issuer.Issue(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	digest := sha256.Sum256([]byte(tok[:i]))
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	pub := &f.key.Private.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, digest[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkIssue is Issue with the usual claims.
func BenchmarkIssue(b *testing.B) {
	f := newFixture(b)
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}
