package web

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// sessionRow is a session as the account page lists it.
type sessionRow struct {
	auth.Session
	Current bool
}

// account is GET /account: sessions, devices, second factors and apps.
func (p *Pages) account(c echo.Context) error {
	return p.showAccount(c, nil, nil)
}

func (p *Pages) showAccount(c echo.Context, enrol *mfa.Enrolment, codes []string) error {
	s, u, ok := p.session(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	ctx := c.Request().Context()
	pr := auth.PrincipalOf(s)
	list, err := p.Accounts.Sessions(ctx, pr)
	if err != nil {
		return p.failure(c, err)
	}
	rows := make([]sessionRow, 0, len(list))
	for _, x := range list {
		rows = append(rows, sessionRow{x, x.ID == s.ID})
	}
	devices, err := p.Accounts.Devices(ctx, pr)
	if err != nil {
		return p.failure(c, err)
	}
	grants, err := p.OIDC.Grants(ctx, s.UserID)
	if err != nil {
		return p.failure(c, err)
	}
	data := map[string]any{"Email": u.Email, "Sessions": rows, "Devices": devices, "Grants": grants, "Codes": codes,
		"TOTP": s.ACR == mfa.ACRAAL2 && containsAMR(s.AMR, "otp"), "PasskeyAdded": c.QueryParam("passkey") == "added"}
	if enrol != nil {
		data["Enrolment"] = enrol
		data["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(enrol.QRPNG)) //nolint:gosec // our own PNG
	}
	return p.render(c, http.StatusOK, "account", "title_account", data, "", "")
}

func containsAMR(amr []string, v string) bool {
	for _, a := range amr {
		if a == v {
			return true
		}
	}
	return false
}

// withSession runs fn for a signed-in browser, else sends it to sign in.
func (p *Pages) withSession(c echo.Context, fn func(auth.Principal) error) error {
	s, _, ok := p.session(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := fn(auth.PrincipalOf(s)); err != nil {
		return p.failure(c, err)
	}
	return nil
}

func (p *Pages) logoutAll(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		if err := p.Accounts.LogoutAll(c.Request().Context(), pr); err != nil {
			return err
		}
		p.setCookie(c, sessionCookie, "", -1)
		return c.Redirect(http.StatusSeeOther, "/logout")
	})
}

func (p *Pages) endOneSession(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		id, err := uuid.Parse(c.FormValue("id"))
		if err == nil {
			_ = p.Accounts.EndSession(c.Request().Context(), pr, id)
		}
		return c.Redirect(http.StatusSeeOther, "/account")
	})
}

func (p *Pages) enrolTOTP(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		en, err := p.Accounts.EnrollTOTP(c.Request().Context(), pr)
		if err != nil {
			return err
		}
		return p.showAccount(c, &en, nil)
	})
}

func (p *Pages) confirmTOTP(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		if err := p.Accounts.ConfirmTOTP(c.Request().Context(), pr, c.FormValue("code")); err != nil {
			return p.render(c, http.StatusBadRequest, "notice", "title_account", map[string]any{"Text": "err_invalid_code"}, "err_invalid_code", "")
		}
		codes, err := p.Accounts.RegenerateRecoveryCodes(c.Request().Context(), pr)
		if err != nil {
			return err
		}
		return p.showAccount(c, nil, codes)
	})
}

func (p *Pages) recoveryCodes(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		codes, err := p.Accounts.RegenerateRecoveryCodes(c.Request().Context(), pr)
		if err != nil {
			return err
		}
		return p.showAccount(c, nil, codes)
	})
}

func (p *Pages) revokeGrant(c echo.Context) error {
	return p.withSession(c, func(pr auth.Principal) error {
		_ = p.OIDC.RevokeGrant(c.Request().Context(), pr.UserID, c.FormValue("client_id"))
		return c.Redirect(http.StatusSeeOther, "/account")
	})
}
