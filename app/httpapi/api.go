package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// API is the public and admin API of one region, on top of the auth
// service.
type API struct {
	Auth *auth.Service
	// Issuer is the token issuer URL; discovery advertises endpoints under it.
	Issuer string
	// JWKS returns the current JSON Web Key Set document.
	JWKS func() ([]byte, error)
	// AdminToken guards /admin and introspection; empty disables them.
	AdminToken string
	// Defense switches the region's defense mode (admin); nil hides it.
	Defense DefenseModes
	// Importer serves the admin bulk import; nil hides it.
	Importer Importer
	// Residency maps a country hint (ISO 3166 alpha-2, upper case) to the
	// home region of users who sign up with it; CountryHeader carries the
	// hint, believed only when TrustedPeer says the request came through a
	// trusted proxy. Without a rule, users are homed where they sign up.
	Residency     map[string]string
	CountryHeader string
	TrustedPeer   func(*http.Request) bool
	// Region is this process's region; Forwarding reaches the others (nil
	// serves everything here).
	Region     string
	Forwarding Forwarding
	Logger     *slog.Logger
	// Audit serves users' event history (events.go); nil hides it.
	Audit AuditTrail
	// OIDC is the OpenID Connect provider; nil serves only the
	// first-party API.
	OIDC Provider
}

// Register adds the API's routes.
func (a *API) Register(e *echo.Echo) {
	e.GET("/.well-known/openid-configuration", a.discovery)
	e.GET("/.well-known/jwks.json", a.jwks)

	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	// User-scoped requests run in the user's home region (routed).
	user := func(h echo.HandlerFunc) echo.HandlerFunc { return a.routed(homeFromBearer, a.bearer(h)) }
	e.POST("/v1/users", a.routed(homeFromResidency, a.signUp))
	e.POST("/v1/login", a.routed(homeFromEmail, a.login))
	e.POST("/v1/logout", user(a.logout))
	e.POST("/v1/logout/all", user(a.logoutAll))
	e.GET("/v1/me", user(a.me))
	e.GET("/v1/sessions", user(a.sessions))
	e.DELETE("/v1/sessions/:id", user(a.endSession))
	e.POST("/v1/password/change", user(a.changePassword))
	e.GET("/v1/devices", user(a.devices))
	e.DELETE("/v1/devices/:id", user(a.forgetDevice))
	e.POST("/v1/password/reset", a.routed(homeFromEmail, a.requestReset))
	e.POST("/v1/password/reset/confirm", a.routed(homeFromResetToken, a.confirmReset))

	a.registerMFA(e, user)
	e.POST("/v1/login/verify", a.routed(homeFromVerifyToken, a.verifyLogin))
	a.registerEvents(e, user)
	a.registerOIDC(e, user)

	e.POST("/oauth2/token", a.routed(homeFromFormToken, a.token))
	e.POST("/oauth2/revoke", a.routed(homeFromFormToken, a.revoke))
	e.POST("/oauth2/introspect", a.routed(homeFromFormToken, a.introspector(a.introspect)))

	e.POST("/admin/v1/users/:id/ban", a.admin(a.ban))
	e.POST("/admin/v1/users/:id/unban", a.admin(a.unban))
	e.POST("/admin/v1/users/:id/sessions/revoke", a.admin(a.revokeUserSessions))
	e.POST("/admin/v1/users/:id/password/force-reset", a.admin(a.forceReset))
	e.POST("/admin/v1/users/import", a.admin(a.importUsers))
	e.GET("/admin/v1/defense", a.admin(a.getDefense))
	e.PUT("/admin/v1/defense", a.admin(a.putDefense))
}

const ctxPrincipal = "gatehouse.principal"

// bearer authenticates the request's access token.
func (a *API) bearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearerToken(c.Request())
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			return errs.E(errs.KindUnauthenticated, "invalid_token", "a Bearer access token is required")
		}
		p, err := a.Auth.Authenticate(c.Request().Context(), tok)
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		return next(c)
	}
}

func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(ctxPrincipal).(auth.Principal)
	return p
}

// admin checks the admin bearer token in constant time.
func (a *API) admin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok, ok := bearerToken(c.Request())
		if a.AdminToken == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(a.AdminToken)) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
			return errs.E(errs.KindUnauthenticated, "unauthorized", "this endpoint needs the admin token")
		}
		return next(c)
	}
}

// bearerToken reads exactly one "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

func (a *API) discovery(c echo.Context) error {
	return c.JSON(http.StatusOK, a.discoveryDocument())
}

func (a *API) jwks(c echo.Context) error {
	doc, err := a.JWKS()
	if err != nil {
		return errs.Internal(err)
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	c.Response().Header().Del("Pragma")
	return c.Blob(http.StatusOK, "application/jwk-set+json", doc)
}

type signUpRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) signUp(c echo.Context) error {
	var req signUpRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	res, err := a.Auth.SignUp(c.Request().Context(), req.Email, req.Password, clientAddr(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"user_id": res.UserID.String(), "home_region": res.HomeRegion})
}

type loginRequest struct {
	Email             string          `json:"email"`
	Password          string          `json:"password"`
	DeviceToken       string          `json:"device_token,omitempty"`
	ChallengeSolution json.RawMessage `json:"challenge_solution,omitempty"`
}

func (a *API) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	lr := auth.LoginRequest{
		Email: req.Email, Password: req.Password, IP: clientAddr(c), UserAgent: c.Request().UserAgent(),
		DeviceToken: req.DeviceToken,
	}
	if len(req.ChallengeSolution) > 0 && string(req.ChallengeSolution) != "null" {
		sol, err := defense.ParseSolution(req.ChallengeSolution)
		if err != nil {
			return errs.Invalid("invalid_request", "challenge_solution is malformed")
		}
		lr.Challenge = &sol
	}
	res, err := a.Auth.Login(c.Request().Context(), lr)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case auth.LoginSucceeded:
		return c.JSON(http.StatusOK, res.Tokens)
	case auth.LoginDisabled:
		return errs.E(errs.KindForbidden, "account_disabled", "this account is disabled")
	case auth.LoginMFARequired:
		return mfaRequired(res.MFA)
	case auth.LoginVerificationRequired:
		return verificationRequired(res.Verification)
	case auth.LoginResetRequired:
		return errs.E(errs.KindForbidden, "password_reset_required", "this password must be reset before it can be used again; use the password reset link")
	}
	return errs.E(errs.KindUnauthenticated, "invalid_credentials", "the email or password is wrong")
}

func (a *API) logout(c echo.Context) error {
	if err := a.Auth.Logout(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) logoutAll(c echo.Context) error {
	if err := a.Auth.LogoutAll(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) me(c echo.Context) error {
	u, err := a.Auth.Me(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"user_id": u.ID.String(), "email": u.Email, "email_verified": u.EmailVerified, "home_region": u.HomeRegion,
		"created_at": u.CreatedAt.UTC().Format(time.RFC3339), "must_change_password": u.MustChangePassword,
		"password_breached": u.PasswordBreached,
	})
}

func (a *API) sessions(c echo.Context) error {
	p := principal(c)
	list, err := a.Auth.Sessions(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		out = append(out, map[string]any{
			"id": s.ID.String(), "client_id": s.ClientID, "home_region": s.HomeRegion,
			"created_at": s.CreatedAt.UTC().Format(time.RFC3339), "last_seen_at": s.LastSeenAt.UTC().Format(time.RFC3339),
			"expires_at": s.ExpiresAt.UTC().Format(time.RFC3339), "ip": s.IP, "user_agent": s.UserAgent,
			"amr": s.AMR, "current": s.ID == p.SessionID,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

func (a *API) endSession(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return errs.E(errs.KindNotFound, "not_found", "no such session")
	}
	if err := a.Auth.EndSession(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *API) changePassword(c echo.Context) error {
	var req changePasswordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Auth.ChangePassword(c.Request().Context(), principal(c), req.CurrentPassword, req.NewPassword, clientAddr(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type resetRequest struct {
	Email string `json:"email"`
}

func (a *API) requestReset(c echo.Context) error {
	var req resetRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Auth.RequestPasswordReset(c.Request().Context(), req.Email, clientAddr(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "if the address has an account, a reset link is on its way"})
}

type resetConfirmRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (a *API) confirmReset(c echo.Context) error {
	var req resetConfirmRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Auth.ConfirmPasswordReset(c.Request().Context(), req.Token, req.NewPassword, clientAddr(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
