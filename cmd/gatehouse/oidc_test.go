package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	rpCallback   = "http://127.0.0.1:1/callback"
	rpLoggedOut  = "http://127.0.0.1:1/logged-out"
	oidcPassword = "correct horse battery staple"
)

// oidcServer is a running Gatehouse whose issuer is its own address, so a
// relying-party library can discover it.
func oidcServer(t *testing.T, kv ...string) (*testServer, string) {
	t.Helper()
	port := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := with(testEnv(t), append([]string{"GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port), "GATEHOUSE_ISSUER", issuer}, kv...)...)
	return startServer(t, env), issuer
}

// relyingParty is an app using go-oidc and x/oauth2 as their docs show.
type relyingParty struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	config   oauth2.Config
}

func newRelyingParty(t *testing.T, issuer, clientID, secret string, scopes ...string) *relyingParty {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	} else {
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	return &relyingParty{provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256"}}),
		config:   oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: rpCallback, Scopes: scopes}}
}

// flow is one authorization request of the relying party.
type flow struct {
	state, nonce, verifier string
	url                    string
}

func (rp *relyingParty) start(extra ...oauth2.AuthCodeOption) flow {
	f := flow{state: "st&te=" + randomHex(8) + " ü", nonce: randomHex(12), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}, extra...)
	f.url = rp.config.AuthCodeURL(f.state, opts...)
	return f
}

func randomHex(n int) string {
	return strings.ReplaceAll(fmt.Sprintf("%x", time.Now().UnixNano()+int64(n))[:min(n, 16)], " ", "")
}

// signIn fills the sign-in page (and consent, when asked) and returns the
// callback's query.
func signIn(t *testing.T, b *webBrowser, p *webPage, email, pw string, consent bool) url.Values {
	t.Helper()
	mustf(t, p.has("/login"), "expected the sign-in page, got %d:\n%s", p.Status, p.Body)
	p = b.submit(p, "/login", "email", email, "password", pw)
	if consent {
		mustf(t, p.has("/consent"), "expected the consent page, got %d:\n%s", p.Status, p.Body)
		p = b.submit(p, "/consent", "decision", "allow")
	}
	return p.callbackParams(t)
}

// checkIDToken verifies an ID token the way a relying party must.
func checkIDToken(t *testing.T, rp *relyingParty, tok *oauth2.Token, nonce string) (*oidc.IDToken, map[string]any) {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"auth_time", "acr", "amr", "sid", "at_hash"} {
		if claims[c] == nil {
			t.Errorf("ID token lacks %s: %v", c, claims)
		}
	}
	return idt, claims
}

// TestOIDCRelyingParty runs a certified-style relying party (go-oidc,
// x/oauth2) against a running server: the code flow with PKCE through the
// hosted pages, ID token, userinfo, refresh, logout, and the protocol's
// edges.
func TestOIDCRelyingParty(t *testing.T) {
	s, issuer := oidcServer(t)
	ctx := context.Background()
	createClient(t, s.URL, map[string]any{"client_id": "photos", "name": "Photo Album", "redirect_uris": []string{rpCallback},
		"post_logout_redirect_uris": []string{rpLoggedOut}})
	email := "rp-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)
	rp := newRelyingParty(t, issuer, "photos", "", oidc.ScopeOpenID, "email", oidc.ScopeProfile, oidc.ScopeOfflineAccess)

	// Discovery lists the whole surface.
	var disc map[string]any
	if err := rp.provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "end_session_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"} {
		mustf(t, strings.HasPrefix(fmt.Sprint(disc[k]), issuer+"/"), "discovery %s = %v", k, disc[k])
	}
	mustf(t, fmt.Sprint(disc["response_types_supported"]) == "[code]" && fmt.Sprint(disc["code_challenge_methods_supported"]) == "[S256]",
		"discovery: %v %v", disc["response_types_supported"], disc["code_challenge_methods_supported"])

	b := newWebBrowser(t, rpCallback)
	f := rp.start()
	q := signIn(t, b, b.get(f.url), email, oidcPassword, true)
	mustf(t, q.Get("state") == f.state, "state came back as %q, want %q", q.Get("state"), f.state)
	mustf(t, q.Get("iss") == issuer, "iss = %q", q.Get("iss"))
	tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, claims := checkIDToken(t, rp, tok, f.nonce)
	mustf(t, claims["acr"] == "aal1" && tok.RefreshToken != "", "acr %v, refresh %q", claims["acr"], tok.RefreshToken)
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	mustf(t, ui.Subject == idt.Subject && ui.Email == email, "userinfo %+v", ui)
	var profile struct {
		UpdatedAt int64 `json:"updated_at"`
	}
	mustf(t, ui.Claims(&profile) == nil && profile.UpdatedAt > time.Now().Add(-time.Hour).Unix() && profile.UpdatedAt <= time.Now().Unix(),
		"userinfo with the profile scope: updated_at %d", profile.UpdatedAt)
	refreshed, err := rp.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil || refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}

	t.Run("prompt=none with a session and consent", func(t *testing.T) {
		f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		q := b.get(f.url).callbackParams(t)
		mustf(t, q.Get("code") != "" && q.Get("state") == f.state, "prompt=none: %v", q)
	})
	t.Run("prompt=none without a session", func(t *testing.T) {
		f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		q := newWebBrowser(t, rpCallback).get(f.url).callbackParams(t)
		mustf(t, q.Get("error") == "login_required" && q.Get("state") == f.state, "prompt=none without session: %v", q)
	})
	t.Run("max_age asks to sign in again", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond)
		f := rp.start(oauth2.SetAuthURLParam("max_age", "1"))
		p := b.get(f.url)
		q := signIn(t, b, p, email, oidcPassword, false)
		tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		_, c := checkIDToken(t, rp, tok, f.nonce)
		mustf(t, int64(c["auth_time"].(float64)) >= time.Now().Add(-5*time.Second).Unix(), "auth_time %v is old", c["auth_time"])
	})
	t.Run("code replay revokes the first tokens", func(t *testing.T) {
		f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		code := b.get(f.url).callbackParams(t).Get("code")
		first, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
		if err != nil {
			t.Fatal(err)
		}
		mustf(t, introspectActive(t, s.URL, first.AccessToken), "first access token inactive before the replay")
		if _, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("second use: %v, want invalid_grant", err)
		}
		mustf(t, !introspectActive(t, s.URL, first.AccessToken), "first access token still active after the replay")
		if _, err := rp.config.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh after replay: %v", err)
		}
	})
	t.Run("concurrent redemptions of one code", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
			code := b.get(f.url).callbackParams(t).Get("code")
			results := make(chan *oauth2.Token, 2)
			for range 2 {
				go func() {
					tok, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
					if err != nil && !isOAuthError(err, "invalid_grant") {
						t.Errorf("exchange: %v", err)
					}
					results <- tok
				}()
			}
			toks := []*oauth2.Token{<-results, <-results}
			for _, tok := range toks {
				// Whatever the interleaving, no token issued for a code
				// presented twice stays alive.
				if tok != nil && introspectActive(t, s.URL, tok.AccessToken) {
					t.Fatalf("round %d: a token of a replayed code is active", i)
				}
			}
		}
	})
	t.Run("PKCE verifier mismatch", func(t *testing.T) {
		f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		code := b.get(f.url).callbackParams(t).Get("code")
		if _, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("wrong verifier: %v", err)
		}
		if _, err := rp.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("the code must be spent by the failed attempt: %v", err)
		}
	})
	t.Run("PKCE is required for a public client", func(t *testing.T) {
		u := rp.config.AuthCodeURL("s1") // no code_challenge
		q := b.get(u).callbackParams(t)
		mustf(t, q.Get("error") == "invalid_request" && q.Get("state") == "s1", "no PKCE: %v", q)
	})
	t.Run("redirect URI off by one character", func(t *testing.T) {
		bad := rp.config
		bad.RedirectURL = rpCallback + "x"
		p := b.get(bad.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		mustf(t, p.Status == 400 && p.Location == "" && p.Header.Get("Location") == "", "off-by-one redirect: %d %q", p.Status, p.Header.Get("Location"))
		mustf(t, strings.Contains(p.Body, "not registered"), "error page says: %s", p.Body)
	})
	t.Run("unknown client", func(t *testing.T) {
		bad := rp.config
		bad.ClientID = "nobody"
		p := b.get(bad.AuthCodeURL("s3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		mustf(t, p.Status == 400 && p.Header.Get("Location") == "", "unknown client: %d", p.Status)
	})
	t.Run("logout", func(t *testing.T) {
		raw := tok.Extra("id_token").(string)
		u := issuer + "/oauth2/end_session?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rpLoggedOut}, "state": {"bye"}}.Encode()
		lb := *b
		lb.callback = rpLoggedOut
		p := lb.get(u)
		mustf(t, p.Location == rpLoggedOut+"?state=bye", "logout went to %q", p.Location)
		f := rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		q := b.get(f.url).callbackParams(t)
		mustf(t, q.Get("error") == "login_required", "after logout: %v", q)
		// The hinted session (the one the ID token names) is over too.
		if _, err := rp.config.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh after logout: %v", err)
		}
		// Without an id_token_hint a signed-in person is asked first.
		q = signIn(t, b, b.get(rp.start().url), email, oidcPassword, false)
		mustf(t, q.Get("code") != "", "sign in again: %v", q)
		u = issuer + "/oauth2/end_session?" + url.Values{"client_id": {"photos"}, "post_logout_redirect_uri": {rpLoggedOut}, "state": {"b2"}}.Encode()
		p = lb.get(u)
		mustf(t, p.Status == 200 && p.has("/oauth2/end_session") && p.Location == "", "no confirmation asked: %d %q", p.Status, p.Location)
		f = rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		mustf(t, b.get(f.url).callbackParams(t).Get("code") != "", "the confirmation page signed out already")
		p = lb.submit(p, "/oauth2/end_session")
		mustf(t, p.Location == rpLoggedOut+"?state=b2", "confirmed logout went to %q", p.Location)
		f = rp.start(oauth2.SetAuthURLParam("prompt", "none"))
		mustf(t, b.get(f.url).callbackParams(t).Get("error") == "login_required", "still signed in after the confirmed logout")
		// An unregistered post-logout URI is never followed.
		p = lb.get(issuer + "/oauth2/end_session?" + url.Values{"client_id": {"photos"}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		mustf(t, p.Status == 400 && p.Header.Get("Location") == "", "unregistered post-logout URI: %d %q", p.Status, p.Header.Get("Location"))
	})
}

func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}

// introspectActive asks introspection (admin token) whether tok is active.
func introspectActive(t *testing.T, base, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer test-admin-token-0123456789abcdef")
	resp, body := callReq(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, body)
	}
	return body["active"] == true
}

// TestOIDCConfidentialClient: client_secret_basic on the code flow,
// client_credentials, introspection with client authentication, and a
// secret rotation whose overlap keeps the old secret working.
func TestOIDCConfidentialClient(t *testing.T) {
	s, issuer := oidcServer(t)
	ctx := context.Background()
	cl := createClient(t, s.URL, map[string]any{"client_id": "billing", "name": "Billing", "confidential": true, "first_party": true,
		"redirect_uris": []string{rpCallback}})
	secret, _ := cl["client_secret"].(string)
	mustf(t, strings.HasPrefix(secret, "ghs_"), "create returned no secret: %v", cl)
	resp, shown := call(t, "GET", s.URL+"/admin/v1/clients/billing", nil, "Authorization", "Bearer test-admin-token-0123456789abcdef")
	mustf(t, resp.StatusCode == 200 && shown["client_secret"] == nil && shown["confidential"] == true, "show: %d %v", resp.StatusCode, shown)

	email := "conf-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)
	rp := newRelyingParty(t, issuer, "billing", secret, oidc.ScopeOpenID)
	b := newWebBrowser(t, rpCallback)
	f := rp.start()
	q := signIn(t, b, b.get(f.url), email, oidcPassword, false) // first party: no consent page
	tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange with client_secret_basic: %v", err)
	}
	checkIDToken(t, rp, tok, f.nonce)
	mustf(t, tok.RefreshToken != "", "a first-party client gets a refresh token without offline_access")

	// Revocation with client authentication: a client may revoke only
	// its own tokens (RFC 7009 §2.1).
	other := createClient(t, s.URL, map[string]any{"client_id": "other", "name": "Other", "confidential": true, "redirect_uris": []string{rpCallback}})
	revoke := func(id, secret, tok string) int {
		req, _ := http.NewRequest("POST", s.URL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, _ := callReq(t, req)
		return resp.StatusCode
	}
	mustf(t, revoke("other", other["client_secret"].(string), tok.RefreshToken) == 200 && introspectActive(t, s.URL, tok.RefreshToken),
		"another client revoked billing's token")
	mustf(t, revoke("other", "ghs_wrong", tok.RefreshToken) == 401, "revoke with a wrong secret")
	mustf(t, revoke("billing", secret, tok.RefreshToken) == 200 && !introspectActive(t, s.URL, tok.RefreshToken) &&
		!introspectActive(t, s.URL, tok.AccessToken), "billing could not revoke its own token")

	wrong := rp.config
	wrong.ClientSecret = "ghs_wrong"
	if _, err := wrong.Exchange(ctx, "ghc_us-east1_"+strings.Repeat("A", 43)); !isOAuthError(err, "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}

	cc := clientcredentials.Config{ClientID: "billing", ClientSecret: secret, TokenURL: issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}
	ctok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials (client_secret_post): %v", err)
	}
	// Introspection with the client's own credentials (RFC 7662 §2.1).
	req, _ := http.NewRequest("POST", s.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {ctok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("billing", secret)
	resp, body := callReq(t, req)
	mustf(t, resp.StatusCode == 200 && body["active"] == true && body["client_id"] == "billing" && body["sub"] == "billing", "introspect: %d %v", resp.StatusCode, body)
	req, _ = http.NewRequest("POST", s.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {ctok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("billing", "ghs_wrong")
	resp, _ = callReq(t, req)
	mustf(t, resp.StatusCode == 401, "introspect with a wrong secret: %d", resp.StatusCode)

	// Rotation: the new secret works, the old one still does during the overlap.
	resp, rot := call(t, "POST", s.URL+"/admin/v1/clients/billing/rotate-secret", strings.NewReader(`{"overlap":"1h"}`), "Authorization", "Bearer test-admin-token-0123456789abcdef")
	newSecret, _ := rot["client_secret"].(string)
	mustf(t, resp.StatusCode == 200 && newSecret != "" && newSecret != secret && rot["previous_secret_expires_at"] != nil, "rotate: %d %v", resp.StatusCode, rot)
	for _, sec := range []string{secret, newSecret} {
		c := cc
		c.ClientSecret = sec
		if _, err := c.Token(ctx); err != nil {
			t.Fatalf("client_credentials after rotation: %v", err)
		}
	}
	resp, rot = call(t, "POST", s.URL+"/admin/v1/clients/billing/rotate-secret", strings.NewReader(`{"overlap":"0s"}`), "Authorization", "Bearer test-admin-token-0123456789abcdef")
	mustf(t, resp.StatusCode == 200, "rotate without overlap: %d", resp.StatusCode)
	c := cc
	c.ClientSecret = newSecret
	if _, err := c.Token(ctx); !isOAuthError(err, "invalid_client") {
		t.Fatalf("a secret rotated out without overlap still works: %v", err)
	}
	c.ClientSecret = rot["client_secret"].(string)
	if _, err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	// A public client cannot use client_credentials.
	createClient(t, s.URL, map[string]any{"client_id": "spa", "name": "SPA", "redirect_uris": []string{rpCallback}})
	pub := clientcredentials.Config{ClientID: "spa", TokenURL: issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}
	if _, err := pub.Token(ctx); err == nil {
		t.Fatal("a public client got a client_credentials token")
	}
	resp, _ = call(t, "DELETE", s.URL+"/admin/v1/clients/spa", nil, "Authorization", "Bearer test-admin-token-0123456789abcdef")
	mustf(t, resp.StatusCode == 204, "delete: %d", resp.StatusCode)
	resp, list := call(t, "GET", s.URL+"/admin/v1/clients", nil, "Authorization", "Bearer test-admin-token-0123456789abcdef")
	mustf(t, resp.StatusCode == 200 && len(list["clients"].([]any)) == 2, "list: %v", list)
}

// TestOIDCStepUpAndGrants: acr_values=aal2 forces the second factor on the
// hosted pages; consent is remembered, listed at /v1/grants and revocable,
// which ends the client's sessions.
func TestOIDCStepUpAndGrants(t *testing.T) {
	s, issuer := oidcServer(t)
	ctx := context.Background()
	createClient(t, s.URL, map[string]any{"client_id": "notes", "name": "Notes", "redirect_uris": []string{rpCallback}})
	email := "aal-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)
	rp := newRelyingParty(t, issuer, "notes", "", oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	b := newWebBrowser(t, rpCallback)

	// Without a second factor the page cannot reach aal2: the client is told.
	f := rp.start(oauth2.SetAuthURLParam("acr_values", "aal2"))
	q := signIn(t, b, b.get(f.url), email, oidcPassword, false)
	mustf(t, q.Get("error") == "unmet_authentication_requirements" && q.Get("state") == f.state, "aal2 without a factor: %v", q)

	// Enrol TOTP through the API, then aal2 asks for it on the pages.
	resp, plain := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+oidcPassword+`"}`))
	mustf(t, resp.StatusCode == 200, "login: %d", resp.StatusCode)
	at := plain["access_token"].(string)
	_, en := call(t, "POST", s.URL+"/v1/mfa/totp", nil, bearer(at)...)
	secret := en["secret"].(string)
	now := time.Now()
	if resp, body := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+totpCode(t, secret, now.Add(-30*time.Second))+`"}`), bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("confirm: %d %v", resp.StatusCode, body)
	}

	f = rp.start(oauth2.SetAuthURLParam("acr_values", "aal2"))
	p := b.get(f.url)
	mustf(t, p.has("/login"), "aal2 with an aal1 session must sign in again: %s", p.Body)
	p = b.submit(p, "/login", "email", email, "password", oidcPassword)
	mustf(t, p.has("/login/mfa") && strings.Contains(p.Body, `autocomplete="one-time-code"`), "expected the second-factor page: %s", p.Body)
	wrongPage := b.submit(p, "/login/mfa", "totp_code", "000000")
	mustf(t, wrongPage.Status == 401 && strings.Contains(wrongPage.Body, `role="alert"`), "wrong code: %d", wrongPage.Status)
	p = b.submit(wrongPage, "/login/mfa", "totp_code", totpCode(t, secret, now))
	mustf(t, p.has("/consent"), "expected consent: %d %s", p.Status, p.Body)
	q = b.submit(p, "/consent", "decision", "allow").callbackParams(t)
	tok, err := rp.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, claims := checkIDToken(t, rp, tok, f.nonce)
	mustf(t, claims["acr"] == "aal2" && slices.Contains(toStrings(claims["amr"]), "otp"), "after TOTP: acr %v amr %v", claims["acr"], claims["amr"])
	// Userinfo gives a third-party app only what it was granted (no email scope here).
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	mustf(t, err == nil && ui.Subject != "" && ui.Email == "" && claims["email"] == nil, "userinfo without the email scope: %+v %v", ui, err)
	var granted map[string]any
	mustf(t, ui.Claims(&granted) == nil && granted["updated_at"] == nil, "userinfo without the profile scope: %v", granted)

	// The grant is listed and, once revoked, the client's tokens die.
	resp, grants := call(t, "GET", s.URL+"/v1/grants", nil, bearer(at)...)
	mustf(t, resp.StatusCode == 200 && strings.Contains(fmt.Sprint(grants), "notes"), "grants: %d %v", resp.StatusCode, grants)
	resp, _ = call(t, "DELETE", s.URL+"/v1/grants/notes", nil, bearer(at)...)
	mustf(t, resp.StatusCode == 204, "revoke grant: %d", resp.StatusCode)
	if _, err := rp.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after the grant was revoked: %v", err)
	}
	f = rp.start(oauth2.SetAuthURLParam("prompt", "none"))
	q = b.get(f.url).callbackParams(t)
	mustf(t, q.Get("error") == "consent_required", "prompt=none after the grant was revoked: %v", q)
	// Denying consent returns access_denied with the state.
	f = rp.start()
	p = b.get(f.url)
	mustf(t, p.has("/consent"), "expected consent: %s", p.Body)
	q = b.submit(p, "/consent", "decision", "deny").callbackParams(t)
	mustf(t, q.Get("error") == "access_denied" && q.Get("state") == f.state, "deny: %v", q)
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
