package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/password"
)

// Device tokens are "ghd_" and 43 base64url characters: 16 random bytes
// and the first 16 bytes of HMAC-SHA256(device key, "ghd" || random). The
// MAC lets a server tell a token it minted from a forged one with no I/O,
// which is what the login admission below needs: a flood cannot buy its
// way into the trusted lane by sending made-up device tokens. The token
// is still checked against the user's devices in the database; the MAC
// only sorts requests. Tokens minted before the MAC (32 random bytes) fail
// it and are sorted with everyone else, but still trust their device once
// admitted.
const (
	deviceTokenPrefix = "ghd_"
	deviceRandomLen   = 16
	deviceMACLen      = 16
)

// DeviceKeys returns the keys that authenticate device tokens, the one to
// mint with first (keys.Ring.DeviceKeys).
type DeviceKeys interface {
	DeviceKeys() [][]byte
}

// deviceMAC is the MAC part of a device token for random under key.
func deviceMAC(key, random []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ghd"))
	m.Write(random)
	return m.Sum(nil)[:deviceMACLen]
}

// mintDeviceToken returns a new device token from random (16 bytes).
func (s *Service) mintDeviceToken(random []byte) string {
	raw := make([]byte, 0, deviceRandomLen+deviceMACLen)
	raw = append(raw, random...)
	if s.deps.DeviceKeys != nil {
		if ks := s.deps.DeviceKeys.DeviceKeys(); len(ks) > 0 {
			raw = append(raw, deviceMAC(ks[0], random)...)
		}
	}
	if len(raw) < deviceRandomLen+deviceMACLen { // no keys: unauthenticated, as before
		raw = append(raw, s.randomBytes(deviceMACLen)...)
	}
	return deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// deviceTokenAuthentic reports whether tok is a device token minted by a
// Gatehouse server under a live key. It says nothing about whether the
// device is still trusted by its user.
func (s *Service) deviceTokenAuthentic(tok string) bool {
	if s.deps.DeviceKeys == nil || !strings.HasPrefix(tok, deviceTokenPrefix) ||
		len(tok) != len(deviceTokenPrefix)+base64.RawURLEncoding.EncodedLen(deviceRandomLen+deviceMACLen) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok[len(deviceTokenPrefix):])
	if err != nil || len(raw) != deviceRandomLen+deviceMACLen {
		return false
	}
	random, mac := raw[:deviceRandomLen], raw[deviceRandomLen:]
	for _, k := range s.deps.DeviceKeys.DeviceKeys() {
		if hmac.Equal(mac, deviceMAC(k, random)) {
			return true
		}
	}
	return false
}

// lane is a bounded number of logins in flight; a full lane refuses at
// once instead of queueing, so a flood is shed before it costs Redis,
// database or hashing work, and never queues in front of anyone else.
type lane chan struct{}

func newLane(n int) lane {
	if n <= 0 {
		return nil // unbounded
	}
	return make(lane, n)
}

// tryEnter takes a place in the lane, or reports that it is full.
func (l lane) tryEnter() bool {
	if l == nil {
		return true
	}
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l lane) leave() {
	if l != nil {
		<-l
	}
}

// errLoginsBusy is a refused admission: the same 503 overloaded, with
// Retry-After, as a full hashing queue, whatever the email.
func errLoginsBusy() error {
	return &errs.Error{Kind: errs.KindUnavailable, Code: password.CodeOverloaded, Message: "the server is busy, try again shortly",
		RetryAfter: time.Second, Err: errors.New("auth: too many logins in flight")}
}

// admitLogin sorts a login into its lane: requests carrying an authentic
// device token into the device lane, every other into the open lane. It
// returns the function that leaves the lane, or errLoginsBusy.
func (s *Service) admitLogin(deviceToken string) (leave func(), err error) {
	l := s.openLogins
	if deviceToken != "" && s.deviceTokenAuthentic(deviceToken) {
		l = s.deviceLogins
	}
	if !l.tryEnter() {
		return nil, errLoginsBusy()
	}
	return l.leave, nil
}
