package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// registerMFA adds the second-factor routes.
func (a *API) registerMFA(e *echo.Echo, user func(echo.HandlerFunc) echo.HandlerFunc) {
	e.POST("/v1/login/mfa", a.routed(homeFromMFAToken, a.loginMFA))
	e.POST("/v1/login/passkey/begin", a.passkeyBegin)
	e.POST("/v1/login/passkey/finish", a.passkeyFinish)

	e.POST("/v1/mfa/totp", user(a.totpEnroll))
	e.POST("/v1/mfa/totp/confirm", user(a.totpConfirm))
	e.DELETE("/v1/mfa/totp", user(a.totpDisable))
	e.POST("/v1/mfa/recovery-codes", user(a.recoveryCodes))
	e.POST("/v1/mfa/webauthn/register/begin", user(a.webauthnRegisterBegin))
	e.POST("/v1/mfa/webauthn/register/finish", user(a.webauthnRegisterFinish))
	e.DELETE("/v1/mfa/webauthn/:id", user(a.webauthnDelete))
}

// homeFromMFAToken routes by the region prefix of the mfa_token.
func homeFromMFAToken(_ *API, _ echo.Context, body []byte) (string, error) {
	var v struct {
		Token string `json:"mfa_token"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", nil
	}
	region, _ := auth.ParseMFAToken(v.Token)
	return region, nil
}

// mfaRequired is the 401 that asks for a second factor.
func mfaRequired(ch *auth.MFAChallenge) error {
	details := map[string]any{"mfa_token": ch.Token, "methods": ch.Methods, "expires_in": ch.ExpiresIn}
	if ch.WebAuthn != nil {
		details["webauthn"] = ch.WebAuthn
	}
	return &errs.Error{Kind: errs.KindUnauthenticated, Code: "mfa_required", Message: "a second factor is required", Details: details}
}

func (a *API) loginMFA(c echo.Context) error {
	req, err := mfa.DecodeMFALoginRequest(c.Request().Body)
	if err != nil {
		return err
	}
	in := auth.MFALogin{
		Token: req.MFAToken, TOTPCode: req.TOTPCode, RecoveryCode: req.RecoveryCode, WebAuthn: req.WebAuthn,
	}
	if len(req.ChallengeSolution) > 0 {
		sol, err := defense.ParseSolution(req.ChallengeSolution)
		if err != nil {
			return errs.Invalid("invalid_request", "challenge_solution is malformed")
		}
		in.Challenge = &sol
	}
	res, err := a.Auth.CompleteMFA(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (a *API) passkeyBegin(c echo.Context) error {
	ceremony, err := a.Auth.BeginPasskeyLogin(c.Request().Context(), clientAddr(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ceremony)
}

func (a *API) passkeyFinish(c echo.Context) error {
	resp, err := mfa.DecodeWebAuthnResponse(c.Request().Body)
	if err != nil {
		return err
	}
	res, err := a.Auth.FinishPasskeyLogin(c.Request().Context(), resp, clientAddr(c), c.Request().UserAgent())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (a *API) totpEnroll(c echo.Context) error {
	en, err := a.Auth.EnrollTOTP(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"secret": en.Secret, "otpauth_uri": en.OTPAuthURI, "qr_png": en.QRPNG})
}

func (a *API) totpConfirm(c echo.Context) error {
	req, err := mfa.DecodeCodeRequest(c.Request().Body)
	if err != nil {
		return err
	}
	if err := a.Auth.ConfirmTOTP(c.Request().Context(), principal(c), req.Code); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) totpDisable(c echo.Context) error {
	if err := a.Auth.DisableTOTP(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) recoveryCodes(c echo.Context) error {
	codes, err := a.Auth.RegenerateRecoveryCodes(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"codes": codes})
}

func (a *API) webauthnRegisterBegin(c echo.Context) error {
	ceremony, err := a.Auth.BeginWebAuthnRegistration(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ceremony)
}

func (a *API) webauthnRegisterFinish(c echo.Context) error {
	resp, err := mfa.DecodeWebAuthnResponse(c.Request().Body)
	if err != nil {
		return err
	}
	cred, err := a.Auth.FinishWebAuthnRegistration(c.Request().Context(), principal(c), resp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"id": base64.RawURLEncoding.EncodeToString(cred.ID)})
}

func (a *API) webauthnDelete(c echo.Context) error {
	id, err := base64.RawURLEncoding.DecodeString(c.Param("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return errs.E(errs.KindNotFound, "not_found", "no such credential")
	}
	if err := a.Auth.DeleteWebAuthnCredential(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
