package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// SeedKeys gives the versioned AES-256 keys that encrypt TOTP seeds at rest.
// The lead derives them from the key source; old versions must stay
// available for as long as a seed may be sealed with them.
type SeedKeys interface {
	// SeedKey returns the current version and its 32-byte key.
	SeedKey() (version int, key []byte)
	// SeedKeyVersion returns the key of version v; false when unknown.
	SeedKeyVersion(v int) ([]byte, bool)
}

// Sealed seed format, version 1:
//
//	byte 0      format (sealFormatV1)
//	bytes 1-4   key version, uint32 big-endian
//	bytes 5-16  GCM nonce (random)
//	bytes 17-   ciphertext and 16-byte tag
//
// The additional data is sealAD || the 5 header bytes || the user ID (16
// bytes), so neither the key version nor the owner can be changed.
const (
	sealFormatV1 = 1
	sealHeader   = 5
	sealNonce    = 12
	sealTag      = 16
	sealAD       = "gatehouse/mfa/totp-seed/v1"
	maxSeedLen   = 64
)

var errSealed = errors.New("mfa: malformed sealed seed")

// sealedSeed is a parsed sealed seed.
type sealedSeed struct {
	keyVersion int
	header     []byte
	nonce      []byte
	ciphertext []byte
}

// parseSealed splits a sealed seed without decrypting it.
func parseSealed(b []byte) (sealedSeed, error) {
	if len(b) < sealHeader+sealNonce+sealTag+1 || len(b) > sealHeader+sealNonce+sealTag+maxSeedLen {
		return sealedSeed{}, errSealed
	}
	if b[0] != sealFormatV1 {
		return sealedSeed{}, fmt.Errorf("%w: unknown format %d", errSealed, b[0])
	}
	v := binary.BigEndian.Uint32(b[1:sealHeader])
	if v == 0 || v > 1<<31-1 {
		return sealedSeed{}, fmt.Errorf("%w: bad key version", errSealed)
	}
	return sealedSeed{
		keyVersion: int(v),
		header:     b[:sealHeader],
		nonce:      b[sealHeader : sealHeader+sealNonce],
		ciphertext: b[sealHeader+sealNonce:],
	}, nil
}

func seedAD(header []byte, userID uuid.UUID) []byte {
	ad := make([]byte, 0, len(sealAD)+len(header)+16)
	ad = append(ad, sealAD...)
	ad = append(ad, header...)
	return append(ad, userID[:]...)
}

func gcmFor(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("mfa: seed key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mfa: seed key: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealSeed encrypts seed for userID with the current key of keys.
func sealSeed(keys SeedKeys, userID uuid.UUID, seed []byte) ([]byte, error) {
	if len(seed) == 0 || len(seed) > maxSeedLen {
		return nil, fmt.Errorf("mfa: seed length %d out of range", len(seed))
	}
	version, key := keys.SeedKey()
	if version <= 0 || version > 1<<31-1 {
		return nil, fmt.Errorf("mfa: seed key version %d out of range", version)
	}
	aead, err := gcmFor(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, sealHeader+sealNonce, sealHeader+sealNonce+len(seed)+sealTag)
	out[0] = sealFormatV1
	binary.BigEndian.PutUint32(out[1:sealHeader], uint32(version))
	if _, err := rand.Read(out[sealHeader:]); err != nil {
		return nil, fmt.Errorf("mfa: nonce: %w", err)
	}
	return aead.Seal(out, out[sealHeader:], seed, seedAD(out[:sealHeader], userID)), nil
}

// openSeed decrypts a sealed seed of userID. It also reports whether the
// seed is sealed with an older key version than the current one.
func openSeed(keys SeedKeys, userID uuid.UUID, sealed []byte) (seed []byte, stale bool, err error) {
	s, err := parseSealed(sealed)
	if err != nil {
		return nil, false, err
	}
	key, ok := keys.SeedKeyVersion(s.keyVersion)
	if !ok {
		return nil, false, fmt.Errorf("mfa: seed key version %d unknown", s.keyVersion)
	}
	aead, err := gcmFor(key)
	if err != nil {
		return nil, false, err
	}
	seed, err = aead.Open(nil, s.nonce, s.ciphertext, seedAD(s.header, userID))
	if err != nil {
		return nil, false, fmt.Errorf("mfa: sealed seed does not authenticate: %w", err)
	}
	current, _ := keys.SeedKey()
	return seed, s.keyVersion != current, nil
}
