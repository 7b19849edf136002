package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Device tokens are "ghd_" and 64 base64url characters of 48 bytes: the
// device id (16), 16 random bytes and the first 16 bytes of
// HMAC-SHA256(device key, "ghd/2" || SHA-256(email) || device id || random).
// The MAC binds the token to its account and its device, so a server tells
// a token it minted for this email from a forged one, or one of another
// account, with no I/O: only then is the device looked up, by its id, and
// only then does the login enter the trusted-device lane. One genuine
// token admits one account's logins, not a flood of anyone's.
const (
	deviceTokenPrefix = "ghd_"
	deviceIDLen       = 16
	deviceRandomLen   = 16
	deviceMACLen      = 16
	deviceRawLen      = deviceIDLen + deviceRandomLen + deviceMACLen
	deviceMACLabel    = "ghd/2"
)

// DeviceKeys returns the keys that authenticate device tokens, the one to
// mint with first (keys.Ring.DeviceKeys).
type DeviceKeys interface {
	DeviceKeys() [][]byte
}

// DeviceToken is a parsed device token; its MAC is not yet checked.
type DeviceToken struct {
	DeviceID uuid.UUID
	random   []byte
	mac      []byte
}

var errDeviceToken = errors.New("auth: malformed device token")

// ParseDeviceToken checks a device token's shape and splits it; it does no
// I/O and says nothing about the MAC.
func ParseDeviceToken(tok string) (DeviceToken, error) {
	if !strings.HasPrefix(tok, deviceTokenPrefix) ||
		len(tok) != len(deviceTokenPrefix)+base64.RawURLEncoding.EncodedLen(deviceRawLen) {
		return DeviceToken{}, errDeviceToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(deviceTokenPrefix):])
	if err != nil || len(raw) != deviceRawLen {
		return DeviceToken{}, errDeviceToken
	}
	id, err := uuid.FromBytes(raw[:deviceIDLen])
	if err != nil {
		return DeviceToken{}, errDeviceToken
	}
	return DeviceToken{DeviceID: id, random: raw[deviceIDLen : deviceIDLen+deviceRandomLen], mac: raw[deviceIDLen+deviceRandomLen:]}, nil
}

// deviceMAC is the MAC part of a device token.
func deviceMAC(key, emailHash []byte, id uuid.UUID, random []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(deviceMACLabel))
	m.Write(emailHash)
	m.Write(id[:])
	m.Write(random)
	return m.Sum(nil)[:deviceMACLen]
}

// mintDeviceToken returns a new token for device id of the account whose
// email hashes to emailHash. Without keys its MAC is random: the token
// still names its device but is never authentic (every login carrying it
// is sorted into the open lane and checked like one without a token).
func (s *Service) mintDeviceToken(emailHash []byte, id uuid.UUID) string {
	random := s.randomBytes(deviceRandomLen)
	raw := make([]byte, 0, deviceRawLen)
	raw = append(raw, id[:]...)
	raw = append(raw, random...)
	if ks := s.deviceKeys(); len(ks) > 0 {
		raw = append(raw, deviceMAC(ks[0], emailHash, id, random)...)
	} else {
		raw = append(raw, s.randomBytes(deviceMACLen)...)
	}
	return deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

func (s *Service) deviceKeys() [][]byte {
	if s.deps.DeviceKeys == nil {
		return nil
	}
	return s.deps.DeviceKeys.DeviceKeys()
}

// authenticDeviceToken parses tok and checks its MAC for the account whose
// email hashes to emailHash under every live key. It does no I/O; ok says
// nothing about whether the device is still trusted by its user.
func (s *Service) authenticDeviceToken(tok string, emailHash []byte) (DeviceToken, bool) {
	if tok == "" || len(emailHash) == 0 {
		return DeviceToken{}, false
	}
	t, err := ParseDeviceToken(tok)
	if err != nil {
		return DeviceToken{}, false
	}
	for _, k := range s.deviceKeys() {
		if hmac.Equal(t.mac, deviceMAC(k, emailHash, t.DeviceID, t.random)) {
			return t, true
		}
	}
	return DeviceToken{}, false
}
