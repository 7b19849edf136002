package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/oidc"
)

// Provider is the OpenID Connect provider behind the token, userinfo,
// client-admin and grants endpoints (*oidc.Provider).
type Provider interface {
	AuthenticateClient(ctx context.Context, cc oidc.ClientCredentials) (oidc.Client, error)
	Exchange(ctx context.Context, client oidc.Client, code, redirectURI, verifier, ip, ua string) (oidc.TokenSet, error)
	ClientCredentials(client oidc.Client, scope string) (oidc.TokenSet, error)
	UserInfo(ctx context.Context, bearer string) (map[string]any, error)
	CreateClient(ctx context.Context, spec oidc.ClientSpec) (oidc.Client, string, error)
	Client(ctx context.Context, id string) (oidc.Client, error)
	ListClients(ctx context.Context) ([]oidc.Client, error)
	RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error)
	DeleteClient(ctx context.Context, id string) error
	Grants(ctx context.Context, userID uuid.UUID) ([]oidc.GrantView, error)
	RevokeGrant(ctx context.Context, userID uuid.UUID, clientID string) error
}

// registerOIDC adds the provider's JSON endpoints.
func (a *API) registerOIDC(e *echo.Echo, user func(echo.HandlerFunc) echo.HandlerFunc) {
	if a.OIDC == nil {
		return
	}
	e.GET("/oauth2/userinfo", a.routed(homeFromBearer, a.userinfo))
	e.POST("/oauth2/userinfo", a.routed(homeFromBearer, a.userinfo))
	e.GET("/v1/grants", user(a.listGrants))
	e.DELETE("/v1/grants/:client_id", user(a.revokeGrant))
	e.POST("/admin/v1/clients", a.admin(a.createClient))
	e.GET("/admin/v1/clients", a.admin(a.listClients))
	e.GET("/admin/v1/clients/:id", a.admin(a.showClient))
	e.POST("/admin/v1/clients/:id/rotate-secret", a.admin(a.rotateClientSecret))
	e.DELETE("/admin/v1/clients/:id", a.admin(a.deleteClient))
}

// clientCredentials reads client authentication: client_secret_basic
// (RFC 6749 §2.3.1, form-urlencoded id and secret) or client_secret_post,
// never both; present is false when the request names no client.
func clientCredentials(c echo.Context, form url.Values) (cc oidc.ClientCredentials, present bool, err error) {
	if h := c.Request().Header.Get("Authorization"); h != "" {
		scheme, _, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Basic") {
			id, secret, ok := c.Request().BasicAuth()
			idu, err1 := url.QueryUnescape(id)
			secu, err2 := url.QueryUnescape(secret)
			if !ok || err1 != nil || err2 != nil || form.Has("client_secret") || (form.Get("client_id") != "" && form.Get("client_id") != idu) {
				return cc, true, invalidClientBasic(c)
			}
			return oidc.ClientCredentials{ID: idu, Secret: secu, Basic: true}, true, nil
		}
	}
	if form.Get("client_id") == "" {
		if form.Has("client_secret") {
			return cc, true, errs.Invalid("invalid_request", "client_secret without client_id")
		}
		return cc, false, nil
	}
	return oidc.ClientCredentials{ID: form.Get("client_id"), Secret: form.Get("client_secret"), SecretInBody: form.Has("client_secret")}, true, nil
}

func invalidClientBasic(c echo.Context) error {
	c.Response().Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	return errs.E(errs.KindUnauthenticated, "invalid_client", "client authentication failed")
}

// authenticateClient authenticates the client a token request names.
func (a *API) authenticateClient(c echo.Context, form url.Values) (oidc.Client, bool, error) {
	cc, present, err := clientCredentials(c, form)
	if err != nil || !present {
		return oidc.Client{}, present, err
	}
	if cc.ID == auth.FirstPartyClient && !cc.Basic && cc.Secret == "" {
		return oidc.Client{ID: auth.FirstPartyClient, FirstParty: true}, true, nil
	}
	cl, err := a.OIDC.AuthenticateClient(c.Request().Context(), cc)
	if err != nil && cc.Basic {
		return cl, true, invalidClientBasic(c)
	}
	return cl, true, err
}

// oidcToken serves the grants of the provider: authorization_code and
// client_credentials.
func (a *API) oidcToken(c echo.Context, form url.Values) error {
	client, present, err := a.authenticateClient(c, form)
	if err != nil {
		return err
	}
	if !present || client.ID == auth.FirstPartyClient {
		return errs.E(errs.KindUnauthenticated, "invalid_client", "this grant needs a registered client")
	}
	ctx := c.Request().Context()
	var ts oidc.TokenSet
	switch form.Get("grant_type") {
	case "authorization_code":
		if form.Get("code") == "" {
			return errs.Invalid("invalid_request", "code is required")
		}
		ts, err = a.OIDC.Exchange(ctx, client, form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"), clientAddr(c), c.Request().UserAgent())
	default:
		ts, err = a.OIDC.ClientCredentials(client, form.Get("scope"))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ts)
}

func (a *API) userinfo(c echo.Context) error {
	tok, ok := bearerToken(c.Request())
	if !ok {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		return errs.E(errs.KindUnauthenticated, "invalid_token", "a Bearer access token is required")
	}
	info, err := a.OIDC.UserInfo(c.Request().Context(), tok)
	if err != nil {
		if errs.Is(err, errs.KindUnauthenticated) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		}
		return err
	}
	return c.JSON(http.StatusOK, info)
}

func (a *API) listGrants(c echo.Context) error {
	list, err := a.OIDC.Grants(c.Request().Context(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"grants": list})
}

func (a *API) revokeGrant(c echo.Context) error {
	if err := a.OIDC.RevokeGrant(c.Request().Context(), principal(c).UserID, c.Param("client_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// clientView is a client as the admin API shows it: never a secret hash.
func clientView(cl oidc.Client) map[string]any {
	v := map[string]any{
		"client_id": cl.ID, "name": cl.Name, "confidential": cl.Confidential, "first_party": cl.FirstParty,
		"redirect_uris": cl.RedirectURIs, "post_logout_redirect_uris": cl.PostLogoutRedirectURIs,
		"created_at": cl.CreatedAt.UTC().Format(time.RFC3339), "updated_at": cl.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if cl.Confidential {
		v["token_endpoint_auth_method"] = "client_secret_basic"
	} else {
		v["token_endpoint_auth_method"] = "none"
	}
	if cl.PreviousSecretExpiresAt != nil && cl.PreviousSecretHash != nil {
		v["previous_secret_expires_at"] = cl.PreviousSecretExpiresAt.UTC().Format(time.RFC3339)
	}
	return v
}

func (a *API) createClient(c echo.Context) error {
	var spec oidc.ClientSpec
	if err := decodeJSON(c, &spec); err != nil {
		return err
	}
	cl, secret, err := a.OIDC.CreateClient(c.Request().Context(), spec)
	if err != nil {
		return err
	}
	v := clientView(cl)
	if secret != "" {
		v["client_secret"] = secret // shown this once; only its hash is kept
	}
	return c.JSON(http.StatusCreated, v)
}

func (a *API) listClients(c echo.Context) error {
	list, err := a.OIDC.ListClients(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, cl := range list {
		out = append(out, clientView(cl))
	}
	return c.JSON(http.StatusOK, map[string]any{"clients": out})
}

func (a *API) showClient(c echo.Context) error {
	cl, err := a.OIDC.Client(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, clientView(cl))
}

type rotateRequest struct {
	Overlap string `json:"overlap"`
}

func (a *API) rotateClientSecret(c echo.Context) error {
	var req rotateRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	overlap := 24 * time.Hour
	if req.Overlap != "" {
		d, err := time.ParseDuration(req.Overlap)
		if err != nil {
			return errs.Invalid("invalid_request", "overlap must be a duration such as 24h")
		}
		overlap = d
	}
	secret, err := a.OIDC.RotateSecret(c.Request().Context(), c.Param("id"), overlap)
	if err != nil {
		return err
	}
	cl, err := a.OIDC.Client(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	v := clientView(cl)
	v["client_secret"] = secret
	return c.JSON(http.StatusOK, v)
}

func (a *API) deleteClient(c echo.Context) error {
	if err := a.OIDC.DeleteClient(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// introspector lets the admin token or an authenticated confidential
// client call introspection (RFC 7662 §2.1).
func (a *API) introspector(next echo.HandlerFunc) echo.HandlerFunc {
	admin := a.admin(next)
	return func(c echo.Context) error {
		if a.OIDC == nil || !hasClientAuth(c) {
			return admin(c)
		}
		form, err := readForm(c, "token", "token_type_hint", "client_id", "client_secret")
		if err != nil {
			return err
		}
		cl, _, err := a.authenticateClient(c, form)
		if err != nil {
			return err
		}
		if !cl.Confidential {
			return errs.E(errs.KindUnauthenticated, "invalid_client", "introspection needs a confidential client or the admin token")
		}
		return next(c)
	}
}

// hasClientAuth reports a Basic header or a client_secret in the body.
func hasClientAuth(c echo.Context) bool {
	scheme, _, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Basic") {
		return true
	}
	return strings.Contains(c.Request().Header.Get("Content-Type"), "form-urlencoded") && c.FormValue("client_secret") != ""
}
