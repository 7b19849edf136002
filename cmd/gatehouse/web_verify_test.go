package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestPagesStepUpAsksForTheEmailedCode: when the defense steps up a
// sign-in on the hosted pages (the right password for an account without
// a second factor, after many failures), the person gets the emailed-code
// page, not "invalid credentials"; a wrong code shows the page again, and
// the right one signs in: it continues a pending OIDC authorization, or
// lands on the account page.
func TestPagesStepUpAsksForTheEmailedCode(t *testing.T) {
	port := freePort(t)
	env := with(testEnv(t), "GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port), "GATEHOUSE_ISSUER", fmt.Sprintf("http://127.0.0.1:%d", port),
		"GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "40",
		"GATEHOUSE_DEFENSE_LOCK_AFTER", "80", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	db := openDB(t, env)
	createClient(t, s.URL, map[string]any{"client_id": "notes", "name": "Notes", "first_party": true, "redirect_uris": []string{rpCallback}})
	email := "pages-stepup-" + randomHex(6) + "@example.org"
	signUp(t, s.URL, email, oidcPassword)
	guesses := func(round int) {
		t.Helper()
		for i := range 12 { // past the step-up threshold (10 failures)
			body := fmt.Sprintf(`{"email":"%s","password":"guess %d"}`, email, i)
			if resp, b := loginFrom(t, s.URL, fmt.Sprintf("203.%d.%d.44", round, i), body); resp.StatusCode != 401 {
				t.Fatalf("guess %d: %d %v", i, resp.StatusCode, b)
			}
		}
	}
	codeFor := func() string {
		t.Helper()
		for _, m := range readOutbox(t, db, time.Second) {
			if m.Kind == "login_code" && m.Recipient == email {
				return m.Payload["code"].(string)
			}
		}
		t.Fatal("no login_code mail")
		return ""
	}
	// stepUp signs in with the right password on the page and expects the
	// code page.
	stepUp := func(b *webBrowser, p *webPage) (*webPage, string) {
		t.Helper()
		p = b.submit(p, "/login", "email", email, "password", oidcPassword)
		mustf(t, p.Status == 200 && p.has("/login/verify") && !strings.Contains(p.Body, "The email address or password is wrong."),
			"the right password after many failures must ask for the emailed code: %d\n%s", p.Status, p.Body)
		for _, want := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, `<label for="code">`, "we emailed you a 6-digit code"} {
			mustf(t, strings.Contains(p.Body, want), "the code page lacks %s:\n%s", want, p.Body)
		}
		mustf(t, strings.HasPrefix(p.fields("/login/verify").Get("verification_token"), "ghv_us-east1_"), "no verification token in the form:\n%s", p.Body)
		code := codeFor()
		mustf(t, len(code) == 6, "code %q", code)
		return p, code
	}
	wrongFor := func(code string) string {
		if code == "000000" {
			return "111111"
		}
		return "000000"
	}
	sessionCookie := func(b *webBrowser) string {
		u, _ := url.Parse(s.URL)
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name == "gh_session" {
				return c.Value
			}
		}
		return ""
	}

	// With an authorization pending: the code continues it to the client.
	guesses(0)
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"notes"}, "redirect_uri": {rpCallback}, "scope": {"openid"},
		"state": {"st-1"}, "nonce": {"n1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	b := newWebBrowser(t, rpCallback)
	b.xff = "192.0.2.44"
	p := b.get(s.URL + "/oauth2/authorize?" + q.Encode())
	mustf(t, p.has("/login"), "expected the sign-in page, got %d:\n%s", p.Status, p.Body)
	p, code := stepUp(b, p)
	mustf(t, p.fields("/login/verify").Get("authz") != "", "the code form lost the authorization request:\n%s", p.Body)
	wrong := b.submit(p, "/login/verify", "code", wrongFor(code))
	mustf(t, wrong.Status == 401 && wrong.has("/login/verify") && strings.Contains(wrong.Body, "That code is wrong") && sessionCookie(b) == "",
		"a wrong code: %d\n%s", wrong.Status, wrong.Body)
	cb := b.submit(wrong, "/login/verify", "code", code).callbackParams(t)
	mustf(t, cb.Get("code") != "" && cb.Get("state") == "st-1", "the right code must continue the authorization: %v", cb)
	mustf(t, sessionCookie(b) != "", "no session cookie after the right code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {rpCallback}, "client_id": {"notes"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, tokens := callReq(t, req)
	mustf(t, resp.StatusCode == 200 && tokens["id_token"] != nil, "redeem the code: %d %v", resp.StatusCode, tokens)

	// Without one: the code lands on the account page.
	guesses(1)
	b = newWebBrowser(t, rpCallback)
	b.xff = "192.0.2.45"
	p, code = stepUp(b, b.get(s.URL+"/login"))
	p = b.submit(p, "/login/verify", "code", code)
	mustf(t, strings.HasSuffix(p.URL, "/account") && p.Status == 200 && strings.Contains(p.Body, email) && sessionCookie(b) != "",
		"the right code without an authorization: %d at %s\n%s", p.Status, p.URL, p.Body)
}
