package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// TestOIDCCodeRedeemedInAnotherRegion: a user homed in europe-west1 signs
// in on us-east1's pages; the code carries europe-west1 in the clear and
// asia-south1's token endpoint forwards its redemption there.
func TestOIDCCodeRedeemedInAnotherRegion(t *testing.T) {
	c := startCluster(t, 0)
	us, eu, asia := c.public["us-east1"], c.public["europe-west1"], c.public["asia-south1"]
	createClient(t, us, map[string]any{"client_id": "maps", "name": "Maps", "first_party": true, "redirect_uris": []string{rpCallback}})
	email := "eu-" + randomHex(6) + "@example.org"
	signUpVia(t, eu, email, oidcPassword)

	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"maps"}, "redirect_uri": {rpCallback}, "scope": {"openid"},
		"state": {"xyz"}, "nonce": {"n1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	b := newWebBrowser(t, rpCallback).secureCookies() // the cluster's issuer is https: __Host- cookies
	b.origin = "https://auth.test.example"            // the issuer, as a browser at that address would send
	p := b.get(us + "/oauth2/authorize?" + q.Encode())
	cb := signIn(t, b, p, email, oidcPassword, false)
	code := cb.Get("code")
	mustf(t, strings.HasPrefix(code, "ghc_europe-west1_") && cb.Get("state") == "xyz", "code %q state %q", code, cb.Get("state"))

	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}, "client_id": {"maps"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", asia+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := callReq(t, req)
	mustf(t, resp.StatusCode == 200 && body["id_token"] != nil && body["access_token"] != nil, "redeem in asia-south1: %d %v", resp.StatusCode, body)
	wantRegions(t, resp, "europe-west1", "asia-south1")
	// The same code again, at yet another region: refused at home.
	req, _ = http.NewRequest("POST", us+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = callReq(t, req)
	mustf(t, resp.StatusCode == 400 && body["error"] == "invalid_grant", "replay in us-east1: %d %v", resp.StatusCode, body)
	wantRegions(t, resp, "europe-west1", "us-east1")
}

// hashCount is how many password hashes the server has computed.
func hashCount(t *testing.T, base string) string {
	return metricValue(t, base, "gatehouse_password_hash_seconds_count")
}

// TestPagesKeepTheDefenses: the sign-in page answers a challenge, a lock
// and a rate limit with a page a person understands (status, text,
// Retry-After) and spends no password check on them.
func TestPagesKeepTheDefenses(t *testing.T) {
	s, _ := oidcServer(t, "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000",
		"GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "2", "GATEHOUSE_DEFENSE_LOCK_AFTER", "4", "GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE", "5")
	email := "target-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)

	guess := func(i int, solution string) *webPage {
		b := newWebBrowser(t, rpCallback)
		b.xff = fmt.Sprintf("203.0.113.%d", i)
		p := b.get(s.URL + "/login")
		set := []string{"email", email, "password", fmt.Sprintf("guess %d", i)}
		if solution != "" {
			set = append(set, "challenge_solution", solution)
		}
		return b.submit(p, "/login", set...)
	}
	for i := 0; i < 2; i++ {
		p := guess(i, "")
		mustf(t, p.Status == 401 && strings.Contains(p.Body, "The email address or password is wrong."), "guess %d: %d", i, p.Status)
	}
	before := hashCount(t, s.URL)
	p := guess(2, "")
	mustf(t, p.Status == 403 && strings.Contains(p.Body, "data-challenge=") && strings.Contains(p.Body, "solveGatehouseChallenge"),
		"third guess must be challenged on the page: %d\n%s", p.Status, p.Body)
	mustf(t, strings.Contains(p.Body, "not a robot"), "the challenge page says what is happening: %s", p.Body)
	mustf(t, hashCount(t, s.URL) == before, "a challenge spent a password check")

	// Solve the page's challenge (as its script does) until the lock.
	locked := false
	for i := 3; i < 20 && !locked; i++ {
		p := guess(i, "")
		if p.Status == 403 {
			raw := html.UnescapeString(attr(p.Body[strings.Index(p.Body, "<form"):], "data-challenge"))
			var ch defense.Challenge
			if err := json.Unmarshal([]byte(raw), &ch); err != nil {
				t.Fatalf("challenge %q: %v", raw, err)
			}
			sol, err := defense.SolveChallenge(context.Background(), &ch)
			if err != nil {
				t.Fatal(err)
			}
			solved, _ := json.Marshal(sol)
			p = guess(i, string(solved))
		}
		if p.Status == 423 {
			locked = true
			mustf(t, p.Header.Get("Retry-After") != "" && strings.Contains(p.Body, "locked") && strings.Contains(p.Body, `role="alert"`),
				"lock page: %v\n%s", p.Header, p.Body)
		} else {
			mustf(t, p.Status == 401, "guess %d: %d", i, p.Status)
		}
	}
	mustf(t, locked, "the account never locked through the pages")
	before = hashCount(t, s.URL)
	p = guess(40, "")
	mustf(t, p.Status == 423, "the right password while locked: %d", p.Status)
	mustf(t, hashCount(t, s.URL) == before, "a locked sign-in spent a password check")

	// One address trying many accounts meets the rate limit.
	b := newWebBrowser(t, rpCallback)
	b.xff = "198.51.100.77"
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		p := b.get(s.URL + "/login")
		before = hashCount(t, s.URL)
		p = b.submit(p, "/login", "email", fmt.Sprintf("nobody%d@example.org", i), "password", "whatever it is")
		if p.Status == 429 {
			limited = true
			mustf(t, p.Header.Get("Retry-After") != "" && strings.Contains(p.Body, "Too many attempts"), "rate-limit page: %v\n%s", p.Header, p.Body)
			mustf(t, hashCount(t, s.URL) == before, "a rate-limited sign-in spent a password check")
		}
	}
	mustf(t, limited, "30 sign-ins from one address were never limited")

	// In Indonesian and Vietnamese by Accept-Language.
	for lang, want := range map[string]string{"id-ID,id;q=0.9,en;q=0.5": "Kata sandi", "vi": "Mật khẩu", "fr, en;q=0.5": "Password"} {
		b := newWebBrowser(t, rpCallback)
		b.lang = lang
		p := b.get(s.URL + "/login")
		mustf(t, p.Status == 200 && strings.Contains(p.Body, want), "Accept-Language %q: want %q", lang, want)
	}
}

// TestPagesSignUpAndReset: sign-up, forgotten password and reset through
// the hosted forms (the same service methods as the API): the reset page
// refuses a weak password, then the new password signs in and the old one
// does not.
func TestPagesSignUpAndReset(t *testing.T) {
	port := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := with(testEnv(t), "GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port), "GATEHOUSE_ISSUER", issuer)
	s := startServer(t, env)
	createClient(t, s.URL, map[string]any{"client_id": "tasks", "name": "Tasks", "first_party": true, "redirect_uris": []string{rpCallback}})
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	email := "pages-" + randomHex(6) + "@example.org"
	rp := newRelyingParty(t, issuer, "tasks", "", oidc.ScopeOpenID)
	b := newWebBrowser(t, rpCallback)
	f := rp.start()
	p := b.get(f.url)
	p = b.get(issuer + "/signup?authz=" + url.QueryEscape(p.fields("/login").Get("authz")))
	mustf(t, p.has("/signup") && strings.Contains(p.Body, `autocomplete="new-password"`), "sign-up page: %s", p.Body)
	weak := b.submit(p, "/signup", "email", email, "password", "password")
	mustf(t, weak.Status == 400 && strings.Contains(weak.Body, `role="alert"`), "a common password: %d", weak.Status)
	q := b.submit(p, "/signup", "email", email, "password", oidcPassword).callbackParams(t)
	tok, err := rp.config.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("sign-up then code: %v", err)
	}
	ui, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	mustf(t, err == nil && ui.Subject != "", "userinfo: %v", err)
	var all map[string]any
	_ = ui.Claims(&all)
	mustf(t, all["email"] == email, "a first-party app is granted every scope: %v", all)

	// Forgotten password: the same answer for any address; the mail's link
	// opens the reset page.
	for _, addr := range []string{email, "nobody-" + randomHex(4) + "@example.org"} {
		p := b.get(issuer + "/password/forgot")
		p = b.submit(p, "/password/forgot", "email", addr)
		mustf(t, p.Status == 200 && strings.Contains(p.Body, "a link to reset its password is on its way"), "forgot %s: %d", addr, p.Status)
	}
	msgs := readOutbox(t, db, time.Second)
	mustf(t, len(msgs) == 1 && msgs[0].Recipient == email, "outbox: %+v", msgs)
	resetTok, _ := msgs[0].Payload["token"].(string)
	p = b.get(issuer + "/password/reset?token=" + url.QueryEscape(resetTok))
	weak = b.submit(p, "/password/reset", "password", "password")
	mustf(t, weak.Status == 400, "a weak new password: %d", weak.Status)
	done := b.submit(p, "/password/reset", "password", "a different long passphrase")
	mustf(t, done.Status == 200 && strings.Contains(done.Body, "Your password was changed"), "reset: %d %s", done.Status, done.Body)
	again := b.submit(p, "/password/reset", "password", "yet another long passphrase")
	mustf(t, again.Status == 400 && strings.Contains(again.Body, "invalid, used or expired"), "a used reset link: %d", again.Status)

	fresh := newWebBrowser(t, rpCallback)
	lp := fresh.get(issuer + "/login")
	mustf(t, fresh.submit(lp, "/login", "email", email, "password", oidcPassword).Status == 401, "the old password still signs in")
	ok := fresh.submit(lp, "/login", "email", email, "password", "a different long passphrase")
	mustf(t, ok.Status == 200 && strings.Contains(ok.Body, "Your account") && strings.Contains(ok.Body, email), "the new password: %d %s", ok.Status, ok.URL)
}
