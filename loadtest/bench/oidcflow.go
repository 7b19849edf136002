package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// benchCallback is the bench client's redirect URI; nothing listens there:
// the flow stops at the redirect and reads the code from it.
const benchCallback = "http://127.0.0.1:9/callback"

// measureOIDC prints oidc_code_flow_vs_login_ratio: complete authorization
// code flows (GET /oauth2/authorize, the hosted sign-in page, POST /login,
// the code in the redirect, POST /oauth2/token with PKCE) per second over
// plain POST /v1/login per second, the two loads alternated in rounds. Both
// are bound by the same Argon2id hash, so the ratio says what the protocol
// and the pages cost on top of it.
func measureOIDC(ctx context.Context, cfg benchConfig, rep *reporter, client *apiClient) error {
	runID := randomHex(4)
	users := newUserCredentials("oidc-"+runID, cfg.users)
	slog.Info("oidc: signing up users and registering a client", "n", cfg.users)
	if err := signUpAll(ctx, client, users, cfg.loginClients); err != nil {
		return err
	}
	body := []byte(`{"client_id":"bench-app","name":"Bench App","first_party":true,"redirect_uris":["` + benchCallback + `"]}`)
	if err := client.call(ctx, http.MethodPost, "/admin/v1/clients", "application/json", body, client.adminToken, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("register the bench client: %w", err)
	}
	if err := codeFlow(ctx, client, users[0]); err != nil {
		return fmt.Errorf("a first code flow: %w", err)
	}
	window := 3 * cfg.window
	slog.Info("measuring oidc_code_flow_vs_login_ratio")
	results, err := runRounds(ctx, roundsOf(window, 5*time.Second),
		codeFlowLoad(client, users, cfg.loginClients, window, cfg.maxOpsPerFigure),
		loginLoad(client, users, cfg.loginClients, window, cfg.maxOpsPerFigure, newSessionPool(0)))
	if err != nil {
		return err
	}
	flow, login := results[0], results[1]
	rep.load("oidc code flow (authorize → sign-in page → POST /login → POST /oauth2/token)", cfg.loginClients, flow)
	rep.load("login (POST /v1/login), alternated with it", cfg.loginClients, login)
	rep.figure("oidc_code_flow_vs_login_ratio", flow.perSecond()/login.perSecond(), "ratio")
	return nil
}

func codeFlowLoad(client *apiClient, users []credentials, clients int, window time.Duration, maxOps int64) loadSpec {
	var next atomic.Int64
	return loadSpec{
		name: "oidc code flow", workers: clients, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(ctx context.Context, _ int) error {
			return codeFlow(ctx, client, users[int(next.Add(1)%int64(len(users)))])
		},
	}
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	authzField = regexp.MustCompile(`name="authz" value="([^"]*)"`)
)

// codeFlow is one person signing in to an app: a fresh browser (cookie
// jar), the authorization request with PKCE, the sign-in form, the code
// exchange.
func codeFlow(ctx context.Context, client *apiClient, u credentials) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: client.http.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := randomToken()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {"bench-app"}, "redirect_uri": {benchCallback}, "scope": {"openid"},
		"state": {"s"}, "nonce": {"n"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	status, page, _, err := send(ctx, browser, http.MethodGet, client.base+"/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	csrf, authz := csrfField.FindStringSubmatch(page), authzField.FindStringSubmatch(page)
	if status != http.StatusOK || csrf == nil || authz == nil {
		return &httpError{status: status, code: "no sign-in page"}
	}
	form := url.Values{"csrf_token": {csrf[1]}, "authz": {html.UnescapeString(authz[1])}, "email": {u.Email}, "password": {u.Password}}
	status, _, loc, err := send(ctx, browser, http.MethodPost, client.base+"/login", form)
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, benchCallback) {
		return &httpError{status: status, code: "sign-in did not redirect to the client"}
	}
	cb, err := url.Parse(loc)
	if err != nil || cb.Query().Get("code") == "" {
		return errors.New("no code in the redirect")
	}
	tok := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {benchCallback},
		"client_id": {"bench-app"}, "code_verifier": {verifier}}
	status, _, _, err = send(ctx, browser, http.MethodPost, client.base+"/oauth2/token", tok)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &httpError{status: status, code: "token exchange"}
	}
	return nil
}

// send makes one request (a form when form is set) and returns the status,
// body and Location.
func send(ctx context.Context, c *http.Client, method, u string, form url.Values) (int, string, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, "", "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	return resp.StatusCode, string(data), resp.Header.Get("Location"), err
}

// randomToken is a PKCE verifier: 32 random bytes, base64url (43 characters).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
