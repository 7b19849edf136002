// Package keys holds the secret material Gatehouse works with: the versioned
// password pepper and the versioned JWT signing keys. A Loader (Vault Transit
// in production, a local keyring in development) produces a Set; a Ring keeps
// the current Set in memory and refreshes it in the background, so no login
// or token ever waits on the key source and an outage of it stops neither.
package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"slices"
)

// Purpose names a key chain that can be rotated.
type Purpose string

// The two key chains.
const (
	PurposePepper  Purpose = "pepper"
	PurposeSigning Purpose = "signing"
)

// ParsePurpose checks a purpose given on the command line.
func ParsePurpose(s string) (Purpose, error) {
	switch p := Purpose(s); p {
	case PurposePepper, PurposeSigning:
		return p, nil
	}
	return "", fmt.Errorf("unknown key purpose %q (want pepper or signing)", s)
}

// Secret is one version of a symmetric secret, such as the pepper.
type Secret struct {
	Version int
	Key     []byte
}

// SigningKey is one version of the ECDSA P-256 signing key.
type SigningKey struct {
	// Name is the key's name in the key source, e.g. "gatehouse-signing".
	Name    string
	Version int
	Private *ecdsa.PrivateKey
}

// KID is the JWT key id: the key's name and version.
func (k SigningKey) KID() string { return fmt.Sprintf("%s-v%d", k.Name, k.Version) }

// Set is a snapshot of every live version of every key. Versions are sorted
// ascending; the last one of each chain is the current one. A Set is never
// modified after it is built.
type Set struct {
	Peppers []Secret
	Signing []SigningKey
}

// MinPepperBytes is the smallest pepper accepted: 128 bits, above NIST's 112.
const MinPepperBytes = 16

// Validate checks that both chains are present, sorted, and strong enough,
// and sorts them if they are not.
func (s *Set) Validate() error {
	if len(s.Peppers) == 0 {
		return errors.New("keys: no pepper version")
	}
	if len(s.Signing) == 0 {
		return errors.New("keys: no signing key version")
	}
	slices.SortFunc(s.Peppers, func(a, b Secret) int { return a.Version - b.Version })
	slices.SortFunc(s.Signing, func(a, b SigningKey) int { return a.Version - b.Version })
	for i, p := range s.Peppers {
		if p.Version <= 0 || (i > 0 && p.Version == s.Peppers[i-1].Version) {
			return fmt.Errorf("keys: bad or duplicate pepper version %d", p.Version)
		}
		if len(p.Key) < MinPepperBytes {
			return fmt.Errorf("keys: pepper version %d is %d bytes, want at least %d", p.Version, len(p.Key), MinPepperBytes)
		}
	}
	for i, k := range s.Signing {
		if k.Version <= 0 || (i > 0 && k.Version == s.Signing[i-1].Version) {
			return fmt.Errorf("keys: bad or duplicate signing key version %d", k.Version)
		}
		if k.Private == nil || k.Private.Curve != elliptic.P256() {
			return fmt.Errorf("keys: signing key version %d is not ECDSA P-256", k.Version)
		}
	}
	return nil
}

// Pepper returns the current pepper.
func (s *Set) Pepper() Secret { return s.Peppers[len(s.Peppers)-1] }

// PepperVersion returns a given pepper version, if it is still live.
func (s *Set) PepperVersion(v int) (Secret, bool) {
	for _, p := range s.Peppers {
		if p.Version == v {
			return p, true
		}
	}
	return Secret{}, false
}

// Signer returns the current signing key.
func (s *Set) Signer() SigningKey { return s.Signing[len(s.Signing)-1] }

// SigningKeyByKID finds a live signing key by its JWT key id.
func (s *Set) SigningKeyByKID(kid string) (SigningKey, bool) {
	for _, k := range s.Signing {
		if k.KID() == kid {
			return k, true
		}
	}
	return SigningKey{}, false
}
