package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// verificationRequired is the 401 that asks for the emailed code.
func verificationRequired(v *auth.Verification) error {
	return &errs.Error{Kind: errs.KindUnauthenticated, Code: "verification_required",
		Message: "a one-time code was sent to the account's email address; send it to /v1/login/verify",
		Details: map[string]any{"verification_token": v.Token, "expires_in": v.ExpiresIn}}
}

// homeFromVerifyToken routes /v1/login/verify by the region in its token.
func homeFromVerifyToken(_ *API, _ echo.Context, body []byte) (string, error) {
	var v struct {
		Token string `json:"verification_token"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", nil
	}
	region, _ := auth.ParseVerifyToken(v.Token)
	return region, nil
}

type verifyRequest struct {
	Token             string          `json:"verification_token"`
	Code              string          `json:"code"`
	ChallengeSolution json.RawMessage `json:"challenge_solution,omitempty"`
}

// verifyLogin completes a login that answered verification_required.
func (a *API) verifyLogin(c echo.Context) error {
	var req verifyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var sol *defense.Solution
	if len(req.ChallengeSolution) > 0 && string(req.ChallengeSolution) != "null" {
		s, err := defense.ParseSolution(req.ChallengeSolution)
		if err != nil {
			return errs.Invalid("invalid_request", "challenge_solution is malformed")
		}
		sol = &s
	}
	tokens, err := a.Auth.VerifyLogin(c.Request().Context(), req.Token, req.Code, sol)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tokens)
}
