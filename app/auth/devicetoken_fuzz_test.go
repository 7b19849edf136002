package auth

import (
	"crypto/rand"
	"testing"
)

// FuzzParseDeviceToken: the parser never panics, accepts only the one
// shape, and a parsed token never passes the MAC check for an email it was
// not minted for; a minted token always parses and passes for its own.
func FuzzParseDeviceToken(f *testing.F) {
	f.Add("ghd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a@example.org")
	f.Add("ghd_", "")
	f.Add("", "b@example.org")
	s := New(Config{}, Deps{Random: rand.Reader, DeviceKeys: &keyList{keys: [][]byte{key(9)}}})
	f.Fuzz(func(t *testing.T, tok, email string) {
		p, err := ParseDeviceToken(tok)
		if err == nil {
			if len(tok) != len(deviceTokenPrefix)+64 || len(p.random) != deviceRandomLen || len(p.mac) != deviceMACLen {
				t.Fatalf("%q parsed with a wrong shape", tok)
			}
		}
		if _, ok := s.authenticDeviceToken(tok, EmailHash(email)); ok {
			t.Fatalf("a token not minted here passed: %q", tok)
		}
		minted := s.mintDeviceToken(EmailHash(email), s.newID())
		if _, ok := s.authenticDeviceToken(minted, EmailHash(email)); !ok {
			t.Fatal("a minted token did not pass for its own email")
		}
		if _, ok := s.authenticDeviceToken(minted, EmailHash(email+"x")); ok {
			t.Fatal("a minted token passed for another email")
		}
	})
}
