package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
	"github.com/gatehouse-id/gatehouse/app/oidc"
)

// authorize is GET /oauth2/authorize: a bad client or redirect URI shows
// the error page; other problems go back to the client; otherwise the
// request moves on with the browser session, if any.
func (p *Pages) authorize(c echo.Context) error {
	return p.proceed(c, c.Request().URL.Query(), nil, false)
}

// proceed validates an authorization request and takes its next step.
// sess is the session just created by a sign-in (fresh), else the cookie's.
func (p *Pages) proceed(c echo.Context, q url.Values, fresh *auth.Session, isFresh bool) error {
	ctx := c.Request().Context()
	req, err := p.OIDC.ParseAuthorize(ctx, q)
	var pe *oidc.PageError
	var re *oidc.RedirectError
	switch {
	case errors.As(err, &pe):
		return p.errorPage(c, http.StatusBadRequest, "err_"+pe.Code, "")
	case errors.As(err, &re):
		return c.Redirect(http.StatusSeeOther, oidcErrorRedirect(req, re, p.Issuer))
	case err != nil:
		return p.failure(c, err)
	}
	var authn *oidc.Authentication
	var email string
	if fresh != nil {
		authn = authnOf(*fresh)
	} else if s, u, ok := p.session(c); ok {
		authn, email = authnOf(s), u.Email
	}
	d, err := p.OIDC.Decide(ctx, req, authn, isFresh)
	if err != nil {
		return p.failure(c, err)
	}
	switch d.Next {
	case oidc.NextLogin:
		return p.render(c, http.StatusOK, "login", "title_login", map[string]any{
			"Authz": req.Raw, "ClientName": req.Client.Name, "Email": req.LoginHint}, "", "")
	case oidc.NextConsent:
		if email == "" && fresh != nil {
			email = p.emailOf(c, *fresh)
		}
		return p.render(c, http.StatusOK, "consent", "title_consent", map[string]any{
			"Authz": req.Raw, "ClientName": req.Client.Name, "Scopes": req.Scopes, "Email": email}, "", "")
	}
	return c.Redirect(http.StatusSeeOther, d.URL)
}

func (p *Pages) emailOf(c echo.Context, s auth.Session) string {
	if tok := c.Get(ctxNewSession); tok != nil {
		if _, u, err := p.Accounts.WebSession(c.Request().Context(), tok.(string)); err == nil {
			return u.Email
		}
	}
	return ""
}

// oidcErrorRedirect builds the client redirect of an authorization error.
func oidcErrorRedirect(req *oidc.AuthRequest, e *oidc.RedirectError, issuer string) string {
	v := url.Values{"error": {e.Code}, "error_description": {e.Description}, "iss": {issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	sep := "?"
	if u, err := url.Parse(req.RedirectURI); err == nil && u.RawQuery != "" {
		sep = "&"
	}
	return req.RedirectURI + sep + v.Encode()
}

// failure renders an unexpected error as the error page.
func (p *Pages) failure(c echo.Context, err error) error {
	p.Logger.ErrorContext(c.Request().Context(), "page failed", "path", c.Path(), "error", err)
	return p.errorPage(c, http.StatusInternalServerError, "err_generic", "")
}

func (p *Pages) loginPage(c echo.Context) error {
	if _, _, ok := p.session(c); ok && c.QueryParam("authz") == "" {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return p.render(c, http.StatusOK, "login", "title_login", map[string]any{"Authz": c.QueryParam("authz")}, "", "")
}

const ctxNewSession = "gatehouse.web.new_session"

// login is POST /login: the same auth.Service.Login as POST /v1/login,
// with the browser's device cookie, so every limit and lock applies.
func (p *Pages) login(c echo.Context) error {
	authz, email := c.FormValue("authz"), c.FormValue("email")
	lr := auth.LoginRequest{Email: email, Password: c.FormValue("password"), ClientID: auth.WebClient,
		IP: p.clientAddr(c), UserAgent: c.Request().UserAgent(), DeviceToken: p.cookie(c, deviceCookie)}
	if raw := c.FormValue("challenge_solution"); raw != "" {
		sol, err := defense.ParseSolution([]byte(raw))
		if err == nil {
			lr.Challenge = &sol
		}
	}
	data := map[string]any{"Authz": authz, "Email": email}
	res, err := p.Accounts.Login(c.Request().Context(), lr)
	if err != nil {
		return p.loginRefused(c, err, data)
	}
	switch res.Outcome {
	case auth.LoginSucceeded:
		return p.signedIn(c, res.Tokens, authz)
	case auth.LoginMFARequired:
		return p.render(c, http.StatusOK, "mfa", "title_mfa", mfaData(authz, res.MFA), "", "")
	case auth.LoginVerificationRequired:
		if res.Verification == nil {
			return p.failure(c, errors.New("web: verification_required without a token"))
		}
		return p.render(c, http.StatusOK, "verify", "title_verify", verificationData(authz, res.Verification), "", "")
	case auth.LoginDisabled:
		return p.render(c, http.StatusForbidden, "login", "title_login", data, "err_disabled", "")
	case auth.LoginResetRequired:
		return p.render(c, http.StatusForbidden, "login", "title_login", data, "err_reset_required", "")
	}
	return p.render(c, http.StatusUnauthorized, "login", "title_login", data, "err_invalid_credentials", "")
}

// loginRefused renders a refusal of the defense layers as a page a person
// understands, with the status and Retry-After of the JSON API.
func (p *Pages) loginRefused(c echo.Context, err error, data map[string]any) error {
	return p.refused(c, err, "login", "title_login", "err_invalid_credentials", data)
}

// refused renders a refusal on the page the person was on (a challenge
// is solved by that page's script); wrongKey says what a plain
// unauthenticated answer means there.
func (p *Pages) refused(c echo.Context, err error, page, title, wrongKey string, data map[string]any) error {
	e := errs.As(err)
	if e == nil {
		return p.failure(c, err)
	}
	wait := strconv.Itoa(max(1, int((e.RetryAfter+time.Second-1)/time.Second)))
	switch {
	case e.Code == "challenge_required":
		ch, _ := json.Marshal(e.Details["challenge"])
		data["Challenge"] = string(ch)
		return p.render(c, http.StatusForbidden, page, title, data, "err_challenge", "")
	case e.Kind == errs.KindLocked:
		c.Response().Header().Set("Retry-After", wait)
		return p.render(c, http.StatusLocked, page, title, data, "err_locked", wait)
	case e.Kind == errs.KindRateLimited:
		c.Response().Header().Set("Retry-After", wait)
		return p.render(c, http.StatusTooManyRequests, page, title, data, "err_rate_limited", wait)
	case e.Kind == errs.KindUnavailable:
		c.Response().Header().Set("Retry-After", wait)
		return p.render(c, http.StatusServiceUnavailable, page, title, data, "err_overloaded", wait)
	case e.Kind == errs.KindInvalid || e.Kind == errs.KindUnauthenticated:
		return p.render(c, http.StatusUnauthorized, page, title, data, wrongKey, "")
	}
	return p.failure(c, err)
}

// signedIn sets the browser session (ending the one it replaces) and
// continues the authorization request, or shows the account page.
func (p *Pages) signedIn(c echo.Context, tr auth.TokenResponse, authz string) error {
	ctx := c.Request().Context()
	if old, _, ok := p.session(c); ok {
		_ = p.Accounts.EndSessionOf(ctx, old.UserID, old.ID, "replaced")
	}
	p.setCookie(c, sessionCookie, tr.RefreshToken, 0)
	if tr.DeviceToken != "" {
		p.setCookie(c, deviceCookie, tr.DeviceToken, 365*24*3600)
	}
	c.Set(ctxNewSession, tr.RefreshToken)
	if authz == "" {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	sess, _, err := p.Accounts.WebSession(ctx, tr.RefreshToken)
	if err != nil {
		return p.failure(c, err)
	}
	q, err := url.ParseQuery(authz)
	if err != nil {
		return p.errorPage(c, http.StatusBadRequest, "err_invalid_request", "")
	}
	return p.proceed(c, q, &sess, true)
}

// loginMFA is POST /login/mfa: the same auth.Service.CompleteMFA as
// POST /v1/login/mfa.
func (p *Pages) loginMFA(c echo.Context) error {
	authz, tok := c.FormValue("authz"), c.FormValue("mfa_token")
	data := map[string]any{"Authz": authz, "MFAToken": tok}
	if c.FormValue("show_recovery") != "" {
		data["Recovery"] = true
		return p.render(c, http.StatusOK, "mfa", "title_mfa", data, "", "")
	}
	in := auth.MFALogin{Token: tok, TOTPCode: c.FormValue("totp_code"), RecoveryCode: c.FormValue("recovery_code")}
	if cred := c.FormValue("credential"); cred != "" {
		in.WebAuthn = &mfa.WebAuthnResponse{CeremonyID: c.FormValue("ceremony_id"), Credential: []byte(cred)}
	}
	data["Recovery"] = in.RecoveryCode != ""
	tr, err := p.Accounts.CompleteMFA(c.Request().Context(), in)
	if err != nil {
		e := errs.As(err)
		switch {
		case e != nil && e.Code == "invalid_mfa_token":
			return p.render(c, http.StatusUnauthorized, "login", "title_login", map[string]any{"Authz": authz}, "err_mfa_expired", "")
		case e != nil && (e.Code == "invalid_code" || (in.WebAuthn != nil && e.Kind == errs.KindInvalid)):
			return p.render(c, http.StatusUnauthorized, "mfa", "title_mfa", data, "err_invalid_code", "")
		}
		return p.loginRefused(c, err, map[string]any{"Authz": authz})
	}
	return p.signedIn(c, tr, authz)
}

// mfaData is the second-factor page's data: the pending login's token,
// and the WebAuthn assertion options when the account has a security key
// or passkey.
func mfaData(authz string, ch *auth.MFAChallenge) map[string]any {
	d := map[string]any{"Authz": authz, "MFAToken": ch.Token, "TOTP": slices.Contains(ch.Methods, mfa.MethodTOTP)}
	if ch.WebAuthn != nil {
		d["WebAuthnID"] = ch.WebAuthn.ID
		d["WebAuthnOptions"] = string(ch.WebAuthn.Options)
	}
	return d
}

// consent is POST /consent: allow records the grant and issues the code;
// deny returns access_denied to the client.
func (p *Pages) consent(c echo.Context) error {
	ctx := c.Request().Context()
	sess, _, ok := p.session(c)
	q, perr := url.ParseQuery(c.FormValue("authz"))
	if perr != nil {
		return p.errorPage(c, http.StatusBadRequest, "err_invalid_request", "")
	}
	req, err := p.OIDC.ParseAuthorize(ctx, q)
	var pe *oidc.PageError
	var re *oidc.RedirectError
	switch {
	case errors.As(err, &pe):
		return p.errorPage(c, http.StatusBadRequest, "err_"+pe.Code, "")
	case errors.As(err, &re):
		return c.Redirect(http.StatusSeeOther, oidcErrorRedirect(req, re, p.Issuer))
	case err != nil:
		return p.failure(c, err)
	}
	if !ok {
		return p.render(c, http.StatusOK, "login", "title_login", map[string]any{"Authz": req.Raw, "ClientName": req.Client.Name}, "err_login_required", "")
	}
	if c.FormValue("decision") != "allow" {
		return c.Redirect(http.StatusSeeOther, p.OIDC.Deny(req))
	}
	u, err := p.OIDC.Consent(ctx, req, authnOf(sess))
	if err != nil {
		return p.failure(c, err)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

func (p *Pages) signUpPage(c echo.Context) error {
	return p.render(c, http.StatusOK, "signup", "title_signup", map[string]any{"Authz": c.QueryParam("authz")}, "", "")
}

// signUp is POST /signup: auth.Service.SignUp, then the same login as the
// sign-in page (the account may have been taken: then it fails like a
// wrong password, and the enumeration guard holds).
func (p *Pages) signUp(c echo.Context) error {
	authz, email, pw := c.FormValue("authz"), c.FormValue("email"), c.FormValue("password")
	data := map[string]any{"Authz": authz, "Email": email}
	if _, err := p.Accounts.SignUp(c.Request().Context(), email, pw, p.clientAddr(c)); err != nil {
		e := errs.As(err)
		switch {
		case e != nil && e.Code == "invalid_email":
			return p.render(c, http.StatusBadRequest, "signup", "title_signup", data, "err_invalid_email", "")
		case e != nil && e.Kind == errs.KindInvalid:
			return p.render(c, http.StatusBadRequest, "signup", "title_signup", data, "err_password_policy", e.Message)
		case e != nil && e.Kind == errs.KindConflict:
			return p.render(c, http.StatusConflict, "signup", "title_signup", data, "err_generic", "")
		}
		return p.loginRefused(c, err, data)
	}
	return p.login(c)
}

func (p *Pages) forgotPage(c echo.Context) error {
	return p.render(c, http.StatusOK, "forgot", "title_forgot", nil, "", "")
}

// forgot is POST /password/forgot: always the same answer.
func (p *Pages) forgot(c echo.Context) error {
	if err := p.Accounts.RequestPasswordReset(c.Request().Context(), c.FormValue("email"), p.clientAddr(c)); err != nil && !errs.Is(err, errs.KindInvalid) {
		return p.failure(c, err)
	}
	return p.render(c, http.StatusOK, "notice", "title_forgot", map[string]any{"Text": "forgot_sent"}, "", "")
}

func (p *Pages) resetPage(c echo.Context) error {
	return p.render(c, http.StatusOK, "reset", "title_reset", map[string]any{"Token": c.QueryParam("token")}, "", "")
}

// reset is POST /password/reset: auth.Service.ConfirmPasswordReset.
func (p *Pages) reset(c echo.Context) error {
	tok := c.FormValue("token")
	err := p.Accounts.ConfirmPasswordReset(c.Request().Context(), tok, c.FormValue("password"), p.clientAddr(c))
	if err != nil {
		e := errs.As(err)
		if e != nil && e.Kind == errs.KindNotFound {
			return p.render(c, http.StatusBadRequest, "reset", "title_reset", map[string]any{"Token": tok}, "err_reset_token", "")
		}
		if e != nil && e.Kind == errs.KindInvalid {
			return p.render(c, http.StatusBadRequest, "reset", "title_reset", map[string]any{"Token": tok}, "err_password_policy", e.Message)
		}
		return p.failure(c, err)
	}
	return p.render(c, http.StatusOK, "notice", "title_reset", map[string]any{"Text": "reset_done"}, "", "")
}

// endSession is GET /oauth2/end_session (RP-Initiated Logout 1.0): it
// ends the browser session and the relying party's session named by a
// verified id_token_hint, then returns to a registered post-logout URI or
// shows the signed-out page. An unregistered URI is never followed.
//
// Without an id_token_hint the request could come from any site, so a
// signed-in person is asked first (RP-Initiated Logout 1.0 §2); the
// confirmation posts back here.
func (p *Pages) endSession(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	if c.Request().Method == http.MethodPost {
		q = url.Values{}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			q.Set(k, c.FormValue(k))
		}
	}
	l, err := p.OIDC.ParseLogout(ctx, q.Get("id_token_hint"), q.Get("client_id"), q.Get("post_logout_redirect_uri"), q.Get("state"))
	var pe *oidc.PageError
	if errors.As(err, &pe) {
		return p.errorPage(c, http.StatusBadRequest, "err_"+pe.Code, pe.Message)
	}
	if err != nil {
		return p.failure(c, err)
	}
	if _, _, signedIn := p.session(c); signedIn && q.Get("id_token_hint") == "" && c.Request().Method != http.MethodPost {
		return p.render(c, http.StatusOK, "logout_confirm", "title_logout_confirm", map[string]any{"ClientID": q.Get("client_id"),
			"PostLogout": q.Get("post_logout_redirect_uri"), "State": q.Get("state")}, "", "")
	}
	p.endBrowserSession(c)
	if err := p.OIDC.EndHintedSession(ctx, l); err != nil {
		return p.failure(c, err)
	}
	if l.RedirectURI != "" {
		return c.Redirect(http.StatusSeeOther, l.RedirectURI)
	}
	return p.render(c, http.StatusOK, "signed_out", "title_signed_out", nil, "", "")
}

// endBrowserSession ends the cookie's session and clears the cookie.
func (p *Pages) endBrowserSession(c echo.Context) {
	if s, _, ok := p.session(c); ok {
		if err := p.Accounts.EndSessionOf(c.Request().Context(), s.UserID, s.ID, "logout"); err != nil {
			p.Logger.WarnContext(c.Request().Context(), "browser session not ended", "error", err)
		}
	}
	p.setCookie(c, sessionCookie, "", -1)
}

func (p *Pages) logout(c echo.Context) error {
	p.endBrowserSession(c)
	return c.Redirect(http.StatusSeeOther, "/logout")
}

func (p *Pages) signedOutPage(c echo.Context) error {
	return p.render(c, http.StatusOK, "signed_out", "title_signed_out", nil, "", "")
}
