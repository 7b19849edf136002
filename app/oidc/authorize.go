package oidc

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Scopes Gatehouse knows.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// SupportedScopes are listed in discovery.
var SupportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// AuthRequest is a validated authorization request (OIDC Core §3.1.2.1).
type AuthRequest struct {
	Client        Client
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string
	Prompt        string // "", "none", "login" or "consent"
	MaxAge        int    // -1 when absent
	LoginHint     string
	RequireAAL2   bool
	// Raw is the request's query, carried through the sign-in pages.
	Raw string
}

// Scope is the space-separated scope.
func (r *AuthRequest) Scope() string { return strings.Join(r.Scopes, " ") }

// HasScope reports whether the request asks for scope s.
func (r *AuthRequest) HasScope(s string) bool { return slices.Contains(r.Scopes, s) }

// PageError is an authorization request that cannot be answered by a
// redirect (unknown client, redirect URI not registered): the pages show
// it and never redirect (RFC 6749 §4.1.2.1).
type PageError struct {
	Code    string
	Message string
}

// Error describes the error.
func (e *PageError) Error() string { return e.Code + ": " + e.Message }

// RedirectError is an authorization error returned to the client's
// redirect URI with state (RFC 6749 §4.1.2.1).
type RedirectError struct {
	Code, Description string
}

// Error describes the error.
func (e *RedirectError) Error() string { return e.Code + ": " + e.Description }

// ParseAuthorize validates an authorization request. The client and the
// redirect URI are checked first; if either is wrong the error is a
// *PageError. Every later problem is a *RedirectError, with req filled
// enough to redirect.
func (p *Provider) ParseAuthorize(ctx context.Context, q url.Values) (*AuthRequest, error) {
	for k, v := range q {
		if len(v) > 1 {
			if k == "client_id" || k == "redirect_uri" {
				return nil, &PageError{"invalid_request", "the parameter " + k + " is given more than once"}
			}
		}
	}
	cid := q.Get("client_id")
	if cid == "" {
		return nil, &PageError{"invalid_request", "the request names no client (client_id is missing)"}
	}
	c, err := p.store.Client(ctx, cid)
	if errs.Is(err, errs.KindNotFound) {
		return nil, &PageError{"invalid_client", "the application that sent you here is not registered"}
	}
	if err != nil {
		return nil, err
	}
	ru := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, ru) { // exact string match (RFC 9700 §2.1)
		return nil, &PageError{"invalid_redirect_uri", "the application asked to return to an address it has not registered"}
	}
	req := &AuthRequest{Client: c, RedirectURI: ru, State: q.Get("state"), MaxAge: -1, Raw: q.Encode()}
	fail := func(code, desc string) (*AuthRequest, error) { return req, &RedirectError{code, desc} }
	for k, v := range q {
		if len(v) > 1 {
			return fail("invalid_request", "parameter "+k+" is given more than once")
		}
	}
	if len(req.State) > 1024 {
		return fail("invalid_request", "state is too long")
	}
	if q.Has("request") || q.Has("request_uri") {
		return fail("request_not_supported", "request objects are not supported")
	}
	if rt := q.Get("response_type"); rt != "code" {
		return fail("unsupported_response_type", "only response_type=code is supported")
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return fail("invalid_request", "only response_mode=query is supported")
	}
	for _, s := range strings.Fields(q.Get("scope")) {
		if !slices.Contains(SupportedScopes, s) {
			return fail("invalid_scope", "unknown scope "+s)
		}
		if !slices.Contains(req.Scopes, s) {
			req.Scopes = append(req.Scopes, s)
		}
	}
	if len(req.Scopes) == 0 {
		return fail("invalid_scope", "scope is required (openid for OpenID Connect)")
	}
	req.Nonce = q.Get("nonce")
	if len(req.Nonce) > 512 {
		return fail("invalid_request", "nonce is too long")
	}
	req.CodeChallenge = q.Get("code_challenge")
	method := q.Get("code_challenge_method")
	switch {
	case req.CodeChallenge == "" && method != "":
		return fail("invalid_request", "code_challenge_method without code_challenge")
	case req.CodeChallenge == "" && !c.Confidential:
		return fail("invalid_request", "PKCE (code_challenge with S256) is required for this client")
	case req.CodeChallenge != "" && method != "S256":
		return fail("invalid_request", "code_challenge_method must be S256")
	case req.CodeChallenge != "" && !validChallenge(req.CodeChallenge):
		return fail("invalid_request", "code_challenge must be 43 base64url characters")
	}
	switch pr := q.Get("prompt"); pr {
	case "", "none", "login", "consent":
		req.Prompt = pr
	default:
		return fail("invalid_request", "prompt must be one of none, login, consent")
	}
	if ma := q.Get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return fail("invalid_request", "max_age must be a non-negative integer")
		}
		req.MaxAge = n
	}
	req.LoginHint = q.Get("login_hint")
	if len(req.LoginHint) > 254 {
		req.LoginHint = ""
	}
	req.RequireAAL2 = slices.Contains(strings.Fields(q.Get("acr_values")), "aal2")
	return req, nil
}

// validChallenge: an S256 challenge is a base64url SHA-256, 43 characters.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ErrorRedirect is the URL that returns an authorization error to the
// client, with state and iss (RFC 9207).
func (p *Provider) ErrorRedirect(req *AuthRequest, e *RedirectError) string {
	v := url.Values{"error": {e.Code}, "error_description": {e.Description}, "iss": {p.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	return appendQuery(req.RedirectURI, v)
}

func appendQuery(base string, v url.Values) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + v.Encode()
}
