package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/password"
)

// keyList is a DeviceKeys whose keys a test changes.
type keyList struct{ keys [][]byte }

func (k *keyList) DeviceKeys() [][]byte { return k.keys }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestDeviceTokenMAC(t *testing.T) {
	keys := &keyList{keys: [][]byte{key(1)}}
	s := New(Config{}, Deps{Random: rand.Reader, DeviceKeys: keys})
	tok := s.mintDeviceToken(s.randomBytes(deviceRandomLen))
	if len(tok) != len(deviceTokenPrefix)+43 || !s.deviceTokenAuthentic(tok) {
		t.Fatalf("a minted token (%d chars) must be 47 chars and authentic", len(tok))
	}

	// Any changed byte breaks it.
	raw, _ := base64.RawURLEncoding.DecodeString(tok[len(deviceTokenPrefix):])
	for _, i := range []int{0, deviceRandomLen - 1, deviceRandomLen, len(raw) - 1} {
		forged := bytes.Clone(raw)
		forged[i] ^= 1
		if s.deviceTokenAuthentic(deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(forged)) {
			t.Fatalf("a token with byte %d changed passed", i)
		}
	}
	// A token of the old format (32 random bytes), a truncated one, junk.
	legacy := deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))
	for _, bad := range []string{legacy, tok[:len(tok)-1], "ghd_" + string(bytes.Repeat([]byte{'!'}, 43)), "", "ghr_x"} {
		if s.deviceTokenAuthentic(bad) {
			t.Fatalf("%q passed", bad)
		}
	}

	// A pepper rotation puts a new key first: old tokens still pass while
	// their key is live, new ones are minted with the new key.
	keys.keys = [][]byte{key(2), key(1)}
	if !s.deviceTokenAuthentic(tok) {
		t.Fatal("a token of the older live key must pass")
	}
	fresh := s.mintDeviceToken(s.randomBytes(deviceRandomLen))
	keys.keys = [][]byte{key(2)}
	if s.deviceTokenAuthentic(tok) || !s.deviceTokenAuthentic(fresh) {
		t.Fatal("once the old key is gone only tokens of the new key pass")
	}

	// Without keys nothing is authentic (every login is in the open lane).
	plain := New(Config{}, Deps{Random: rand.Reader})
	if plain.deviceTokenAuthentic(tok) || len(plain.mintDeviceToken(plain.randomBytes(deviceRandomLen))) != len(tok) {
		t.Fatal("without keys: no token is authentic, tokens keep their length")
	}
}

// A full lane refuses at once with 503 overloaded; the device lane is
// separate, and a forged device token is sorted into the open lane.
func TestLoginAdmissionLanes(t *testing.T) {
	s := New(Config{MaxOpenLogins: 2, MaxDeviceLogins: 1}, Deps{Random: rand.Reader, DeviceKeys: &keyList{keys: [][]byte{key(7)}}})
	device := s.mintDeviceToken(s.randomBytes(deviceRandomLen))
	forged := deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))

	var leaves []func()
	for range 2 {
		leave, err := s.admitLogin("")
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	for _, tok := range []string{"", forged} {
		_, err := s.admitLogin(tok)
		e := errs.As(err)
		if e == nil || e.Kind != errs.KindUnavailable || e.Code != password.CodeOverloaded || e.RetryAfter != time.Second {
			t.Fatalf("open lane full, token %q: want 503 overloaded with Retry-After, got %v", tok, err)
		}
	}
	leaveDevice, err := s.admitLogin(device)
	if err != nil {
		t.Fatalf("the device lane must admit while the open lane is full: %v", err)
	}
	if _, err := s.admitLogin(device); err == nil {
		t.Fatal("the device lane has room for one")
	}
	leaveDevice()
	leaves[0]()
	if leave, err := s.admitLogin(""); err != nil {
		t.Fatalf("a place freed up: %v", err)
	} else {
		leave()
	}
	leaves[1]()
}

// A login refused at admission does no work at all: this service has no
// store, guard or hasher, and would panic on any.
func TestLoginRefusedAtAdmissionTouchesNothing(t *testing.T) {
	s := New(Config{MaxOpenLogins: 1}, Deps{Random: rand.Reader})
	leave, err := s.admitLogin("")
	if err != nil {
		t.Fatal(err)
	}
	defer leave()
	_, err = s.Login(context.Background(), LoginRequest{Email: "someone@example.org", Password: "a long enough password", IP: "192.0.2.1"})
	if e := errs.As(err); e == nil || e.Code != password.CodeOverloaded {
		t.Fatalf("want overloaded, got %v", err)
	}
}
