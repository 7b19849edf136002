package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// loginVerify is POST /login/verify: the same auth.Service.VerifyLogin as
// POST /v1/login/verify. A login the defense stepped up (the right
// password for an account without a second factor, after many failures
// or from a risky network) asks for the code it mailed; the right code
// signs in like any login, a wrong one shows the page again, and a
// challenge, limit or lock is shown on this page with the token kept.
func (p *Pages) loginVerify(c echo.Context) error {
	authz, tok := c.FormValue("authz"), c.FormValue("verification_token")
	data := map[string]any{"Authz": authz, "VerifyToken": tok}
	var sol *defense.Solution
	if raw := c.FormValue("challenge_solution"); raw != "" {
		if s, err := defense.ParseSolution([]byte(raw)); err == nil {
			sol = &s
		}
	}
	tr, err := p.Accounts.VerifyLogin(c.Request().Context(), tok, c.FormValue("code"), sol)
	if err != nil {
		e := errs.As(err)
		switch {
		case e != nil && e.Code == "invalid_verification_token":
			return p.render(c, http.StatusUnauthorized, "login", "title_login", map[string]any{"Authz": authz}, "err_verify_expired", "")
		case e != nil && e.Code == "invalid_code":
			return p.render(c, http.StatusUnauthorized, "verify", "title_verify", data, "err_invalid_code", "")
		case e != nil && e.Code == "invalid_request":
			return p.render(c, http.StatusBadRequest, "verify", "title_verify", data, "err_code_digits", "")
		case e != nil && e.Code == "account_disabled":
			return p.render(c, http.StatusForbidden, "login", "title_login", map[string]any{"Authz": authz}, "err_disabled", "")
		}
		return p.refused(c, err, "verify", "title_verify", "err_invalid_code", data)
	}
	return p.signedIn(c, tr, authz)
}

// verificationData is the code page's data for a stepped-up login.
func verificationData(authz string, v *auth.Verification) map[string]any {
	return map[string]any{"Authz": authz, "VerifyToken": v.Token}
}
