// Package transit is Gatehouse's production key source: HashiCorp Vault's
// Transit secrets engine, standing in for an HSM.
//
// The pepper is an exportable Transit key of type hmac and the JWT signing
// key an exportable Transit key of type ecdsa-p256. Load exports every live
// version of both (GET {mount}/export/hmac-key/{name} and
// {mount}/export/signing-key/{name}); a keys.Ring keeps them in memory so
// that logins never wait on Vault. Init and Rotate are for the operator's
// `gatehouse keys init` and `gatehouse keys rotate`, which need a token with
// gatehouse-admin-policy.hcl; the server itself needs only
// gatehouse-policy.hcl.
//
// A version is live if it is at or above the key's min_decryption_version:
// raising that in Vault (vault write transit/keys/NAME/config
// min_decryption_version=N) is how old versions are retired.
//
// The token is static (VAULT_TOKEN, for development or behind a Vault Agent)
// or comes from a login with Vault's Kubernetes auth method (the pod's
// service-account token and a role) or AppRole; such a token is renewed once
// half its lease has passed and replaced by a fresh login when Vault refuses
// it (auth.go).
//
// Nothing here logs, and no error quotes key material or credentials.
package transit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/gatehouse-id/gatehouse/keys"
)

// Defaults for Config.
const (
	DefaultMount      = "transit"
	DefaultPepperKey  = "gatehouse-pepper"
	DefaultSigningKey = "gatehouse-signing"
	DefaultTimeout    = 10 * time.Second
)

// PepperKeySize is the size in bytes of the pepper Init creates (Transit's
// smallest hmac key_size, 256 bits).
const PepperKeySize = 32

// The Transit key types Gatehouse uses.
const (
	typeHMAC    = "hmac"
	typeSigning = "ecdsa-p256"
)

// Config says where the keys live.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.internal:8200. Empty means
	// VAULT_ADDR (or VAULT_AGENT_ADDR) from the environment. TLS settings
	// (VAULT_CACERT, VAULT_CLIENT_CERT, …) are always read from the
	// environment, as by the vault CLI.
	Address string
	// Token is the Vault token. Empty means VAULT_TOKEN.
	Token string
	// Mount is the Transit engine's mount path; default "transit".
	Mount string
	// PepperKey and SigningKey are the Transit key names; defaults
	// "gatehouse-pepper" and "gatehouse-signing". SigningKey is also the
	// prefix of the JWT kid ("gatehouse-signing-v3").
	PepperKey, SigningKey string
	// Timeout bounds each request to Vault; default 10s.
	Timeout time.Duration
	// Auth is how the token is obtained; the zero value uses Token. With
	// Kubernetes or AppRole auth, Token is ignored.
	Auth Auth
	// Now is the clock for the token's lease; default time.Now.
	Now func() time.Time
}

// Source reads and administers Gatehouse's keys in Vault Transit. It is safe
// for concurrent use.
type Source struct {
	client     *api.Client
	addr       string
	mount      string
	pepperKey  string
	signingKey string
	session    *session // nil with a static token
}

var _ keys.Source = (*Source)(nil)

// Transit key names follow Vault's framework.GenericNameRegex.
var keyName = regexp.MustCompile(`^\w([\w.@-]*\w)?$`)

// New builds a Source. It does not contact Vault.
func New(cfg Config) (*Source, error) {
	if cfg.Mount == "" {
		cfg.Mount = DefaultMount
	}
	if cfg.PepperKey == "" {
		cfg.PepperKey = DefaultPepperKey
	}
	if cfg.SigningKey == "" {
		cfg.SigningKey = DefaultSigningKey
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	mount := strings.Trim(cfg.Mount, "/")
	if mount == "" || strings.Contains(mount, "//") {
		return nil, fmt.Errorf("transit: bad mount path %q", cfg.Mount)
	}
	for _, n := range []string{cfg.PepperKey, cfg.SigningKey} {
		if !keyName.MatchString(n) {
			return nil, fmt.Errorf("transit: bad Transit key name %q", n)
		}
	}
	if cfg.PepperKey == cfg.SigningKey {
		return nil, fmt.Errorf("transit: the pepper and the signing key must be different Transit keys (both are %q)", cfg.PepperKey)
	}

	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("transit: Vault client configuration from the environment: %w", conf.Error)
	}
	if cfg.Address != "" {
		conf.Address = cfg.Address
		conf.AgentAddress = ""
	}
	conf.Timeout = cfg.Timeout
	// No retries inside the client: a retried rotate could rotate twice, and
	// the Ring's next refresh is the retry for Load.
	conf.MaxRetries = 0
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("transit: Vault client: %w", err)
	}
	if err := cfg.Auth.validate(); err != nil {
		return nil, err
	}
	src := &Source{
		client:     client,
		addr:       client.Address(),
		mount:      mount,
		pepperKey:  cfg.PepperKey,
		signingKey: cfg.SigningKey,
	}
	if cfg.Auth.Method != AuthToken {
		if cfg.Now == nil {
			cfg.Now = time.Now
		}
		client.ClearToken() // never VAULT_TOKEN from the environment
		src.session = &session{auth: cfg.Auth, client: client, now: cfg.Now}
		return src, nil
	}
	if cfg.Token != "" {
		client.SetToken(cfg.Token)
	}
	if client.Token() == "" {
		return nil, errors.New("transit: no Vault token (set it in the configuration or VAULT_TOKEN)")
	}
	return src, nil
}

// chain describes one of the two Transit keys.
type chain struct {
	name       string
	keyType    string // Transit key type
	exportType string // export endpoint's key_type
}

func (s *Source) pepper() chain  { return chain{s.pepperKey, typeHMAC, "hmac-key"} }
func (s *Source) signing() chain { return chain{s.signingKey, typeSigning, "signing-key"} }

func (s *Source) chainFor(p keys.Purpose) (chain, error) {
	switch p {
	case keys.PurposePepper:
		return s.pepper(), nil
	case keys.PurposeSigning:
		return s.signing(), nil
	}
	return chain{}, fmt.Errorf("transit: unknown key purpose %q", p)
}

// Load exports every live version of the pepper and the signing key.
func (s *Source) Load(ctx context.Context) (*keys.Set, error) {
	pep, err := s.export(ctx, s.pepper())
	if err != nil {
		return nil, err
	}
	sig, err := s.export(ctx, s.signing())
	if err != nil {
		return nil, err
	}
	set := &keys.Set{}
	for v, material := range pep {
		key, err := keys.ParsePepper(material)
		if err != nil {
			return nil, fmt.Errorf("transit: key %q version %d: %w", s.pepperKey, v, err)
		}
		set.Peppers = append(set.Peppers, keys.Secret{Version: v, Key: key})
	}
	for v, material := range sig {
		priv, err := keys.ParseSigningKeyPEM([]byte(material))
		if err != nil {
			return nil, fmt.Errorf("transit: key %q version %d: %w", s.signingKey, v, err)
		}
		set.Signing = append(set.Signing, keys.SigningKey{Name: s.signingKey, Version: v, Private: priv})
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("transit: %w", err)
	}
	return set, nil
}

// export checks the key's type and exportability, then exports every version
// at or above its min_decryption_version.
func (s *Source) export(ctx context.Context, c chain) (map[int]string, error) {
	info, err := s.readKey(ctx, c.name)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, s.notFound(c.name)
	}
	if err := s.check(c, info); err != nil {
		return nil, err
	}
	path := s.path("export", c.exportType, c.name)
	secret, err := s.read(ctx, path)
	if err != nil {
		return nil, s.vaultError("read", path, err)
	}
	if secret == nil || secret.Data == nil {
		return nil, s.notFound(c.name) // deleted since readKey
	}
	if t, ok := secret.Data["type"].(string); ok && t != c.keyType {
		return nil, s.wrongType(c, t)
	}
	versions, err := parseExport(secret.Data, info.minDecryptionVersion)
	if err != nil {
		return nil, fmt.Errorf("transit: export of key %q: %w", c.name, err)
	}
	return versions, nil
}

// parseExport reads the data of a Transit export response,
// {"name": …, "type": …, "keys": {"1": "…", "2": "…"}}, into key material by
// version, dropping versions below minVersion. Errors never quote material.
func parseExport(data map[string]any, minVersion int) (map[int]string, error) {
	raw, ok := data["keys"].(map[string]any)
	if !ok {
		return nil, errors.New(`response has no "keys" object`)
	}
	out := make(map[int]string, len(raw))
	for k, val := range raw {
		v, err := keys.ParseVersion(k)
		if err != nil {
			return nil, err
		}
		material, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("version %d is a %T, want a string", v, val)
		}
		if v >= minVersion {
			out[v] = material
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no live key version")
	}
	return out, nil
}

// keyInfo is what Gatehouse needs from GET {mount}/keys/{name}.
type keyInfo struct {
	keyType              string
	exportable           bool
	latestVersion        int
	minDecryptionVersion int
}

// readKey returns nil, nil when the key does not exist.
func (s *Source) readKey(ctx context.Context, name string) (*keyInfo, error) {
	path := s.path("keys", name)
	secret, err := s.read(ctx, path)
	if err != nil {
		return nil, s.vaultError("read", path, err)
	}
	if secret == nil || secret.Data == nil {
		return nil, nil
	}
	return parseKeyInfo(secret.Data)
}

func parseKeyInfo(d map[string]any) (*keyInfo, error) {
	info := &keyInfo{}
	info.keyType, _ = d["type"].(string)
	info.exportable, _ = d["exportable"].(bool)
	var err error
	if info.latestVersion, err = intField(d, "latest_version"); err != nil {
		return nil, err
	}
	if info.minDecryptionVersion, err = intField(d, "min_decryption_version"); err != nil {
		return nil, err
	}
	return info, nil
}

// intField reads an optional integer; the Vault client decodes numbers as
// json.Number.
func intField(d map[string]any, field string) (int, error) {
	switch v := d[field].(type) {
	case nil:
		return 0, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil || n < 0 || n > 1<<31 {
			return 0, fmt.Errorf("transit: bad %s in Vault's answer", field)
		}
		return int(n), nil
	case float64:
		if v < 0 || v > 1<<31 || v != float64(int(v)) {
			return 0, fmt.Errorf("transit: bad %s in Vault's answer", field)
		}
		return int(v), nil
	default:
		return 0, fmt.Errorf("transit: %s in Vault's answer is a %T", field, v)
	}
}

func (s *Source) check(c chain, info *keyInfo) error {
	if info.keyType != c.keyType {
		return s.wrongType(c, info.keyType)
	}
	if !info.exportable {
		return fmt.Errorf("transit: Vault key %q is not exportable, and Gatehouse must export it to keep working through a Vault outage; "+
			"make it exportable (this cannot be undone) with `vault write %s/config exportable=true`, or configure another key name",
			c.name, s.path("keys", c.name))
	}
	return nil
}

func (s *Source) wrongType(c chain, got string) error {
	return fmt.Errorf("transit: Vault key %q has type %q, but Gatehouse needs an exportable key of type %q there; configure another key name",
		c.name, got, c.keyType)
}

func (s *Source) notFound(name string) error {
	return fmt.Errorf("transit: Vault key %q not found at %s (or no Transit engine is mounted at %q): %w",
		name, s.addr, s.mount+"/", keys.ErrNotInitialized)
}

// Init creates the pepper and the signing key if they do not exist yet, both
// exportable. Existing keys are left alone, but must have the right type and
// be exportable.
func (s *Source) Init(ctx context.Context) error {
	for _, c := range []chain{s.pepper(), s.signing()} {
		if err := s.ensure(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) ensure(ctx context.Context, c chain) error {
	info, err := s.readKey(ctx, c.name)
	if err != nil {
		return err
	}
	if info == nil {
		body := map[string]any{"type": c.keyType, "exportable": true}
		if c.keyType == typeHMAC {
			body["key_size"] = PepperKeySize
		}
		path := s.path("keys", c.name)
		secret, err := s.write(ctx, path, body)
		if err != nil {
			return s.vaultError("write", path, err)
		}
		// Vault answers with the key's description; if another `keys init`
		// won the race, with the existing key's (and a warning). An older
		// Vault answers 204: read the key back.
		if secret != nil && secret.Data != nil {
			info, err = parseKeyInfo(secret.Data)
		} else {
			info, err = s.readKey(ctx, c.name)
		}
		if err != nil {
			return err
		}
		if info == nil {
			return fmt.Errorf("transit: created Vault key %q but cannot read it back", c.name)
		}
	}
	return s.check(c, info)
}

// Rotate adds a version to the pepper or the signing key; the new version
// becomes the current one and older ones stay live. Servers pick it up at
// their next refresh.
func (s *Source) Rotate(ctx context.Context, p keys.Purpose) error {
	c, err := s.chainFor(p)
	if err != nil {
		return err
	}
	info, err := s.readKey(ctx, c.name)
	if err != nil {
		return err
	}
	if info == nil {
		return s.notFound(c.name)
	}
	if err := s.check(c, info); err != nil {
		return err
	}
	path := s.path("keys", c.name, "rotate")
	if _, err := s.write(ctx, path, nil); err != nil {
		return s.vaultError("write", path, err)
	}
	return nil
}

func (s *Source) path(parts ...string) string {
	return s.mount + "/" + strings.Join(parts, "/")
}

// ErrPermissionDenied matches (errors.Is) an Error for which Vault answered
// 403: a bad or expired token, or a policy without the path.
var ErrPermissionDenied = errors.New("permission denied")

// Error is a failed request to Vault. It never holds key material.
type Error struct {
	Op      string   // "read", "write" or "login"
	Path    string   // e.g. "transit/export/hmac-key/gatehouse-pepper"
	Address string   // Vault's address
	Status  int      // HTTP status; 0 if Vault was not reached
	Errors  []string // Vault's error messages
	Err     error    // the cause
}

func (e *Error) Error() string {
	msg := strings.Join(e.Errors, "; ")
	if msg == "" && e.Status != 0 {
		msg = "no details"
	}
	switch {
	case e.Status == 403 && e.Op == "login":
		return fmt.Sprintf("transit: Vault refused the login at %s (HTTP 403: %s): check the role and its bound service account, namespace or AppRole credentials", e.Path, msg)
	case e.Status == 403:
		return fmt.Sprintf("transit: Vault denied the %s of %s (HTTP 403: %s): the token is invalid or expired, or its policy lacks this path "+
			"(the server needs gatehouse-policy.hcl, `gatehouse keys init` and `rotate` need gatehouse-admin-policy.hcl)", e.Op, e.Path, msg)
	case e.Status == 503:
		return fmt.Sprintf("transit: Vault at %s is unavailable (HTTP 503: %s) for the %s of %s", e.Address, msg, e.Op, e.Path)
	case e.Status != 0:
		return fmt.Sprintf("transit: Vault refused the %s of %s (HTTP %d: %s)", e.Op, e.Path, e.Status, msg)
	default:
		return fmt.Sprintf("transit: cannot reach Vault at %s for the %s of %s: %v", e.Address, e.Op, e.Path, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermissionDenied) true for a 403.
func (e *Error) Is(target error) bool { return target == ErrPermissionDenied && e.Status == 403 }

func (s *Source) vaultError(op, path string, err error) error {
	e := &Error{Op: op, Path: path, Address: s.addr, Err: err}
	var re *api.ResponseError
	if errors.As(err, &re) {
		e.Status = re.StatusCode
		for _, m := range re.Errors {
			// A raw (non-JSON) body, e.g. a proxy's error page, can be long.
			m = strings.TrimSpace(m)
			if len(m) > 200 {
				m = m[:200] + "…"
			}
			e.Errors = append(e.Errors, m)
		}
	}
	return e
}
