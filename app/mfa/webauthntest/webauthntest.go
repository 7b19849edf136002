// Package webauthntest holds helpers for tests that drive WebAuthn
// ceremonies with github.com/descope/virtualwebauthn, a software
// authenticator.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/x509"

	"github.com/descope/virtualwebauthn"
)

// NewEC2Credential returns a fresh P-256 credential whose public key the
// software authenticator encodes correctly.
//
// virtualwebauthn writes the COSE key's x and y with big.Int.Bytes, which
// drops leading zero bytes, so about one key in 128 has a 31-byte
// coordinate. RFC 9053 §7.1.1 requires the full 32 bytes and go-webauthn
// rightly refuses the shorter form, which made tests fail at random. Such
// keys are drawn again here.
func NewEC2Credential() virtualwebauthn.Credential {
	for {
		cred := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		if FullLengthCoordinates(cred) {
			return cred
		}
	}
}

// FullLengthCoordinates reports whether cred's P-256 public point has an x
// and a y that both need all 32 bytes, so that virtualwebauthn encodes them
// as COSE requires.
func FullLengthCoordinates(cred virtualwebauthn.Credential) bool {
	parsed, err := x509.ParsePKCS8PrivateKey(cred.Key.Data)
	if err != nil {
		panic("webauthntest: virtualwebauthn returned a key that is not PKCS #8: " + err.Error())
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		panic("webauthntest: virtualwebauthn returned a key that is not ECDSA")
	}
	pub, err := key.PublicKey.Bytes() // 0x04 || x || y, fixed width
	if err != nil {
		panic("webauthntest: " + err.Error())
	}
	return pub[1] != 0 && pub[33] != 0
}
