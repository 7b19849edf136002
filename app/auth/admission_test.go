package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/uuid"

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
	alice, bob := EmailHash("alice@example.org"), EmailHash("bob@example.org")
	id := uuid.New()
	tok := s.mintDeviceToken(alice, id)
	got, ok := s.authenticDeviceToken(tok, alice)
	if len(tok) != len(deviceTokenPrefix)+64 || !ok || got.DeviceID != id {
		t.Fatalf("a minted token (%d chars) must be 68 chars, authentic and name its device", len(tok))
	}
	// Bound to its account: another account's email fails the MAC.
	if _, ok := s.authenticDeviceToken(tok, bob); ok {
		t.Fatal("a token of alice passed for bob")
	}

	// Any changed byte breaks it (device id, random part, MAC).
	raw, _ := base64.RawURLEncoding.DecodeString(tok[len(deviceTokenPrefix):])
	for _, i := range []int{0, deviceIDLen - 1, deviceIDLen, deviceIDLen + deviceRandomLen, len(raw) - 1} {
		forged := bytes.Clone(raw)
		forged[i] ^= 1
		if _, ok := s.authenticDeviceToken(deviceTokenPrefix+base64.RawURLEncoding.EncodeToString(forged), alice); ok {
			t.Fatalf("a token with byte %d changed passed", i)
		}
	}
	// The previous formats (32 random bytes; random and an unbound MAC), a
	// truncated token, junk.
	old := deviceTokenPrefix + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))
	for _, bad := range []string{old, tok[:len(tok)-1], "ghd_" + string(bytes.Repeat([]byte{'!'}, 64)), "", "ghr_x"} {
		if _, ok := s.authenticDeviceToken(bad, alice); ok {
			t.Fatalf("%q passed", bad)
		}
	}

	// A pepper rotation puts a new key first: old tokens still pass while
	// their key is live, new ones are minted with the new key.
	keys.keys = [][]byte{key(2), key(1)}
	if _, ok := s.authenticDeviceToken(tok, alice); !ok {
		t.Fatal("a token of the older live key must pass")
	}
	fresh := s.mintDeviceToken(alice, uuid.New())
	keys.keys = [][]byte{key(2)}
	_, okOld := s.authenticDeviceToken(tok, alice)
	_, okNew := s.authenticDeviceToken(fresh, alice)
	if okOld || !okNew {
		t.Fatal("once the old key is gone only tokens of the new key pass")
	}

	// Without keys nothing is authentic (every login is in the open lane).
	plain := New(Config{}, Deps{Random: rand.Reader})
	if _, ok := plain.authenticDeviceToken(tok, alice); ok || len(plain.mintDeviceToken(alice, id)) != len(tok) {
		t.Fatal("without keys: no token is authentic, tokens keep their length")
	}
}

// A full lane refuses at once with 503 overloaded; the device lane is
// separate.
func TestLoginAdmissionLanes(t *testing.T) {
	s := New(Config{MaxOpenLogins: 2, MaxDeviceLogins: 1}, Deps{Random: rand.Reader, DeviceKeys: &keyList{keys: [][]byte{key(7)}}})

	var leaves []func()
	for range 2 {
		leave, err := s.admitLogin(false)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	_, err := s.admitLogin(false)
	if e := errs.As(err); e == nil || e.Kind != errs.KindUnavailable || e.Code != password.CodeOverloaded || e.RetryAfter != time.Second {
		t.Fatalf("open lane full: want 503 overloaded with Retry-After, got %v", err)
	}
	leaveDevice, err := s.admitLogin(true)
	if err != nil {
		t.Fatalf("the device lane must admit while the open lane is full: %v", err)
	}
	if _, err := s.admitLogin(true); err == nil {
		t.Fatal("the device lane has room for one")
	}
	leaveDevice()
	leaves[0]()
	if leave, err := s.admitLogin(false); err != nil {
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
	leave, err := s.admitLogin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer leave()
	_, err = s.Login(context.Background(), LoginRequest{Email: "someone@example.org", Password: "a long enough password", IP: "192.0.2.1"})
	if e := errs.As(err); e == nil || e.Code != password.CodeOverloaded {
		t.Fatalf("want overloaded, got %v", err)
	}
}
