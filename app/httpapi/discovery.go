package httpapi

import (
	"strings"

	"github.com/gatehouse-id/gatehouse/app/oidc"
)

// discoveryDocument is OpenID Connect Discovery 1.0's provider metadata.
// Without a provider it lists the first-party API only.
func (a *API) discoveryDocument() map[string]any {
	base := strings.TrimRight(a.Issuer, "/")
	doc := map[string]any{
		"issuer":                                        base,
		"jwks_uri":                                      base + "/.well-known/jwks.json",
		"token_endpoint":                                base + "/oauth2/token",
		"revocation_endpoint":                           base + "/oauth2/revoke",
		"introspection_endpoint":                        base + "/oauth2/introspect",
		"grant_types_supported":                         []string{"refresh_token"},
		"response_types_supported":                      []string{},
		"token_endpoint_auth_methods_supported":         []string{"none"},
		"revocation_endpoint_auth_methods_supported":    []string{"none"},
		"introspection_endpoint_auth_methods_supported": []string{"bearer"},
		"id_token_signing_alg_values_supported":         []string{"ES256"},
		"access_token_signing_alg_values_supported":     []string{"ES256"},
		"subject_types_supported":                       []string{"public"},
		"claims_supported":                              []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "sid", "amr", "acr", "auth_time", "home_region"},
	}
	if a.OIDC == nil {
		return doc
	}
	auth := []string{"none", "client_secret_basic", "client_secret_post"}
	doc["authorization_endpoint"] = base + "/oauth2/authorize"
	doc["userinfo_endpoint"] = base + "/oauth2/userinfo"
	doc["end_session_endpoint"] = base + "/oauth2/end_session"
	doc["grant_types_supported"] = []string{"authorization_code", "refresh_token", "client_credentials"}
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["scopes_supported"] = oidc.SupportedScopes
	doc["token_endpoint_auth_methods_supported"] = auth
	doc["revocation_endpoint_auth_methods_supported"] = auth
	doc["introspection_endpoint_auth_methods_supported"] = []string{"bearer", "client_secret_basic", "client_secret_post"}
	doc["prompt_values_supported"] = []string{"none", "login", "consent"}
	doc["acr_values_supported"] = []string{"aal1", "aal2"}
	doc["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "azp", "email", "email_verified", "updated_at", "client_id", "jti", "home_region"}
	doc["authorization_response_iss_parameter_supported"] = true
	doc["request_parameter_supported"] = false
	doc["request_uri_parameter_supported"] = false
	doc["claims_parameter_supported"] = false
	doc["ui_locales_supported"] = []string{"en", "id", "vi"}
	return doc
}
