package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// seedKeyInfo separates the TOTP seed key from every other use of the
// pepper: HKDF with a distinct info string yields an independent key.
const seedKeyInfo = "gatehouse/totp-seed-encryption/v1"

// deriveSeedKey derives the AES-256 key that encrypts TOTP seeds at rest
// from one pepper version.
func deriveSeedKey(pepper []byte) []byte {
	k, err := hkdf.Key(sha256.New, pepper, nil, seedKeyInfo, 32)
	if err != nil {
		panic("keys: HKDF of 32 bytes cannot fail: " + err.Error())
	}
	return k
}

// SeedKey returns the current TOTP seed-encryption key and its version.
// It is derived from the current pepper, so it is versioned and rotated
// with the pepper and comes from the same key source (Vault Transit).
func (r *Ring) SeedKey() (int, []byte) {
	p := r.Pepper()
	return p.Version, deriveSeedKey(p.Key)
}

// SeedKeyVersion returns an older seed key, while its pepper is live.
func (r *Ring) SeedKeyVersion(v int) ([]byte, bool) {
	p, ok := r.PepperVersion(v)
	if !ok {
		return nil, false
	}
	return deriveSeedKey(p.Key), true
}

// defenseKeyInfo separates the key that signs proof-of-work challenges.
const defenseKeyInfo = "gatehouse/defense-challenges/v1"

// DefenseKey returns the key that signs login challenges, derived from the
// current pepper: the same in every region, never stored anywhere. A
// challenge issued just before a pepper rotation stops verifying; clients
// simply get a new one.
func (r *Ring) DefenseKey() []byte {
	k, err := hkdf.Key(sha256.New, r.Pepper().Key, nil, defenseKeyInfo, 32)
	if err != nil {
		panic("keys: HKDF of 32 bytes cannot fail: " + err.Error())
	}
	return k
}

// deviceKeyInfo separates the key that authenticates device tokens.
const deviceKeyInfo = "gatehouse/device-tokens/v1"

// DeviceKeys returns the keys that authenticate device tokens, one per
// live pepper version, the current first: a server tells a device token it
// minted from a forged one before any I/O. Tokens minted under an older
// pepper keep verifying while that version is live.
func (r *Ring) DeviceKeys() [][]byte {
	set := r.Current()
	out := make([][]byte, 0, len(set.Peppers))
	for i := len(set.Peppers) - 1; i >= 0; i-- {
		k, err := hkdf.Key(sha256.New, set.Peppers[i].Key, nil, deviceKeyInfo, 32)
		if err != nil {
			panic("keys: HKDF of 32 bytes cannot fail: " + err.Error())
		}
		out = append(out, k)
	}
	return out
}
