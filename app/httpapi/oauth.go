package httpapi

import (
	"mime"
	"net/http"
	"net/url"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// readForm parses an application/x-www-form-urlencoded body; a parameter
// given twice is refused (RFC 6749 §3.2).
func readForm(c echo.Context, allowed ...string) (url.Values, error) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errs.Invalid("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	if err := req.ParseForm(); err != nil {
		return nil, jsonError(err)
	}
	if len(req.URL.RawQuery) > 0 {
		return nil, errs.Invalid("invalid_request", "parameters belong in the body, not the URL")
	}
	for k, v := range req.PostForm {
		if len(v) > 1 {
			return nil, errs.Invalid("invalid_request", "parameter "+k+" is given more than once")
		}
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, errs.Invalid("invalid_request", "unknown parameter "+k)
		}
	}
	return req.PostForm, nil
}

func (a *API) token(c echo.Context) error {
	form, err := readForm(c, "grant_type", "refresh_token", "client_id", "client_secret", "scope", "code", "redirect_uri", "code_verifier")
	if err != nil {
		return err
	}
	switch form.Get("grant_type") {
	case "refresh_token":
	case "authorization_code", "client_credentials":
		if a.OIDC != nil {
			return a.oidcToken(c, form)
		}
		return errs.Invalid("unsupported_grant_type", "only the refresh_token grant is supported")
	case "":
		return errs.Invalid("invalid_request", "grant_type is required")
	default:
		return errs.Invalid("unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials")
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return errs.Invalid("invalid_request", "refresh_token is required")
	}
	clientID := form.Get("client_id")
	if a.OIDC != nil {
		cl, present, err := a.authenticateClient(c, form)
		if err != nil {
			return err
		}
		if present {
			clientID = cl.ID
		}
	} else if clientID != "" && clientID != auth.FirstPartyClient {
		return errs.E(errs.KindUnauthenticated, "invalid_client", "unknown client")
	}
	res, err := a.Auth.Refresh(c.Request().Context(), rt, clientID, clientAddr(c), c.Request().UserAgent())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// revoke implements RFC 7009: 200 whether or not the token was valid. A
// client that authenticates may revoke only its own tokens (§2.1); a
// request without client authentication is the first-party client's.
func (a *API) revoke(c echo.Context) error {
	form, err := readForm(c, "token", "token_type_hint", "client_id", "client_secret")
	if err != nil {
		return err
	}
	tok := form.Get("token")
	if tok == "" {
		return errs.Invalid("invalid_request", "token is required")
	}
	if a.OIDC != nil {
		cl, present, err := a.authenticateClient(c, form)
		if err != nil {
			return err
		}
		if present && cl.ID != auth.FirstPartyClient {
			info, err := a.Auth.Introspect(c.Request().Context(), tok)
			if err != nil {
				return err
			}
			if !info.Active || info.ClientID != cl.ID {
				return c.NoContent(http.StatusOK)
			}
		}
	}
	if err := a.Auth.Revoke(c.Request().Context(), tok); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// introspect implements RFC 7662; the caller must present the admin token.
func (a *API) introspect(c echo.Context) error {
	form, err := readForm(c, "token", "token_type_hint", "client_id", "client_secret")
	if err != nil {
		return err
	}
	res, err := a.Auth.Introspect(c.Request().Context(), form.Get("token"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func userIDParam(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, errs.E(errs.KindNotFound, "not_found", "no such user")
	}
	return id, nil
}

func (a *API) ban(c echo.Context) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	if err := a.Auth.Ban(c.Request().Context(), id); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"user_id": id.String(), "status": auth.StatusBanned})
}

func (a *API) unban(c echo.Context) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	if err := a.Auth.Unban(c.Request().Context(), id); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"user_id": id.String(), "status": auth.StatusActive})
}

func (a *API) revokeUserSessions(c echo.Context) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	n, err := a.Auth.RevokeAllSessions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user_id": id.String(), "sessions_revoked": n})
}

func (a *API) forceReset(c echo.Context) error {
	id, err := userIDParam(c)
	if err != nil {
		return err
	}
	if err := a.Auth.ForcePasswordReset(c.Request().Context(), id); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"user_id": id.String(), "status": "password_reset_required"})
}
