package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// Config holds the provider's settings.
type Config struct {
	Issuer string
	// CodeTTL is how long an authorization code lives (default 60 s).
	CodeTTL time.Duration
}

// Deps are the provider's adapters.
type Deps struct {
	Store    Store
	Accounts Accounts
	Signer   IDTokenSigner
	// HintKeys verify id_token_hint at logout.
	HintKeys token.KeyLookup
	Logger   *slog.Logger
	Now      func() time.Time
	Random   io.Reader
}

// Provider is the OpenID Connect provider of one region.
type Provider struct {
	issuer   string
	codeTTL  time.Duration
	store    Store
	accounts Accounts
	signer   IDTokenSigner
	hintKeys token.KeyLookup
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
}

// New builds the provider.
func New(cfg Config, d Deps) *Provider {
	p := &Provider{issuer: strings.TrimRight(cfg.Issuer, "/"), codeTTL: cfg.CodeTTL, store: d.Store, accounts: d.Accounts,
		signer: d.Signer, hintKeys: d.HintKeys, log: d.Logger, now: d.Now, rand: d.Random}
	if p.codeTTL <= 0 {
		p.codeTTL = 60 * time.Second
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	return p
}

func (p *Provider) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(p.rand, b); err != nil {
		panic("oidc: the system's random source failed: " + err.Error())
	}
	return b
}

// Issuer is the issuer identifier.
func (p *Provider) Issuer() string { return p.issuer }

// Authentication is what the browser session says about the user.
type Authentication struct {
	UserID     uuid.UUID
	HomeRegion string
	SessionID  uuid.UUID
	AuthTime   time.Time
	AMR        []string
	ACR        string
}

// Next is what the pages do with an authorization request.
type Next int

// The steps of an authorization request.
const (
	// NextLogin: show the sign-in page (no session, prompt=login, max_age
	// passed, or a second factor is required).
	NextLogin Next = iota + 1
	// NextConsent: show the consent page.
	NextConsent
	// NextRedirect: go to the URL (a code, or an error for the client).
	NextRedirect
)

// Decision is the answer to an authorization request.
type Decision struct {
	Next Next
	URL  string
}

// Decide takes an authorization request one step: authn is the browser
// session (nil when none); fresh says the user signed in just now for this
// request (so prompt=login and max_age are satisfied).
func (p *Provider) Decide(ctx context.Context, req *AuthRequest, authn *Authentication, fresh bool) (Decision, error) {
	redirectErr := func(code, desc string) (Decision, error) {
		return Decision{Next: NextRedirect, URL: p.ErrorRedirect(req, &RedirectError{code, desc})}, nil
	}
	needLogin := authn == nil ||
		(!fresh && req.Prompt == "login") ||
		(!fresh && req.MaxAge >= 0 && p.now().Sub(authn.AuthTime) > time.Duration(req.MaxAge)*time.Second)
	if !needLogin && req.RequireAAL2 && authn.ACR != "aal2" {
		if fresh {
			return redirectErr("unmet_authentication_requirements", "this account has no second factor, which the application requires")
		}
		needLogin = true
	}
	if needLogin {
		if req.Prompt == "none" {
			return redirectErr("login_required", "the user is not signed in")
		}
		return Decision{Next: NextLogin}, nil
	}
	if !req.Client.FirstParty {
		consented, err := p.hasConsent(ctx, authn.UserID, req)
		if err != nil {
			return Decision{}, err
		}
		if !consented || req.Prompt == "consent" {
			if req.Prompt == "none" {
				return redirectErr("consent_required", "the user has not consented to this application")
			}
			return Decision{Next: NextConsent}, nil
		}
	}
	u, err := p.IssueCode(ctx, req, authn)
	if err != nil {
		return Decision{}, err
	}
	return Decision{Next: NextRedirect, URL: u}, nil
}

// Deny is the redirect for a user who refused consent.
func (p *Provider) Deny(req *AuthRequest) string {
	return p.ErrorRedirect(req, &RedirectError{"access_denied", "the user did not allow access"})
}

const codePrefix = "ghc_"

var codePattern = regexp.MustCompile(`^ghc_([a-z][a-z0-9-]{1,62})_[A-Za-z0-9_-]{43}$`)

// CodeRegion returns the home region an authorization code carries, so
// any region can forward its redemption home without a lookup.
func CodeRegion(code string) (string, bool) {
	m := codePattern.FindStringSubmatch(code)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// IssueCode stores a code for an authorized request and returns the
// redirect that hands it to the client. The code is 256 random bits,
// prefixed with the user's home region; only its SHA-256 is stored.
func (p *Provider) IssueCode(ctx context.Context, req *AuthRequest, authn *Authentication) (string, error) {
	code := codePrefix + authn.HomeRegion + "_" + base64.RawURLEncoding.EncodeToString(p.random(32))
	now := p.now()
	c := Code{Hash: hashSecret(code), ClientID: req.Client.ID, RedirectURI: req.RedirectURI, UserID: authn.UserID,
		HomeRegion: authn.HomeRegion, Scope: req.Scope(), Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		AuthTime: authn.AuthTime, AMR: authn.AMR, ACR: authn.ACR, CreatedAt: now, ExpiresAt: now.Add(p.codeTTL)}
	if err := p.store.CreateCode(ctx, c); err != nil {
		return "", err
	}
	v := url.Values{"code": {code}, "iss": {p.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	return appendQuery(req.RedirectURI, v), nil
}

// TokenSet is a token endpoint's answer for a code or client credentials.
type TokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

func invalidGrant(desc string) error { return errs.E(errs.KindInvalid, "invalid_grant", desc) }

// Exchange redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
// The code is marked used before anything else is checked, so it is single
// use whatever happens; a code presented again revokes the session (and so
// every token) issued for it (RFC 6749 §4.1.2).
func (p *Provider) Exchange(ctx context.Context, client Client, code, redirectURI, verifier, ip, ua string) (TokenSet, error) {
	if _, ok := CodeRegion(code); !ok {
		return TokenSet{}, invalidGrant("the authorization code is invalid, expired or used")
	}
	sid := uuid.New()
	now := p.now()
	c, first, err := p.store.RedeemCode(ctx, hashSecret(code), sid, now)
	if errs.Is(err, errs.KindNotFound) {
		return TokenSet{}, invalidGrant("the authorization code is invalid, expired or used")
	}
	if err != nil {
		return TokenSet{}, err
	}
	if !first {
		if c.SessionID != uuid.Nil {
			if err := p.accounts.EndSessionOf(ctx, c.UserID, c.SessionID, "code_replayed"); err != nil {
				return TokenSet{}, err
			}
		}
		p.log.WarnContext(ctx, "authorization code replayed: its tokens are revoked", "client_id", c.ClientID, "user_id", c.UserID)
		return TokenSet{}, invalidGrant("the authorization code is invalid, expired or used")
	}
	switch {
	case c.ClientID != client.ID:
		return TokenSet{}, invalidGrant("the authorization code was issued to another client")
	case !now.Before(c.ExpiresAt):
		return TokenSet{}, invalidGrant("the authorization code is invalid, expired or used")
	case c.RedirectURI != redirectURI:
		return TokenSet{}, invalidGrant("redirect_uri does not match the authorization request")
	case c.CodeChallenge == "" && verifier != "":
		return TokenSet{}, invalidGrant("code_verifier given, but the request had no code_challenge")
	case c.CodeChallenge != "" && !pkceMatches(c.CodeChallenge, verifier):
		return TokenSet{}, invalidGrant("code_verifier does not match the code_challenge")
	}
	tr, user, err := p.accounts.StartClientSession(ctx, auth.ClientSession{ID: sid, UserID: c.UserID, ClientID: client.ID,
		AMR: c.AMR, ACR: c.ACR, AuthTime: c.AuthTime, IP: ip, UserAgent: ua})
	if err != nil {
		return TokenSet{}, err
	}
	// A replay that raced this redemption found no session to revoke yet:
	// now that it exists, look again.
	replayed, err := p.store.CodeReplayed(ctx, hashSecret(code))
	if err == nil && replayed {
		err = p.accounts.EndSessionOf(ctx, c.UserID, sid, "code_replayed")
		if err == nil {
			return TokenSet{}, invalidGrant("the authorization code is invalid, expired or used")
		}
	}
	if err != nil {
		return TokenSet{}, err
	}
	scopes := strings.Fields(c.Scope)
	out := TokenSet{AccessToken: tr.AccessToken, TokenType: "Bearer", ExpiresIn: tr.ExpiresIn, Scope: c.Scope}
	if client.FirstParty || slices.Contains(scopes, ScopeOfflineAccess) {
		out.RefreshToken = tr.RefreshToken
	}
	if slices.Contains(scopes, ScopeOpenID) {
		idt := token.IDToken{Subject: user.ID.String(), Audience: client.ID, AuthTime: c.AuthTime.Unix(), Nonce: c.Nonce,
			ACR: c.ACR, AMR: c.AMR, SessionID: sid.String(), AtHash: token.AtHash(tr.AccessToken), AuthorizedBy: client.ID}
		if slices.Contains(scopes, ScopeEmail) {
			v := user.EmailVerified
			idt.Email, idt.EmailVerified = user.Email, &v
		}
		if out.IDToken, err = p.signer.SignIDToken(idt); err != nil {
			return TokenSet{}, err
		}
	}
	return out, nil
}

// pkceMatches checks S256: BASE64URL(SHA256(verifier)) == challenge, with
// RFC 7636 §4.1's verifier syntax.
func pkceMatches(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, r := range verifier {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// ClientCredentials issues an access token to a confidential client for
// itself (RFC 6749 §4.4); no refresh token, no ID token.
func (p *Provider) ClientCredentials(client Client, scope string) (TokenSet, error) {
	if !client.Confidential {
		return TokenSet{}, errs.E(errs.KindUnauthenticated, "unauthorized_client", "client_credentials needs a confidential client")
	}
	if scope != "" {
		return TokenSet{}, errs.Invalid("invalid_scope", "client_credentials takes no scope here")
	}
	at, exp, err := p.accounts.ClientToken(client.ID)
	if err != nil {
		return TokenSet{}, err
	}
	return TokenSet{AccessToken: at, TokenType: "Bearer", ExpiresIn: exp}, nil
}

// UserInfo answers OIDC Core §5.3 for an access token: sub always, email
// when the client was granted the email scope (first-party clients are
// granted everything).
func (p *Provider) UserInfo(ctx context.Context, bearer string) (map[string]any, error) {
	pr, err := p.accounts.Authenticate(ctx, bearer)
	if err != nil {
		return nil, err
	}
	u, err := p.accounts.UserByID(ctx, pr.UserID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"sub": u.ID.String()}
	scopes, err := p.grantedScopes(ctx, pr.UserID, pr.Claims.ClientID)
	if err != nil {
		return nil, err
	}
	if slices.Contains(scopes, ScopeEmail) {
		out["email"], out["email_verified"] = u.Email, u.EmailVerified
	}
	if slices.Contains(scopes, ScopeProfile) && !u.UpdatedAt.IsZero() {
		// Gatehouse keeps no names, pictures or locales: of the profile
		// claims (OIDC Core §5.4) it can vouch for the last change only.
		out["updated_at"] = u.UpdatedAt.Unix()
	}
	return out, nil
}

// grantedScopes are the scopes a user granted a client; first-party and
// built-in clients have all of them.
func (p *Provider) grantedScopes(ctx context.Context, userID uuid.UUID, clientID string) ([]string, error) {
	if clientID == auth.FirstPartyClient || clientID == auth.WebClient {
		return SupportedScopes, nil
	}
	c, err := p.store.Client(ctx, clientID)
	if errs.Is(err, errs.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.FirstParty {
		return SupportedScopes, nil
	}
	g, err := p.store.Grant(ctx, userID, clientID)
	if errs.Is(err, errs.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(g.Scope), nil
}
