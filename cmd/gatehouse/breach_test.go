package main

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePwned answers the k-anonymity range API for a set of breached
// passwords, with padding lines, and records the prefixes asked for.
type fakePwned struct {
	mu       sync.Mutex
	breached map[string]int // upper-case SHA-1 hex -> count
	asked    []string
}

func (f *fakePwned) add(pw string, n int) {
	h := sha1.Sum([]byte(pw))
	f.mu.Lock()
	f.breached[strings.ToUpper(hex.EncodeToString(h[:]))] = n
	f.mu.Unlock()
}

func (f *fakePwned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, r.URL.Path)
	for h, n := range f.breached {
		if strings.HasPrefix(h, prefix) {
			fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
		}
	}
	fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("A", 35)) // padding
}

func TestBreachedPasswords(t *testing.T) {
	fake := &fakePwned{breached: map[string]int{}}
	fake.add("correct horse battery staple", 1234)
	hibp := httptest.NewServer(fake)
	defer hibp.Close()
	base := testEnv(t)
	// A user signed up before the breach check was on (or before their
	// password leaked; the range client caches a prefix for a day).
	old := startServer(t, base)
	signUp(t, old.URL, "pwned@example.org", "a passphrase that leaked later")
	old.stop(t)
	fake.add("a passphrase that leaked later", 3)
	env := with(base, "GATEHOUSE_BREACH_MODE", "range", "GATEHOUSE_BREACH_URL", hibp.URL)
	s := startServer(t, env)

	resp, body := call(t, "POST", s.URL+"/v1/users", jsonBody(`{"email":"other@example.org","password":"correct horse battery staple"}`))
	if resp.StatusCode != 400 || body["error"] != "password_breached" || !strings.Contains(body["error_description"].(string), "breach") {
		t.Fatalf("sign-up with a breached password: %d %v", resp.StatusCode, body)
	}
	// A login with the leaked password succeeds, and the account is
	// flagged for a change.
	tok := login(t, s.URL, "pwned@example.org", "a passphrase that leaked later")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, me := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...)
		if me["password_breached"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("account not flagged: %v", me)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Changing the password clears the flag; a breached new one is refused.
	resp, body = call(t, "POST", s.URL+"/v1/password/change", jsonBody(`{"current_password":"a passphrase that leaked later","new_password":"correct horse battery staple"}`), bearer(tok["access_token"].(string))...)
	if resp.StatusCode != 400 || body["error"] != "password_breached" {
		t.Fatalf("change to a breached password: %d %v", resp.StatusCode, body)
	}
	if resp, body := call(t, "POST", s.URL+"/v1/password/change", jsonBody(`{"current_password":"a passphrase that leaked later","new_password":"an entirely fresh passphrase"}`), bearer(tok["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("change: %d %v", resp.StatusCode, body)
	}
	if _, me := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...); me["password_breached"] != false {
		t.Fatalf("flag not cleared: %v", me)
	}
	// Only 5-character prefixes ever left the server.
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, p := range fake.asked {
		if len(p) != len("/range/")+5 {
			t.Fatalf("the range API was asked for %q", p)
		}
	}
}
