// Package web serves Gatehouse's hosted pages: sign in, second factor,
// emailed sign-in code, sign up, forgotten password and reset, consent,
// signed out, error and the account page. Pages are html/template files
// embedded in the binary, with no third-party assets; every page carries
// a CSP with a fresh nonce and frame-ancestors 'none', every form a CSRF
// token. Handlers are thin: they call the same app/auth methods as the
// JSON API (so admission, limits, lockout, MFA and regions apply once) and
// app/oidc for the protocol.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/mfa"
	"github.com/gatehouse-id/gatehouse/app/oidc"
)

// Accounts is the account service the pages call (*auth.Service).
type Accounts interface {
	Login(ctx context.Context, req auth.LoginRequest) (auth.LoginResult, error)
	CompleteMFA(ctx context.Context, in auth.MFALogin) (auth.TokenResponse, error)
	VerifyLogin(ctx context.Context, tok, code string, challenge *defense.Solution) (auth.TokenResponse, error)
	SignUp(ctx context.Context, email, pw, ip string) (auth.SignUpResult, error)
	RequestPasswordReset(ctx context.Context, email, ip string) error
	ConfirmPasswordReset(ctx context.Context, tok, next, ip string) error
	WebSession(ctx context.Context, cookie string) (auth.Session, auth.User, error)
	EndSessionOf(ctx context.Context, userID, sessionID uuid.UUID, reason string) error
	Sessions(ctx context.Context, p auth.Principal) ([]auth.Session, error)
	EndSession(ctx context.Context, p auth.Principal, sessionID uuid.UUID) error
	LogoutAll(ctx context.Context, p auth.Principal) error
	Devices(ctx context.Context, p auth.Principal) ([]auth.Device, error)
	EnrollTOTP(ctx context.Context, p auth.Principal) (mfa.Enrolment, error)
	ConfirmTOTP(ctx context.Context, p auth.Principal, code string) error
	RegenerateRecoveryCodes(ctx context.Context, p auth.Principal) ([]string, error)
	BeginPasskeyLogin(ctx context.Context, ip string) (mfa.Ceremony, error)
	FinishPasskeyLoginFor(ctx context.Context, resp mfa.WebAuthnResponse, clientID, ip, ua string) (auth.TokenResponse, error)
	BeginWebAuthnRegistration(ctx context.Context, p auth.Principal) (mfa.Ceremony, error)
	FinishWebAuthnRegistration(ctx context.Context, p auth.Principal, resp mfa.WebAuthnResponse) (mfa.WebAuthnCredential, error)
}

// Provider is the OpenID Connect provider (*oidc.Provider).
type Provider interface {
	ParseAuthorize(ctx context.Context, q url.Values) (*oidc.AuthRequest, error)
	Decide(ctx context.Context, req *oidc.AuthRequest, authn *oidc.Authentication, fresh bool) (oidc.Decision, error)
	Consent(ctx context.Context, req *oidc.AuthRequest, authn *oidc.Authentication) (string, error)
	Deny(req *oidc.AuthRequest) string
	ParseLogout(ctx context.Context, idTokenHint, clientID, postLogout, state string) (oidc.Logout, error)
	EndHintedSession(ctx context.Context, l oidc.Logout) error
	Grants(ctx context.Context, userID uuid.UUID) ([]oidc.GrantView, error)
	RevokeGrant(ctx context.Context, userID uuid.UUID, clientID string) error
}

// Pages are the hosted pages of one region.
type Pages struct {
	Accounts Accounts
	OIDC     Provider
	// Issuer is the public origin; https makes cookies Secure and
	// __Host- prefixed (plain http is for localhost development only).
	Issuer string
	Logger *slog.Logger
	Now    func() time.Time
	// Regions routes user-scoped requests to the account's home region
	// (set before Register); nil serves everything here (one region).
	Regions Regions
}

// cookie names; secure ones carry the __Host- prefix (Secure, Path=/, no
// Domain), which a browser accepts only over https.
func (p *Pages) secure() bool { return strings.HasPrefix(p.Issuer, "https://") }

func (p *Pages) cookieName(base string) string {
	if p.secure() {
		return "__Host-" + base
	}
	return base
}

const (
	sessionCookie = "gh_session"
	deviceCookie  = "gh_device"
	csrfCookie    = "gh_csrf"
)

// Register adds the pages' routes.
func (p *Pages) Register(e *echo.Echo) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	// Each route is wrapped on its own: an Echo group with middleware
	// would claim every unmatched path ("/*") for the pages.
	g := pageRoutes{e: e, mw: p.headers}
	g.GET("/oauth2/authorize", p.page(p.homeOfSession, p.authorize))
	g.GET("/oauth2/end_session", p.page(p.homeOfSession, p.endSession))
	g.POST("/oauth2/end_session", p.form(p.homeOfSession, p.endSession))
	g.GET("/login", p.loginPage)
	g.POST("/login", p.form(p.homeOfEmail, p.login))
	g.POST("/login/mfa", p.form(homeOfMFAToken, p.loginMFA))
	g.POST("/login/verify", p.form(homeOfVerifyToken, p.loginVerify))
	g.GET("/signup", p.signUpPage)
	g.POST("/signup", p.form(p.homeOfSignUp, p.signUp))
	g.GET("/password/forgot", p.forgotPage)
	g.POST("/password/forgot", p.form(p.homeOfEmail, p.forgot))
	g.GET("/password/reset", p.resetPage)
	g.POST("/password/reset", p.form(homeOfResetToken, p.reset))
	g.POST("/consent", p.form(p.homeOfSession, p.consent))
	g.GET("/logout", p.signedOutPage)
	g.POST("/logout", p.form(p.homeOfSession, p.logout))
	g.GET("/account", p.page(p.homeOfSession, p.account))
	g.POST("/account/logout-all", p.form(p.homeOfSession, p.logoutAll))
	g.POST("/account/sessions/end", p.form(p.homeOfSession, p.endOneSession))
	g.POST("/account/totp", p.form(p.homeOfSession, p.enrolTOTP))
	g.POST("/account/totp/confirm", p.form(p.homeOfSession, p.confirmTOTP))
	g.POST("/account/recovery-codes", p.form(p.homeOfSession, p.recoveryCodes))
	g.POST("/account/grants/revoke", p.form(p.homeOfSession, p.revokeGrant))
	// A passkey sign-in stays in the region it reached: no account is
	// known before the assertion (the ceremony is this region's), and the
	// passkey proves possession, so there is no password budget to spend.
	g.POST("/login/passkey/begin", p.csrfHeader(p.passkeyBegin))
	g.POST("/login/passkey", p.csrf(p.passkeyLogin))
	g.POST("/account/passkeys/begin", p.fetch(p.homeOfSession, p.passkeyRegisterBegin))
	g.POST("/account/passkeys/finish", p.fetch(p.homeOfSession, p.passkeyRegisterFinish))
}

// pageRoutes registers routes with the pages' middleware.
type pageRoutes struct {
	e  *echo.Echo
	mw echo.MiddlewareFunc
}

// GET registers a GET page.
func (r pageRoutes) GET(path string, h echo.HandlerFunc) { r.e.GET(path, r.mw(h)) }

// POST registers a POST form handler.
func (r pageRoutes) POST(path string, h echo.HandlerFunc) { r.e.POST(path, r.mw(h)) }

const ctxNonce = "gatehouse.web.nonce"

// headers sets the pages' security headers: a CSP whose only scripts and
// styles are the page's own (by nonce), no framing, no caching, no referrer.
func (p *Pages) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		nonce := randomToken(18)
		c.Set(ctxNonce, nonce)
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
			"'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setCookie writes a cookie with the pages' attributes: HttpOnly,
// SameSite=Lax, Path=/, Secure on https.
func (p *Pages) setCookie(c echo.Context, base, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: p.cookieName(base), Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: p.secure(), SameSite: http.SameSiteLaxMode})
}

func (p *Pages) cookie(c echo.Context, base string) string {
	ck, err := c.Cookie(p.cookieName(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// csrfToken returns the browser's CSRF token, setting its cookie the first
// time (double submit with a __Host- cookie, which no other origin and no
// subdomain can set).
func (p *Pages) csrfToken(c echo.Context) string {
	if v := p.cookie(c, csrfCookie); len(v) >= 32 {
		return v
	}
	if v, ok := c.Get("gatehouse.web.csrf").(string); ok {
		return v
	}
	v := randomToken(32)
	c.Set("gatehouse.web.csrf", v)
	p.setCookie(c, csrfCookie, v, 0)
	return v
}

// csrf refuses a form whose token does not match the cookie, or that
// comes from another origin.
func (p *Pages) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !p.csrfValid(c) {
			return p.errorPage(c, http.StatusForbidden, "err_csrf", "")
		}
		return next(c)
	}
}

// csrfValid reports whether a form's token matches the cookie and its
// Origin, if any, is ours.
func (p *Pages) csrfValid(c echo.Context) bool {
	ck := p.cookie(c, csrfCookie)
	form := c.FormValue("csrf_token")
	origin := c.Request().Header.Get("Origin")
	return len(ck) >= 32 && subtle.ConstantTimeCompare([]byte(ck), []byte(form)) == 1 &&
		(origin == "" || origin == "null" || p.sameOrigin(origin, c))
}

// csrfHeader guards the pages' fetch() endpoints: the X-CSRF-Token header
// must match the cookie (another origin can neither read the cookie nor
// send the header without a CORS preflight, which is never granted).
func (p *Pages) csrfHeader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !p.csrfHeaderValid(c) {
			return c.JSON(http.StatusForbidden, map[string]string{"error": "csrf", "error_description": "missing or wrong CSRF token"})
		}
		return next(c)
	}
}

// csrfHeaderValid reports whether the X-CSRF-Token header matches the
// cookie.
func (p *Pages) csrfHeaderValid(c echo.Context) bool {
	ck := p.cookie(c, csrfCookie)
	h := c.Request().Header.Get("X-CSRF-Token")
	return len(ck) >= 32 && subtle.ConstantTimeCompare([]byte(ck), []byte(h)) == 1
}

func (p *Pages) sameOrigin(origin string, c echo.Context) bool {
	if strings.TrimRight(p.Issuer, "/") == origin {
		return true
	}
	if p.secure() {
		return false
	}
	// Development servers reached by another name (127.0.0.1 vs localhost).
	// A forwarded request's Host is this region's internal address; the
	// entry region compared the Origin with its own Host before it
	// forwarded the form (routed).
	return origin == "http://"+c.Request().Host || p.forwarded(c)
}

// session reads the browser session; ok is false when there is none.
func (p *Pages) session(c echo.Context) (auth.Session, auth.User, bool) {
	v := p.cookie(c, sessionCookie)
	if v == "" {
		return auth.Session{}, auth.User{}, false
	}
	s, u, err := p.Accounts.WebSession(c.Request().Context(), v)
	if err != nil {
		return auth.Session{}, auth.User{}, false
	}
	return s, u, true
}

func authnOf(s auth.Session) *oidc.Authentication {
	return &oidc.Authentication{UserID: s.UserID, HomeRegion: s.HomeRegion, SessionID: s.ID, AuthTime: s.AuthTime, AMR: s.AMR, ACR: s.ACR}
}
