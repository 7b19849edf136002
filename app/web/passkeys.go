package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// passkeyBegin starts a passwordless sign-in (the same ceremony as
// POST /v1/login/passkey/begin).
func (p *Pages) passkeyBegin(c echo.Context) error {
	ceremony, err := p.Accounts.BeginPasskeyLogin(c.Request().Context(), p.clientAddr(c))
	if err != nil {
		return jsonFailure(c, err)
	}
	return c.JSON(http.StatusOK, ceremony)
}

// passkeyLogin is the form the page's script submits with the assertion.
func (p *Pages) passkeyLogin(c echo.Context) error {
	authz := c.FormValue("authz")
	resp := mfa.WebAuthnResponse{CeremonyID: c.FormValue("ceremony_id"), Credential: []byte(c.FormValue("credential"))}
	if len(resp.Credential) < 2 || resp.Credential[0] != '{' || resp.CeremonyID == "" {
		return p.render(c, http.StatusBadRequest, "login", "title_login", map[string]any{"Authz": authz}, "err_passkey", "")
	}
	tr, err := p.Accounts.FinishPasskeyLoginFor(c.Request().Context(), resp, auth.WebClient, p.clientAddr(c), c.Request().UserAgent())
	if err != nil {
		if e := errs.As(err); e != nil && (e.Kind == errs.KindUnauthenticated || e.Kind == errs.KindInvalid || e.Kind == errs.KindNotFound) {
			return p.render(c, http.StatusUnauthorized, "login", "title_login", map[string]any{"Authz": authz}, "err_passkey", "")
		}
		return p.loginRefused(c, err, map[string]any{"Authz": authz})
	}
	return p.signedIn(c, tr, authz)
}

// passkeyRegisterBegin starts registering a passkey for the signed-in user.
func (p *Pages) passkeyRegisterBegin(c echo.Context) error {
	s, _, ok := p.session(c)
	if !ok {
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "login_required"})
	}
	ceremony, err := p.Accounts.BeginWebAuthnRegistration(c.Request().Context(), auth.PrincipalOf(s))
	if err != nil {
		return jsonFailure(c, err)
	}
	return c.JSON(http.StatusOK, ceremony)
}

// passkeyRegisterFinish stores the new passkey.
func (p *Pages) passkeyRegisterFinish(c echo.Context) error {
	s, _, ok := p.session(c)
	if !ok {
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "login_required"})
	}
	resp, err := mfa.DecodeWebAuthnResponse(c.Request().Body)
	if err != nil {
		return jsonFailure(c, err)
	}
	if _, err := p.Accounts.FinishWebAuthnRegistration(c.Request().Context(), auth.PrincipalOf(s), resp); err != nil {
		return jsonFailure(c, err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"status": "added"})
}

// jsonFailure answers a page script with the error's code (the page shows
// its own words); internal causes are never shown.
func jsonFailure(c echo.Context, err error) error {
	e := errs.As(err)
	if e == nil || e.Kind == errs.KindInternal {
		return c.JSON(http.StatusInternalServerError, map[string]string{"error": "internal_error"})
	}
	status := http.StatusBadRequest
	switch e.Kind {
	case errs.KindUnauthenticated:
		status = http.StatusUnauthorized
	case errs.KindForbidden:
		status = http.StatusForbidden
	case errs.KindNotFound:
		status = http.StatusNotFound
	case errs.KindConflict:
		status = http.StatusConflict
	case errs.KindRateLimited:
		status = http.StatusTooManyRequests
	case errs.KindUnavailable:
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, map[string]string{"error": e.Code, "error_description": e.Message})
}
