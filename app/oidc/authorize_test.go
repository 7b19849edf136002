package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// clientsOnly is a Store that knows clients and nothing else: parsing an
// authorization request reads only the client.
type clientsOnly struct{ clients map[string]Client }

func (s clientsOnly) Client(_ context.Context, id string) (Client, error) {
	if c, ok := s.clients[id]; ok {
		return c, nil
	}
	return Client{}, errs.E(errs.KindNotFound, "not_found", "no such client")
}
func (clientsOnly) CreateClient(context.Context, Client) error    { panic("unused") }
func (clientsOnly) ListClients(context.Context) ([]Client, error) { panic("unused") }
func (clientsOnly) SetClientSecret(context.Context, string, []byte, []byte, *time.Time, time.Time) error {
	panic("unused")
}
func (clientsOnly) DeleteClient(context.Context, string) error { panic("unused") }
func (clientsOnly) CreateCode(context.Context, Code) error     { panic("unused") }
func (clientsOnly) RedeemCode(context.Context, []byte, uuid.UUID, time.Time) (Code, bool, error) {
	panic("unused")
}
func (clientsOnly) CodeReplayed(context.Context, []byte) (bool, error)      { panic("unused") }
func (clientsOnly) Grant(context.Context, uuid.UUID, string) (Grant, error) { panic("unused") }
func (clientsOnly) SaveGrant(context.Context, Grant) error                  { panic("unused") }
func (clientsOnly) ListGrants(context.Context, uuid.UUID) ([]Grant, error)  { panic("unused") }
func (clientsOnly) DeleteGrant(context.Context, uuid.UUID, string) error    { panic("unused") }

const testRedirect = "https://app.example/cb"

func testProvider() *Provider {
	return New(Config{Issuer: "https://auth.example"}, Deps{Store: clientsOnly{clients: map[string]Client{
		"spa":  {ID: "spa", Name: "SPA", RedirectURIs: []string{testRedirect}},
		"conf": {ID: "conf", Name: "Conf", Confidential: true, RedirectURIs: []string{testRedirect}},
	}}})
}

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authzQuery(kv ...string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {testRedirect}, "scope": {"openid email"},
		"state": {"st"}, "code_challenge": {challenge(strings.Repeat("v", 43))}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func TestParseAuthorize(t *testing.T) {
	p := testProvider()
	ctx := context.Background()
	req, err := p.ParseAuthorize(ctx, authzQuery("prompt", "login", "max_age", "30", "acr_values", "aal1 aal2", "nonce", "n"))
	if err != nil || !req.RequireAAL2 || req.MaxAge != 30 || req.Prompt != "login" || req.Scope() != "openid email" {
		t.Fatalf("valid request: %+v %v", req, err)
	}
	pageErrors := map[string]url.Values{
		"unknown client":          authzQuery("client_id", "nobody"),
		"no client":               authzQuery("client_id", ""),
		"redirect off by one":     authzQuery("redirect_uri", testRedirect+"x"),
		"redirect with a slash":   authzQuery("redirect_uri", testRedirect+"/"),
		"redirect in other case":  authzQuery("redirect_uri", strings.ToUpper(testRedirect)),
		"no redirect":             authzQuery("redirect_uri", ""),
		"duplicated redirect_uri": func() url.Values { q := authzQuery(); q.Add("redirect_uri", testRedirect); return q }(),
	}
	for name, q := range pageErrors {
		_, err := p.ParseAuthorize(ctx, q)
		var pe *PageError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a page error (never a redirect)", name, err)
		}
	}
	redirectErrors := map[string]struct {
		q    url.Values
		code string
	}{
		"token response type": {authzQuery("response_type", "token"), "unsupported_response_type"},
		"no PKCE, public":     {authzQuery("code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		"plain PKCE":          {authzQuery("code_challenge_method", "plain"), "invalid_request"},
		"short challenge":     {authzQuery("code_challenge", "abc"), "invalid_request"},
		"unknown scope":       {authzQuery("scope", "openid admin"), "invalid_scope"},
		"no scope":            {authzQuery("scope", ""), "invalid_scope"},
		"bad prompt":          {authzQuery("prompt", "select_account"), "invalid_request"},
		"bad max_age":         {authzQuery("max_age", "-1"), "invalid_request"},
		"request object":      {authzQuery("request", "eyJ"), "request_not_supported"},
		"fragment mode":       {authzQuery("response_mode", "fragment"), "invalid_request"},
	}
	for name, tc := range redirectErrors {
		req, err := p.ParseAuthorize(ctx, tc.q)
		var re *RedirectError
		if !errors.As(err, &re) || re.Code != tc.code || req == nil {
			t.Errorf("%s: %v, want redirect error %s", name, err, tc.code)
			continue
		}
		u, _ := url.Parse(p.ErrorRedirect(req, re))
		if u.Query().Get("state") != "st" || u.Query().Get("error") != tc.code || !strings.HasPrefix(u.String(), testRedirect+"?") {
			t.Errorf("%s: redirect %s", name, u)
		}
	}
	// A confidential client may leave PKCE out.
	q := authzQuery("client_id", "conf", "code_challenge", "", "code_challenge_method", "")
	if _, err := p.ParseAuthorize(ctx, q); err != nil {
		t.Errorf("confidential client without PKCE: %v", err)
	}
}

func TestPKCEAndCodes(t *testing.T) {
	v := strings.Repeat("a", 43)
	if !pkceMatches(challenge(v), v) || pkceMatches(challenge(v), v+"b") || pkceMatches(challenge("short"), "short") {
		t.Fatal("pkceMatches")
	}
	if r, ok := CodeRegion("ghc_europe-west1_" + strings.Repeat("A", 43)); !ok || r != "europe-west1" {
		t.Fatalf("CodeRegion: %q %v", r, ok)
	}
	for _, bad := range []string{"", "ghc_", "ghr_us-east1_" + strings.Repeat("A", 43), "ghc_US_" + strings.Repeat("A", 43), "ghc_us-east1_" + strings.Repeat("A", 42)} {
		if _, ok := CodeRegion(bad); ok {
			t.Errorf("CodeRegion(%q) accepted", bad)
		}
	}
}

func TestRedirectURIRules(t *testing.T) {
	for _, ok := range []string{"https://app.example/cb", "http://localhost:3000/cb", "http://127.0.0.1/cb", "com.example.app:/oauth"} {
		if err := checkRedirectURI(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://app.example/cb", "https://app.example/cb#x", "/cb", "javascript:alert(1)", "https:///cb"} {
		if err := checkRedirectURI(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzParseAuthorize: any query either parses into a request bound to a
// registered client and redirect URI, or fails; it never panics, and a
// redirect error never names an unregistered redirect URI.
func FuzzParseAuthorize(f *testing.F) {
	f.Add(authzQuery().Encode())
	f.Add(authzQuery("redirect_uri", testRedirect+"x").Encode())
	f.Add("client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&prompt=none&max_age=9999999999999999999")
	f.Add("client_id=conf&client_id=spa")
	p := testProvider()
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := p.ParseAuthorize(context.Background(), q)
		var re *RedirectError
		if err == nil || errors.As(err, &re) {
			if req == nil || req.RedirectURI != testRedirect {
				t.Fatalf("request bound to %v", req)
			}
		}
	})
}
