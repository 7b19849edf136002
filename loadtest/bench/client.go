package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// requestTimeout bounds every HTTP request the harness makes.
const requestTimeout = 30 * time.Second

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 1 << 20

// apiClient calls the Gatehouse HTTP API of the server under test.
type apiClient struct {
	base       string
	adminToken string
	http       *http.Client
}

// newAPIClient returns a client for base (e.g. http://127.0.0.1:4000) that
// keeps up to conns idle connections, so that concurrent clients reuse
// theirs instead of opening new ones.
func newAPIClient(base, adminToken string, conns int) *apiClient {
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &apiClient{base: base, adminToken: adminToken, http: &http.Client{Transport: transport}}
}

// close releases the idle connections.
func (c *apiClient) close() { c.http.CloseIdleConnections() }

// httpError is an unexpected HTTP answer: its status and error code.
type httpError struct {
	status int
	code   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d %s", e.status, e.code) }

// tokenPair is the part of a token response the benchmarks use.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// call sends one request and decodes a JSON answer with status want into
// out (when out is not nil). Any other status is an *httpError carrying the
// body's "error" code.
func (c *apiClient) call(ctx context.Context, method, path, contentType string, body []byte, bearer string, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return decodeAnswer(method, path, resp.StatusCode, want, data, out)
}

// rawPost is call for the high-rate loads: a POST through the worker's own
// rawConn.
func (c *apiClient) rawPost(ctx context.Context, conn *rawConn, path, contentType string, body []byte, bearer string, want int, out any) error {
	status, data, err := conn.post(ctx, path, contentType, bearer, body)
	if err != nil {
		return err
	}
	return decodeAnswer(http.MethodPost, path, status, want, data, out)
}

// decodeAnswer decodes a JSON answer with status want into out (when out
// is not nil); any other status is an *httpError carrying the body's
// "error" code.
func decodeAnswer(method, path string, status, want int, data []byte, out any) error {
	if status != want {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return &httpError{status: status, code: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// postJSON posts v as JSON.
func (c *apiClient) postJSON(ctx context.Context, path string, v any, want int, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodPost, path, "application/json", body, "", want, out)
}

// credentials is an email and password pair.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// signUp creates an account (POST /v1/users).
func (c *apiClient) signUp(ctx context.Context, cred credentials) error {
	return c.postJSON(ctx, "/v1/users", cred, http.StatusCreated, nil)
}

// login logs in with a password (POST /v1/login) and expects success.
func (c *apiClient) login(ctx context.Context, cred credentials) (tokenPair, error) {
	var tp tokenPair
	if err := c.postJSON(ctx, "/v1/login", cred, http.StatusOK, &tp); err != nil {
		return tokenPair{}, err
	}
	if tp.AccessToken == "" || tp.RefreshToken == "" {
		return tokenPair{}, fmt.Errorf("login: token response without access or refresh token")
	}
	return tp, nil
}

// loginRejected logs in with credentials that must be refused and checks
// the answer is 401 invalid_credentials.
func (c *apiClient) loginRejected(ctx context.Context, cred credentials) error {
	var res struct {
		Error string `json:"error"`
	}
	if err := c.postJSON(ctx, "/v1/login", cred, http.StatusUnauthorized, &res); err != nil {
		return err
	}
	if res.Error != "invalid_credentials" {
		return &httpError{status: http.StatusUnauthorized, code: res.Error}
	}
	return nil
}

// refresh redeems a refresh token (POST /oauth2/token) for a new pair,
// through conn.
func (c *apiClient) refresh(ctx context.Context, conn *rawConn, refreshToken string) (tokenPair, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	var tp tokenPair
	err := c.rawPost(ctx, conn, "/oauth2/token", "application/x-www-form-urlencoded", []byte(form.Encode()), "", http.StatusOK, &tp)
	if err != nil {
		return tokenPair{}, err
	}
	if tp.AccessToken == "" || tp.RefreshToken == "" {
		return tokenPair{}, fmt.Errorf("refresh: token response without access or refresh token")
	}
	return tp, nil
}

// errInactive is an introspection that called a valid token inactive.
const errInactive = constError("introspection answered active=false for a live token")

// introspect asks whether an access token is active (POST
// /oauth2/introspect with the admin token, through conn) and expects that
// it is.
func (c *apiClient) introspect(ctx context.Context, conn *rawConn, accessToken string) error {
	form := url.Values{"token": {accessToken}}
	var res struct {
		Active bool `json:"active"`
	}
	err := c.rawPost(ctx, conn, "/oauth2/introspect", "application/x-www-form-urlencoded", []byte(form.Encode()), c.adminToken, http.StatusOK, &res)
	if err != nil {
		return err
	}
	if !res.Active {
		return errInactive
	}
	return nil
}

// ready reports whether GET /readyz answers 200.
func (c *apiClient) ready(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/readyz", "", nil, "", http.StatusOK, nil)
}

// hashStats is the server's gatehouse_password_hash_seconds histogram:
// how many Argon2id derivations it ran and their total time.
type hashStats struct {
	count float64
	sum   time.Duration
}

// hashStats reads the server's hashing histogram from /metrics.
func (c *apiClient) hashStats(ctx context.Context) (hashStats, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return hashStats{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return hashStats{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8*maxResponseBytes))
	if err != nil {
		return hashStats{}, err
	}
	var st hashStats
	found := 0
	for line := range strings.Lines(string(data)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v, perr := strconv.ParseFloat(value, 64)
		switch {
		case perr != nil:
		case name == "gatehouse_password_hash_seconds_count":
			st.count, found = v, found+1
		case name == "gatehouse_password_hash_seconds_sum":
			st.sum, found = time.Duration(v*float64(time.Second)), found+1
		}
	}
	if found != 2 {
		return hashStats{}, fmt.Errorf("/metrics: no gatehouse_password_hash_seconds histogram (HTTP %d)", resp.StatusCode)
	}
	return st, nil
}

// mean is the mean derivation time since before, or 0 without any.
func (s hashStats) meanSince(before hashStats) time.Duration {
	n := s.count - before.count
	if n <= 0 {
		return 0
	}
	return time.Duration(float64(s.sum-before.sum) / n)
}
