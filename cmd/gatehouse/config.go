package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// Config is Gatehouse's whole configuration, parsed once at start from a
// YAML file overlaid by environment variables. Nothing outside cmd reads the
// environment or files; packages get the parts they need from here.
type Config struct {
	Region      string
	RegionsFile string
	Issuer      string
	AdminToken  string

	HTTP struct {
		Addr            string
		ReadTimeout     time.Duration
		WriteTimeout    time.Duration
		IdleTimeout     time.Duration
		ShutdownTimeout time.Duration
		TrustedProxies  []netip.Prefix
	}
	Database struct {
		URL      string
		MaxConns int
	}
	Redis struct {
		URL string
	}
	Keys struct {
		Source          string // "vault" or "local"
		LocalDir        string
		RefreshInterval time.Duration
	}
	Vault struct {
		Addr         string
		Token        string
		TransitMount string
		PepperKey    string
		SigningKey   string
		// Auth is how the server gets its token: "token" (VAULT_TOKEN),
		// "kubernetes" (Role, JWTFile) or "approle" (RoleID, SecretIDFile);
		// AuthMount defaults to the method's name.
		Auth, AuthMount, Role, JWTFile, RoleID, SecretIDFile string
	}
	Argon2 struct {
		MemoryKiB   uint32
		Iterations  uint32
		Parallelism uint8
	}
	Tokens struct {
		Audience         string
		AccessTTL        time.Duration
		RefreshTTL       time.Duration
		RefreshGrace     time.Duration
		EnumerationGuard bool
		// RevocationSync: how often revocation marks are re-published to
		// Redis from the database.
		RevocationSync time.Duration
	}
	Password struct {
		MinLength int
	}
	MFA struct {
		// RPID is the WebAuthn relying-party id (a registrable domain);
		// default: the issuer's host.
		RPID string
		// Origins are the web origins allowed in WebAuthn ceremonies;
		// default: the issuer's origin.
		Origins []string
		// Name is shown by authenticator apps and browsers.
		Name string
	}
	Breach struct {
		// Mode is "off", "range" (a HaveIBeenPwned-compatible k-anonymity
		// endpoint at URL) or "offline" (range files in Dir).
		Mode string
		URL  string
		Dir  string
		// OnLogin is what a login with a breached password does: "flag"
		// (default: logs in, account flagged for a change) or
		// "force_reset" (403 password_reset_required and a reset mail).
		OnLogin string
	}
	Defense struct {
		Enabled bool
		// KeyPrefix namespaces the defense's Redis keys.
		KeyPrefix string
		// ChallengeAfter and LockAfter override the per-account escalation
		// (defaults 5 and 20 failures in 10 minutes).
		ChallengeAfter, LockAfter int
		// AddressPerMinute overrides the per-address limit for unknown
		// devices (default 30 a minute, burst twice that).
		AddressPerMinute int
		// GlobalPerSecond overrides the region's limit for unknown devices
		// (default: the measured hashing capacity, burst one second's worth).
		GlobalPerSecond int
		// SharedRanges are known shared ranges with their own budget
		// (shared_ranges.go); PerMinute 0 is the default for bare CIDRs.
		SharedRanges []defense.SharedRange
		// DeviceTTL is how long a trusted device stays trusted unused
		// (default 2160h, 90 days).
		DeviceTTL time.Duration
	}
	Residency struct {
		// Rules map a country hint to a home region: "DE=europe-west1,…".
		Rules  map[string]string
		Header string
	}
	Forwarding struct {
		// Keys are the shared secrets that authenticate requests between
		// regions: "kid:base64,kid:base64", current first. Empty turns
		// forwarding off (every request is served where it lands).
		Keys    string
		Timeout time.Duration
	}
	Outbox struct {
		Sender string // "none" (an external mailer reads the table) or "console"
	}
	// Events: the event stream and audit trail (events_config.go).
	Events EventsConfig
	Log    struct {
		Level  string
		Format string
	}
}

// setting binds one configuration key to its YAML path, its environment
// variable and its field.
type setting struct {
	yaml   string // dotted path in the YAML file
	env    string // environment variable
	secret bool   // masked when the configuration is logged
	help   string
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

// settings is the table of every configuration key. The contract fixes the
// environment names of the first group; the rest follow
// GATEHOUSE_<SECTION>_<KEY>.
func settings() []setting {
	return append([]setting{
		str("region", "GATEHOUSE_REGION", "the region this process serves", func(c *Config) *string { return &c.Region }),
		str("regions_file", "GATEHOUSE_REGIONS_FILE", "the region topology file", func(c *Config) *string { return &c.RegionsFile }),
		str("issuer", "GATEHOUSE_ISSUER", "the iss of every token", func(c *Config) *string { return &c.Issuer }),
		secretStr("admin_token", "GATEHOUSE_ADMIN_TOKEN", "bearer token of the admin API", func(c *Config) *string { return &c.AdminToken }),
		str("http.addr", "GATEHOUSE_HTTP_ADDR", "listen address", func(c *Config) *string { return &c.HTTP.Addr }),
		dur("http.read_timeout", "GATEHOUSE_HTTP_READ_TIMEOUT", func(c *Config) *time.Duration { return &c.HTTP.ReadTimeout }),
		dur("http.write_timeout", "GATEHOUSE_HTTP_WRITE_TIMEOUT", func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout }),
		dur("http.idle_timeout", "GATEHOUSE_HTTP_IDLE_TIMEOUT", func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout }),
		dur("http.shutdown_timeout", "GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT", func(c *Config) *time.Duration { return &c.HTTP.ShutdownTimeout }),
		{
			yaml: "http.trusted_proxies", env: "GATEHOUSE_TRUSTED_PROXIES", help: "CIDRs whose X-Forwarded-For is believed",
			set: func(c *Config, v string) error {
				p, err := parsePrefixes(v)
				c.HTTP.TrustedProxies = p
				return err
			},
			get: func(c *Config) string {
				var s []string
				for _, p := range c.HTTP.TrustedProxies {
					s = append(s, p.String())
				}
				return strings.Join(s, ",")
			},
		},
		{
			yaml: "database.url", env: "GATEHOUSE_DATABASE_URL", secret: true, help: "postgresql:// URL of CockroachDB or PostgreSQL",
			set: func(c *Config, v string) error { c.Database.URL = v; return nil },
			get: func(c *Config) string { return redactURL(c.Database.URL) },
		},
		integer("database.max_conns", "GATEHOUSE_DATABASE_MAX_CONNS", func(c *Config) *int { return &c.Database.MaxConns }),
		{
			yaml: "redis.url", env: "GATEHOUSE_REDIS_URL", secret: true, help: "redis://host:port/db, or host:port,host:port for a cluster",
			set: func(c *Config, v string) error { c.Redis.URL = v; return nil },
			get: func(c *Config) string { return redactURL(c.Redis.URL) },
		},
		str("keys.source", "GATEHOUSE_KEYS", "vault or local", func(c *Config) *string { return &c.Keys.Source }),
		str("keys.local_dir", "GATEHOUSE_LOCAL_KEYS_DIR", "directory of the local keyring", func(c *Config) *string { return &c.Keys.LocalDir }),
		dur("keys.refresh_interval", "GATEHOUSE_KEYS_REFRESH_INTERVAL", func(c *Config) *time.Duration { return &c.Keys.RefreshInterval }),
		str("vault.addr", "VAULT_ADDR", "Vault address", func(c *Config) *string { return &c.Vault.Addr }),
		secretStr("vault.token", "VAULT_TOKEN", "Vault token", func(c *Config) *string { return &c.Vault.Token }),
		str("vault.transit_mount", "GATEHOUSE_VAULT_TRANSIT_MOUNT", "Transit mount", func(c *Config) *string { return &c.Vault.TransitMount }),
		str("vault.pepper_key", "GATEHOUSE_VAULT_PEPPER_KEY", "Transit key of the pepper", func(c *Config) *string { return &c.Vault.PepperKey }),
		str("vault.signing_key", "GATEHOUSE_VAULT_SIGNING_KEY", "Transit key of the token signatures", func(c *Config) *string { return &c.Vault.SigningKey }),
		str("vault.auth", "GATEHOUSE_VAULT_AUTH", "token, kubernetes or approle", func(c *Config) *string { return &c.Vault.Auth }),
		str("vault.auth_mount", "GATEHOUSE_VAULT_AUTH_MOUNT", "mount of the Vault auth method", func(c *Config) *string { return &c.Vault.AuthMount }),
		str("vault.role", "GATEHOUSE_VAULT_ROLE", "Vault Kubernetes auth role", func(c *Config) *string { return &c.Vault.Role }),
		str("vault.jwt_file", "GATEHOUSE_VAULT_JWT_FILE", "service-account token file", func(c *Config) *string { return &c.Vault.JWTFile }),
		str("vault.role_id", "GATEHOUSE_VAULT_ROLE_ID", "Vault AppRole role id", func(c *Config) *string { return &c.Vault.RoleID }),
		str("vault.secret_id_file", "GATEHOUSE_VAULT_SECRET_ID_FILE", "file holding the AppRole secret id", func(c *Config) *string { return &c.Vault.SecretIDFile }),
		uint32s("argon2.memory_kib", "GATEHOUSE_ARGON2_MEMORY_KIB", func(c *Config) *uint32 { return &c.Argon2.MemoryKiB }),
		uint32s("argon2.iterations", "GATEHOUSE_ARGON2_ITERATIONS", func(c *Config) *uint32 { return &c.Argon2.Iterations }),
		{
			yaml: "argon2.parallelism", env: "GATEHOUSE_ARGON2_PARALLELISM",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseUint(v, 10, 8)
				if err != nil || n == 0 {
					return errors.New("want a whole number from 1 to 255")
				}
				c.Argon2.Parallelism = uint8(n)
				return nil
			},
			get: func(c *Config) string { return strconv.Itoa(int(c.Argon2.Parallelism)) },
		},
		str("tokens.audience", "GATEHOUSE_TOKENS_AUDIENCE", "the aud of first-party access tokens", func(c *Config) *string { return &c.Tokens.Audience }),
		dur("tokens.access_ttl", "GATEHOUSE_TOKENS_ACCESS_TTL", func(c *Config) *time.Duration { return &c.Tokens.AccessTTL }),
		dur("tokens.refresh_ttl", "GATEHOUSE_TOKENS_REFRESH_TTL", func(c *Config) *time.Duration { return &c.Tokens.RefreshTTL }),
		dur("tokens.refresh_grace", "GATEHOUSE_TOKENS_REFRESH_GRACE", func(c *Config) *time.Duration { return &c.Tokens.RefreshGrace }),
		dur("tokens.revocation_sync", "GATEHOUSE_TOKENS_REVOCATION_SYNC", func(c *Config) *time.Duration { return &c.Tokens.RevocationSync }),
		boolean("tokens.enumeration_guard", "GATEHOUSE_TOKENS_ENUMERATION_GUARD", func(c *Config) *bool { return &c.Tokens.EnumerationGuard }),
		integer("password.min_length", "GATEHOUSE_PASSWORD_MIN_LENGTH", func(c *Config) *int { return &c.Password.MinLength }),
		str("mfa.rp_id", "GATEHOUSE_MFA_RP_ID", "WebAuthn relying-party id", func(c *Config) *string { return &c.MFA.RPID }),
		{
			yaml: "mfa.origins", env: "GATEHOUSE_MFA_ORIGINS", help: "WebAuthn origins, comma-separated",
			set: func(c *Config, v string) error {
				c.MFA.Origins = nil
				for _, o := range strings.Split(v, ",") {
					if o = strings.TrimSpace(o); o != "" {
						u, err := url.Parse(o)
						if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
							return fmt.Errorf("%q is not an origin such as https://app.example.com", o)
						}
						c.MFA.Origins = append(c.MFA.Origins, o)
					}
				}
				return nil
			},
			get: func(c *Config) string { return strings.Join(c.MFA.Origins, ",") },
		},
		str("mfa.name", "GATEHOUSE_MFA_NAME", "name shown in authenticators", func(c *Config) *string { return &c.MFA.Name }),
		str("breach.mode", "GATEHOUSE_BREACH_MODE", "off, range or offline", func(c *Config) *string { return &c.Breach.Mode }),
		str("breach.url", "GATEHOUSE_BREACH_URL", "k-anonymity range endpoint", func(c *Config) *string { return &c.Breach.URL }),
		str("breach.dir", "GATEHOUSE_BREACH_DIR", "offline range files", func(c *Config) *string { return &c.Breach.Dir }),
		str("breach.on_login", "GATEHOUSE_BREACH_ON_LOGIN", "flag or force_reset", func(c *Config) *string { return &c.Breach.OnLogin }),
		boolean("defense.enabled", "GATEHOUSE_DEFENSE_ENABLED", func(c *Config) *bool { return &c.Defense.Enabled }),
		str("defense.key_prefix", "GATEHOUSE_DEFENSE_KEY_PREFIX", "Redis key prefix of the defense layers", func(c *Config) *string { return &c.Defense.KeyPrefix }),
		integer("defense.challenge_after", "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", func(c *Config) *int { return &c.Defense.ChallengeAfter }),
		integer("defense.lock_after", "GATEHOUSE_DEFENSE_LOCK_AFTER", func(c *Config) *int { return &c.Defense.LockAfter }),
		integer("defense.address_per_minute", "GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE", func(c *Config) *int { return &c.Defense.AddressPerMinute }),
		integer("defense.global_per_second", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", func(c *Config) *int { return &c.Defense.GlobalPerSecond }),
		sharedRangesSetting(),
		dur("defense.device_ttl", "GATEHOUSE_DEFENSE_DEVICE_TTL", func(c *Config) *time.Duration { return &c.Defense.DeviceTTL }),
		{
			yaml: "residency.rules", env: "GATEHOUSE_RESIDENCY_RULES", help: "country=region,… for sign-ups",
			set: func(c *Config, v string) error {
				c.Residency.Rules = map[string]string{}
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part == "" {
						continue
					}
					country, region, ok := strings.Cut(part, "=")
					country = strings.ToUpper(strings.TrimSpace(country))
					if !ok || len(country) != 2 || strings.TrimSpace(region) == "" {
						return fmt.Errorf("%q is not COUNTRY=region (e.g. DE=europe-west1)", part)
					}
					c.Residency.Rules[country] = strings.TrimSpace(region)
				}
				return nil
			},
			get: func(c *Config) string {
				var parts []string
				for k, v := range c.Residency.Rules {
					parts = append(parts, k+"="+v)
				}
				slices.Sort(parts)
				return strings.Join(parts, ",")
			},
		},
		str("residency.header", "GATEHOUSE_RESIDENCY_HEADER", "header carrying the client's country", func(c *Config) *string { return &c.Residency.Header }),
		secretStr("forwarding.keys", "GATEHOUSE_FORWARDING_KEYS", "inter-region secrets kid:base64,…", func(c *Config) *string { return &c.Forwarding.Keys }),
		dur("forwarding.timeout", "GATEHOUSE_FORWARDING_TIMEOUT", func(c *Config) *time.Duration { return &c.Forwarding.Timeout }),
		str("outbox.sender", "GATEHOUSE_OUTBOX_SENDER", "none or console", func(c *Config) *string { return &c.Outbox.Sender }),
		str("log.level", "GATEHOUSE_LOG_LEVEL", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
		str("log.format", "GATEHOUSE_LOG_FORMAT", "json or text", func(c *Config) *string { return &c.Log.Format }),
	}, eventsSettings()...)
}

// defaultConfig holds every default in one place.
func defaultConfig() Config {
	var c Config
	c.HTTP.Addr = ":8080"
	c.HTTP.ReadTimeout = 10 * time.Second
	c.HTTP.WriteTimeout = 30 * time.Second
	c.HTTP.IdleTimeout = 120 * time.Second
	c.HTTP.ShutdownTimeout = 25 * time.Second
	c.Database.MaxConns = 0
	c.Keys.Source = "vault"
	c.Keys.RefreshInterval = 5 * time.Minute
	c.Vault.TransitMount = "transit"
	c.Vault.PepperKey = "gatehouse-pepper"
	c.Vault.SigningKey = "gatehouse-signing"
	c.Vault.Auth = "token"
	c.Vault.JWTFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	c.Argon2.MemoryKiB = 64 * 1024
	c.Argon2.Iterations = 3
	c.Argon2.Parallelism = 1
	c.Tokens.Audience = "gatehouse"
	c.Tokens.AccessTTL = 15 * time.Minute
	c.Tokens.RefreshTTL = 30 * 24 * time.Hour
	c.Tokens.RefreshGrace = 0
	c.Tokens.EnumerationGuard = true
	c.Tokens.RevocationSync = 10 * time.Second
	c.Password.MinLength = 8
	c.Breach.Mode = "off"
	c.Breach.URL = "https://api.pwnedpasswords.com"
	c.Breach.OnLogin = "flag"
	c.Defense.Enabled = true
	c.Defense.DeviceTTL = 90 * 24 * time.Hour
	c.MFA.Name = "Gatehouse"
	c.Residency.Header = "X-Gatehouse-Country"
	c.Forwarding.Timeout = 3 * time.Second
	c.Outbox.Sender = "none"
	c.Events = defaultEventsConfig()
	c.Log.Level = "info"
	c.Log.Format = "json"
	return c
}

// configError is a bad configuration value: it names the key and exits 2.
type configError struct {
	key string
	msg string
}

func (e *configError) Error() string { return e.key + ": " + e.msg }

// needs says which parts of the configuration a command requires.
type needs uint8

const (
	needServer   needs = 1 << iota // region, issuer, Redis: the server
	needDatabase                   // the database URL and the topology
	needKeys                       // the key source
)

// loadConfig reads the YAML file (if any), overlays the environment and
// validates the result for a command's needs. Every error names the key
// that is wrong.
func loadConfig(file string, getenv func(string) (string, bool), need needs) (*Config, error) {
	c := defaultConfig()
	table := settings()
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, &configError{key: "--config", msg: err.Error()}
		}
		values, err := flattenYAML(data)
		if err != nil {
			return nil, &configError{key: file, msg: err.Error()}
		}
		for key, v := range values {
			i := slices.IndexFunc(table, func(s setting) bool { return s.yaml == key })
			if i < 0 {
				return nil, &configError{key: file + ": " + key, msg: "unknown configuration key"}
			}
			if err := table[i].set(&c, v); err != nil {
				return nil, &configError{key: file + ": " + key, msg: err.Error()}
			}
		}
	}
	for _, s := range table {
		if v, ok := getenv(s.env); ok {
			if err := s.set(&c, strings.TrimSpace(v)); err != nil {
				return nil, &configError{key: s.env, msg: err.Error()}
			}
		}
	}
	if err := c.validate(need); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate checks what each value means, beyond its syntax, and that the
// values a command needs are there.
func (c *Config) validate(need needs) error {
	envOf := func(yamlKey string) string {
		for _, s := range settings() {
			if s.yaml == yamlKey {
				return s.env
			}
		}
		return yamlKey
	}
	bad := func(yamlKey, format string, args ...any) error {
		return &configError{key: envOf(yamlKey), msg: fmt.Sprintf(format, args...)}
	}
	if err := validateAddr(c.HTTP.Addr); err != nil {
		return bad("http.addr", "%v", err)
	}
	if need&(needServer|needDatabase) != 0 {
		if c.Region == "" {
			return bad("region", "required (e.g. us-east1)")
		}
		if c.RegionsFile == "" {
			return bad("regions_file", "required (e.g. regions/local.yaml)")
		}
		if c.Database.URL == "" {
			return bad("database.url", "required (postgresql://…)")
		}
	}
	if u, err := url.Parse(c.Database.URL); c.Database.URL != "" && (err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql")) {
		return bad("database.url", "want a postgresql:// URL")
	}
	if need&needServer != 0 {
		if c.Redis.URL == "" {
			return bad("redis.url", "required (redis://host:port/db)")
		}
		if u, err := url.Parse(c.Issuer); c.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return bad("issuer", "want an absolute https URL without query or fragment, e.g. https://auth.example.com")
		}
	}
	if c.Issuer != "" && (c.MFA.RPID == "" || len(c.MFA.Origins) == 0) {
		if u, err := url.Parse(c.Issuer); err == nil && u.Host != "" {
			if c.MFA.RPID == "" {
				// WebAuthn relying parties are domains, never IP addresses:
				// an issuer on an IP (a development setup) gets localhost.
				c.MFA.RPID = u.Hostname()
				if _, err := netip.ParseAddr(c.MFA.RPID); err == nil {
					c.MFA.RPID = "localhost"
				}
			}
			if len(c.MFA.Origins) == 0 {
				c.MFA.Origins = []string{u.Scheme + "://" + u.Host}
			}
		}
	}
	switch c.Keys.Source {
	case "vault":
		if err := c.checkVaultAuth(need); err != nil {
			return err
		}
	case "local":
		if need&(needServer|needKeys) != 0 && c.Keys.LocalDir == "" {
			return bad("keys.local_dir", "GATEHOUSE_KEYS=local needs a directory")
		}
	default:
		return bad("keys.source", "want vault or local, not %q", c.Keys.Source)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 24 {
		return bad("admin_token", "too short: use at least 24 random characters (or leave it empty to disable the admin API)")
	}
	if c.Argon2.MemoryKiB < 8*1024 || c.Argon2.MemoryKiB > 4*1024*1024 {
		return bad("argon2.memory_kib", "want 8192 to 4194304 KiB")
	}
	if c.Argon2.Iterations < 1 || c.Argon2.Iterations > 100 {
		return bad("argon2.iterations", "want 1 to 100")
	}
	if c.Tokens.AccessTTL < time.Minute || c.Tokens.AccessTTL > 24*time.Hour {
		return bad("tokens.access_ttl", "want 1m to 24h")
	}
	if c.Defense.DeviceTTL < time.Second {
		return bad("defense.device_ttl", "want at least 1s")
	}
	if c.Tokens.RefreshTTL < time.Hour {
		return bad("tokens.refresh_ttl", "want at least 1h")
	}
	if c.Tokens.RefreshGrace < 0 || c.Tokens.RefreshGrace > time.Minute {
		return bad("tokens.refresh_grace", "want 0s to 1m")
	}
	if c.Password.MinLength < 8 || c.Password.MinLength > 64 {
		return bad("password.min_length", "want 8 to 64 (NIST SP 800-63B)")
	}
	switch c.Breach.Mode {
	case "off", "range":
	case "offline":
		if c.Breach.Dir == "" {
			return bad("breach.dir", "GATEHOUSE_BREACH_MODE=offline needs a directory of range files")
		}
	default:
		return bad("breach.mode", "want off, range or offline")
	}
	if c.Breach.OnLogin != "flag" && c.Breach.OnLogin != "force_reset" {
		return bad("breach.on_login", "want flag or force_reset")
	}
	if c.Outbox.Sender != "none" && c.Outbox.Sender != "console" {
		return bad("outbox.sender", "want none or console")
	}
	if key, msg := c.Events.check(); key != "" {
		return bad(key, "%s", msg)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "want debug, info, warn or error")
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		return bad("log.format", "want json or text")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"http.read_timeout", c.HTTP.ReadTimeout}, {"http.write_timeout", c.HTTP.WriteTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}, {"http.shutdown_timeout", c.HTTP.ShutdownTimeout}, {"keys.refresh_interval", c.Keys.RefreshInterval}, {"forwarding.timeout", c.Forwarding.Timeout}, {"tokens.revocation_sync", c.Tokens.RevocationSync}} {
		if d.v <= 0 {
			return bad(d.key, "must be positive")
		}
	}
	return nil
}

// masked lists the effective configuration with secrets masked, for the
// start-up log line.
func (c *Config) masked() []any {
	var out []any
	for _, s := range settings() {
		v := s.get(c)
		if s.secret && v != "" && !strings.Contains(s.yaml, "url") {
			v = "***"
		}
		out = append(out, s.yaml, v)
	}
	return out
}
