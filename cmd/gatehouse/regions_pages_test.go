package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// submitOnce posts a form of page p like webBrowser.submit, without
// following the answer's redirect, so that its headers can be read.
func submitOnce(t *testing.T, b *webBrowser, p *webPage, action string, set ...string) (*http.Response, string) {
	t.Helper()
	req := b.formPost(p, action, set...)
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

var (
	cspNonce  = regexp.MustCompile(`'nonce-([^']+)'`)
	bodyNonce = regexp.MustCompile(`nonce="([^"]+)"`)
)

// nonceMismatch says what is wrong with a page's nonces ("" if nothing):
// its scripts and styles must carry the nonce of the CSP it came with
// (the home region's, on a forwarded page).
func nonceMismatch(h http.Header, body string) string {
	m := cspNonce.FindStringSubmatch(h.Get("Content-Security-Policy"))
	found := bodyNonce.FindAllStringSubmatch(body, -1)
	if m == nil || len(found) == 0 {
		return fmt.Sprintf("no CSP nonce (%q) or no nonce on the page", h.Get("Content-Security-Policy"))
	}
	for _, f := range found {
		if f[1] != m[1] {
			return fmt.Sprintf("page nonce %q, CSP nonce %q", f[1], m[1])
		}
	}
	return ""
}

// Issue 16 with the rule of the multi-region issue: the hosted pages
// route a sign-in like POST /v1/login. A user homed in us-east1 signs in
// on europe-west1's pages, executed in us-east1, and the session works on
// asia-south1's account page; wrong passwords typed into the sign-in page
// of every region spend the one budget of the home region.
func TestPagesSignInRunsInTheHomeRegion(t *testing.T) {
	c := startClusterWith(t, 5*time.Millisecond, clusterOptions{env: []string{
		"GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000"}})
	us, eu, asia := c.public["us-east1"], c.public["europe-west1"], c.public["asia-south1"]
	email := "paged-" + randomHex(6) + "@example.org"
	signUpVia(t, us, email, oidcPassword) // homed in us-east1
	checked := func() int {
		n := 0
		for _, name := range regionNames {
			n += counter(t, c.public[name], `gatehouse_login_attempts_total{result="invalid_credentials"}`)
		}
		return n
	}
	newBrowser := func(xff string) *webBrowser {
		b := newWebBrowser(t, rpCallback).secureCookies() // the cluster's issuer is https: __Host- cookies
		b.origin = "https://auth.test.example"
		b.xff = xff
		return b
	}

	// a) Signed in on europe-west1's page, executed in us-east1.
	b := newBrowser("198.51.100.20")
	p := b.get(eu + "/login")
	resp, _ := submitOnce(t, b, p, "/login", "email", email, "password", oidcPassword)
	mustf(t, resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/account", "sign-in via europe-west1: %d %v", resp.StatusCode, resp.Header)
	wantRegions(t, resp, "us-east1", "europe-west1")
	// The session cookie works on asia-south1's account page (routed home).
	p = b.get(asia + "/account")
	mustf(t, p.Status == 200 && strings.Contains(p.Body, email), "account page via asia-south1: %d\n%s", p.Status, p.Body)
	if p.Header.Get("Gatehouse-Region") != "us-east1" || p.Header.Get("Gatehouse-Entry-Region") != "asia-south1" {
		t.Fatalf("account page regions: %q via %q", p.Header.Get("Gatehouse-Region"), p.Header.Get("Gatehouse-Entry-Region"))
	}
	if bad := nonceMismatch(p.Header, p.Body); bad != "" {
		t.Fatal(bad)
	}

	// A form without its CSRF token is refused by the region it reached,
	// with no password check and no hop.
	before := checked()
	b = newBrowser("198.51.100.21")
	p = b.get(asia + "/login")
	resp, _ = submitOnce(t, b, p, "/login", "email", email, "password", "a guess", "csrf_token", strings.Repeat("x", 43))
	mustf(t, resp.StatusCode == http.StatusForbidden && resp.Header.Get("Gatehouse-Region") == "asia-south1" &&
		resp.Header.Get("Gatehouse-Entry-Region") == "", "forged form: %d %v", resp.StatusCode, resp.Header)
	mustf(t, checked() == before, "a forged form spent a password check")

	// b) 60 wrong passwords typed into the sign-in pages of the three
	// regions, each from an address of its own.
	answers := guessInParallel(60, 12, func(i int) string {
		b := newBrowser(fmt.Sprintf("198.18.%d.%d", i, 1+i%200))
		p := b.get(c.public[regionNames[i%3]] + "/login")
		p = b.submit(p, "/login", "email", email, "password", fmt.Sprintf("guess %d", i))
		key := fmt.Sprintf("%d from %s", p.Status, p.Header.Get("Gatehouse-Region"))
		if bad := nonceMismatch(p.Header, p.Body); bad != "" {
			key += ": " + bad
		}
		return key
	})
	mustSpendOneBudget(t, "60 guesses on the pages of three regions", answers, checked()-before,
		"401 from us-east1", "403 from us-east1", "423 from us-east1", "429 from us-east1", "503 from us-east1")

	// The sign-up form with the taken address signs in right after it (the
	// enumeration guard answers the sign-up as if it had worked): that
	// password check belongs to us-east1 too.
	for i, region := range []string{"europe-west1", "asia-south1"} {
		b := newBrowser(fmt.Sprintf("198.51.100.%d", 40+i))
		p := b.get(c.public[region] + "/signup")
		p = b.submit(p, "/signup", "email", email, "password", "sign-up guess "+randomHex(8))
		mustf(t, p.Status != 200 && p.Header.Get("Gatehouse-Region") == "us-east1" && p.Header.Get("Gatehouse-Entry-Region") == region,
			"sign-up with the taken address via %s: %d from %q", region, p.Status, p.Header.Get("Gatehouse-Region"))
	}
	for _, name := range []string{"europe-west1", "asia-south1"} {
		if n := counter(t, c.public[name], `gatehouse_login_attempts_total{result="invalid_credentials"}`); n != 0 {
			t.Fatalf("%s checked the password %d times: the account lives in us-east1", name, n)
		}
	}
}
