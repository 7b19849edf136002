package transit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The auth side of fakeVault: Kubernetes and AppRole logins, renew-self,
// token expiry and revocation (see the fakeVault comment).

func (f *fakeVault) tokenValid(tok string) bool {
	if tok == "" {
		return false
	}
	if f.token != "" && tok == f.token {
		return true
	}
	it := f.issued[tok]
	return it != nil && !it.revoked && f.now().Before(it.expires)
}

// serveAuth answers the auth endpoints; it reports whether the request was one.
func (f *fakeVault) serveAuth(w http.ResponseWriter, r *http.Request) bool {
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case r.URL.Path == "/v1/auth/kubernetes/login" && write:
		var body struct {
			Role string `json:"role"`
			JWT  string `json:"jwt"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return true
		}
		switch want, ok := f.k8sRoles[body.Role]; {
		case body.Role == "":
			writeErrors(w, http.StatusBadRequest, "missing role")
		case body.JWT == "":
			writeErrors(w, http.StatusBadRequest, "missing jwt")
		case !ok:
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("invalid role name %q", body.Role))
		case body.JWT != want:
			writeErrors(w, http.StatusForbidden, "permission denied")
		default:
			f.issue(w, map[string]any{
				"role": body.Role, "service_account_name": "gatehouse", "service_account_namespace": "gatehouse",
				"service_account_uid": "aa9aa8ff-98d0-11e7-9bb7-0800276d99bf",
			})
		}
		return true
	case r.URL.Path == "/v1/auth/approle/login" && write:
		var body struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return true
		}
		if want, ok := f.appRoles[body.RoleID]; !ok || body.SecretID != want {
			writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
			return true
		}
		f.issue(w, map[string]any{"role_name": "gatehouse"})
		return true
	case r.URL.Path == "/v1/auth/token/renew-self" && write:
		tok := r.Header.Get("X-Vault-Token")
		it := f.issued[tok]
		if !f.tokenValid(tok) || it == nil {
			writeErrors(w, http.StatusForbidden, "permission denied")
			return true
		}
		it.expires = f.now().Add(f.lease)
		f.renewals++
		writeAuth(w, tok, nil, f.lease)
		return true
	}
	return false
}

func (f *fakeVault) issue(w http.ResponseWriter, metadata map[string]any) {
	tok := "hvs." + fmt.Sprintf("%x", randBytes(12))
	f.issued[tok] = &fakeToken{expires: f.now().Add(f.lease)}
	f.logins++
	writeAuth(w, tok, metadata, f.lease)
}

// writeAuth writes Vault's login/renewal envelope: data null, the token in "auth".
func writeAuth(w http.ResponseWriter, tok string, metadata map[string]any, lease time.Duration) {
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": "6b9d3c4e-0000-4000-8000-000000000001", "lease_id": "", "renewable": false,
		"lease_duration": 0, "data": nil, "wrap_info": nil, "warnings": nil,
		"auth": map[string]any{
			"client_token":   tok,
			"accessor":       "afa306d0-be3d-c8d2-b0d7-2676e1c0d9b4",
			"policies":       []string{"default", "gatehouse"},
			"token_policies": []string{"default", "gatehouse"},
			"metadata":       metadata,
			"lease_duration": int(lease / time.Second),
			"renewable":      true,
			"entity_id":      "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9",
			"token_type":     "service",
			"orphan":         true,
		},
	})
}

// revokeAll revokes every issued token, as `vault token revoke` of each would.
func (f *fakeVault) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range f.issued {
		it.revoked = true
	}
}

func (f *fakeVault) setSealed(sealed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = sealed
}

func (f *fakeVault) counts() (logins, renewals int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.renewals
}
