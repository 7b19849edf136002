package transit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault implements the Transit endpoints Gatehouse uses, with the request
// and response shapes of Vault's HTTP API (api-docs/secret/transit) and of
// the transit backend's handlers:
//
//	GET      /v1/{mount}/keys/{name}                 read key: 404 {"errors":[]} if absent
//	PUT|POST /v1/{mount}/keys/{name}                 create key (an upsert: an existing key is
//	                                                 left alone and described, with a warning)
//	PUT|POST /v1/{mount}/keys/{name}/rotate          rotate: 400 "key not found" if absent
//	GET      /v1/{mount}/export/{key_type}/{name}    export every version: {"name","type","keys":{"1":…}}
//
// and the auth endpoints a server without a static token uses (api-docs/auth/kubernetes,
// api-docs/auth/approle, api-docs/auth/token), answering with Vault's "auth" envelope:
//
//	POST     /v1/auth/kubernetes/login   {"role","jwt"}: 400 "invalid role name" for an
//	                                     unknown role, 403 "permission denied" for a JWT the
//	                                     role does not bind
//	POST     /v1/auth/approle/login      {"role_id","secret_id"}: 400 "invalid role or secret ID"
//	POST|PUT /v1/auth/token/renew-self   {"increment"?}: the same token with a fresh lease
//
// Every other request must carry X-Vault-Token (the static token, or a live token a login
// issued), else 403 {"errors":["permission denied"]}. Issued tokens expire after their
// lease by the fake's clock, and revoke() kills one as `vault token revoke` would. down()
// makes every request answer 503 as a sealed Vault does.
// Keys are real: random HMAC keys and P-256 keys, exported as Vault does
// (base64 for hmac-key; trimmed SEC 1 "EC PRIVATE KEY" PEM for signing-key).
type fakeVault struct {
	t     testing.TB
	token string
	mount string
	srv   *httptest.Server

	mu       sync.Mutex
	keys     map[string]*fakeKey
	requests []string // "METHOD path" of every request
	pkcs8    bool     // export signing keys as PKCS #8 instead of SEC 1

	now      func() time.Time
	lease    time.Duration         // lease of issued tokens
	issued   map[string]*fakeToken // tokens from logins
	k8sRoles map[string]string     // Kubernetes role → the service-account JWT it binds
	appRoles map[string]string     // AppRole role_id → secret_id
	logins   int                   // successful logins
	renewals int                   // successful renew-self calls
	sealed   bool                  // answer 503 to everything
}

type fakeToken struct {
	expires time.Time
	revoked bool
}

type fakeKey struct {
	name          string
	typ           string
	exportable    bool
	keySize       int
	minDecryption int
	latest        int
	versions      map[int]*fakeVersion
}

type fakeVersion struct {
	key     []byte // the HMAC key of an hmac key
	hmacKey []byte // every Transit key version also carries an HMAC key
	ec      *ecdsa.PrivateKey
	created time.Time
	// publicOnly marks an imported public key: Vault exports "" for it.
	publicOnly bool
}

func newFakeVault(t testing.TB, token string) *fakeVault {
	f := &fakeVault{t: t, token: token, mount: "transit", keys: map[string]*fakeKey{},
		now: time.Now, lease: time.Hour, issued: map[string]*fakeToken{},
		k8sRoles: map[string]string{}, appRoles: map[string]string{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVault) URL() string { return f.srv.URL }

// addKey creates a key directly, as an operator might have.
func (f *fakeVault) addKey(name, typ string, exportable bool) *fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := &fakeKey{name: name, typ: typ, exportable: exportable, minDecryption: 1, versions: map[int]*fakeVersion{}}
	if typ == "hmac" {
		k.keySize = 32
	}
	f.keys[name] = k
	f.rotate(k)
	return k
}

func (f *fakeVault) key(name string) *fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[name]
}

func (f *fakeVault) rotate(k *fakeKey) {
	v := &fakeVersion{hmacKey: randBytes(32), created: time.Now()}
	switch k.typ {
	case "hmac":
		v.key = randBytes(k.keySize)
	case "ecdsa-p256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.t.Error(err)
		}
		v.ec = priv
	}
	k.latest++
	k.versions[k.latest] = v
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (f *fakeVault) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

// writeData writes Vault's response envelope.
func writeData(w http.ResponseWriter, data map[string]any, warnings []string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id":     "6b9d3c4e-0000-4000-8000-000000000000",
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       warnings,
		"auth":           nil,
		"mount_type":     "transit",
	})
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)

	if f.sealed {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if f.serveAuth(w, r) {
		return
	}
	if !f.tokenValid(r.Header.Get("X-Vault-Token")) {
		writeErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+f.mount+"/")
	if !ok {
		writeErrors(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", strings.TrimPrefix(r.URL.Path, "/v1/")))
		return
	}
	parts := strings.Split(rest, "/")
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case len(parts) == 2 && parts[0] == "keys" && r.Method == http.MethodGet:
		f.readKey(w, parts[1])
	case len(parts) == 2 && parts[0] == "keys" && write:
		f.createKey(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "keys" && parts[2] == "rotate" && write:
		f.rotateKey(w, parts[1])
	case len(parts) == 3 && parts[0] == "export" && r.Method == http.MethodGet:
		f.export(w, parts[1], parts[2])
	default:
		writeErrors(w, http.StatusNotFound, "1 error occurred:\n\t* unsupported path\n\n")
	}
}

// describe is the transit backend's formatKeyPolicy.
func (k *fakeKey) describe() map[string]any {
	d := map[string]any{
		"name":                   k.name,
		"type":                   k.typ,
		"derived":                false,
		"deletion_allowed":       false,
		"min_available_version":  0,
		"min_decryption_version": k.minDecryption,
		"min_encryption_version": 0,
		"latest_version":         k.latest,
		"exportable":             k.exportable,
		"allow_plaintext_backup": false,
		"supports_encryption":    false,
		"supports_decryption":    false,
		"supports_signing":       k.typ == "ecdsa-p256",
		"supports_derivation":    false,
		"auto_rotate_period":     0,
		"imported_key":           false,
	}
	if k.typ == "hmac" {
		d["key_size"] = k.keySize
	}
	if k.typ == "ecdsa-p256" { // asymmetric keys list their public keys; hmac keys list nothing
		ks := map[string]any{}
		for v, kv := range k.versions {
			der, _ := x509.MarshalPKIXPublicKey(&kv.ec.PublicKey)
			ks[strconv.Itoa(v)] = map[string]any{
				"name":              "P-256",
				"public_key":        strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))),
				"creation_time":     kv.created.Format(time.RFC3339Nano),
				"certificate_chain": "",
			}
		}
		d["keys"] = ks
	}
	return d
}

func (f *fakeVault) readKey(w http.ResponseWriter, name string) {
	k := f.keys[name]
	if k == nil {
		writeErrors(w, http.StatusNotFound) // a nil response: {"errors":[]}
		return
	}
	writeData(w, k.describe(), nil)
}

func (f *fakeVault) createKey(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Type       string `json:"type"`
		Exportable bool   `json:"exportable"`
		KeySize    int    `json:"key_size"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		return
	}
	if body.Type == "" {
		body.Type = "aes256-gcm96"
	}
	switch body.Type {
	case "hmac", "ecdsa-p256", "aes256-gcm96":
	default:
		writeErrors(w, http.StatusBadRequest, fmt.Sprintf("unknown key type %v", body.Type))
		return
	}
	if body.KeySize != 0 {
		if body.Type != "hmac" {
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("key_size is not valid for algorithm %v", body.Type))
			return
		}
		if body.KeySize < 32 || body.KeySize > 512 {
			writeErrors(w, http.StatusBadRequest, fmt.Sprintf("invalid key_size %d", body.KeySize))
			return
		}
	}
	if k := f.keys[name]; k != nil { // upsert: left alone
		writeData(w, k.describe(), []string{fmt.Sprintf("key %s already existed", name)})
		return
	}
	k := &fakeKey{name: name, typ: body.Type, exportable: body.Exportable, minDecryption: 1, versions: map[int]*fakeVersion{}}
	if body.Type == "hmac" {
		k.keySize = max(body.KeySize, 32)
	}
	f.rotate(k)
	f.keys[name] = k
	writeData(w, k.describe(), nil)
}

func (f *fakeVault) rotateKey(w http.ResponseWriter, name string) {
	k := f.keys[name]
	if k == nil {
		writeErrors(w, http.StatusBadRequest, "key not found")
		return
	}
	f.rotate(k)
	writeData(w, k.describe(), nil)
}

func (f *fakeVault) export(w http.ResponseWriter, exportType, name string) {
	switch exportType {
	case "encryption-key", "signing-key", "hmac-key", "public-key":
	default:
		writeErrors(w, http.StatusBadRequest, "invalid export type: "+exportType)
		return
	}
	k := f.keys[name]
	if k == nil {
		writeErrors(w, http.StatusNotFound)
		return
	}
	if !k.exportable && exportType != "public-key" {
		writeErrors(w, http.StatusBadRequest, "private key material is not exportable")
		return
	}
	if exportType == "signing-key" && k.typ != "ecdsa-p256" {
		writeErrors(w, http.StatusBadRequest, "signing not supported for the key")
		return
	}
	out := map[string]any{}
	for v, kv := range k.versions {
		var s string
		switch exportType {
		case "hmac-key":
			src := kv.hmacKey
			if k.typ == "hmac" {
				src = kv.key
			}
			s = base64.StdEncoding.EncodeToString(src)
		case "signing-key":
			var block *pem.Block
			if f.pkcs8 {
				der, _ := x509.MarshalPKCS8PrivateKey(kv.ec)
				block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
			} else {
				der, _ := x509.MarshalECPrivateKey(kv.ec)
				block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
			}
			s = strings.TrimSpace(string(pem.EncodeToMemory(block)))
			if kv.publicOnly {
				s = ""
			}
		default:
			writeErrors(w, http.StatusInternalServerError, "unknown key type for export type "+exportType)
			return
		}
		out[strconv.Itoa(v)] = s
	}
	writeData(w, map[string]any{"name": k.name, "type": k.typ, "keys": out}, nil)
}
