package transit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// The ways Gatehouse obtains its Vault token (Auth.Method).
const (
	// AuthToken uses a static token (VAULT_TOKEN): development, or a token
	// a Vault Agent sidecar keeps fresh. It is never renewed here.
	AuthToken = "token"
	// AuthKubernetes logs in with the pod's service-account token at
	// POST /v1/auth/{mount}/login {"role", "jwt"}.
	AuthKubernetes = "kubernetes"
	// AuthAppRole logs in at POST /v1/auth/{mount}/login
	// {"role_id", "secret_id"}.
	AuthAppRole = "approle"
)

// DefaultJWTFile is where Kubernetes projects a pod's service-account token.
const DefaultJWTFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Auth says how the Source logs in to Vault. The zero value is AuthToken.
type Auth struct {
	// Method is AuthToken (default), AuthKubernetes or AuthAppRole.
	Method string
	// Mount is the auth method's mount path; default "kubernetes" or
	// "approle" after the method.
	Mount string
	// Role is the Kubernetes auth role (AuthKubernetes).
	Role string
	// JWTFile holds the service-account token (AuthKubernetes); default
	// DefaultJWTFile. It is read at every login: Kubernetes rotates it.
	JWTFile string
	// RoleID and SecretIDFile are the AppRole credentials (AuthAppRole).
	// The secret id is read from its file at every login.
	RoleID       string
	SecretIDFile string
}

// validate fills in defaults and checks that the method has what it needs.
func (a *Auth) validate() error {
	switch a.Method {
	case "", AuthToken:
		a.Method = AuthToken
		return nil
	case AuthKubernetes:
		if a.Role == "" {
			return errors.New("transit: Vault Kubernetes auth needs a role")
		}
		if a.JWTFile == "" {
			a.JWTFile = DefaultJWTFile
		}
	case AuthAppRole:
		if a.RoleID == "" || a.SecretIDFile == "" {
			return errors.New("transit: Vault AppRole auth needs a role id and a secret id file")
		}
	default:
		return fmt.Errorf("transit: unknown Vault auth method %q (want token, kubernetes or approle)", a.Method)
	}
	if a.Mount == "" {
		a.Mount = a.Method
	}
	a.Mount = strings.Trim(a.Mount, "/")
	if a.Mount == "" || strings.Contains(a.Mount, "//") {
		return fmt.Errorf("transit: bad auth mount path %q", a.Mount)
	}
	return nil
}

// session keeps the Source's Vault token alive when it came from a login:
// before each use it renews the token once half its lease has passed
// (POST /v1/auth/token/renew-self), and logs in again when the token is
// gone, expired or revoked. A failed renewal while Vault is down is not an
// error as long as the token has not expired: the keys are held in memory
// (keys.Ring) and the next use tries again.
type session struct {
	auth   Auth
	client *api.Client
	now    func() time.Time

	mu       sync.Mutex
	token    string    // "" before the first login
	issued   time.Time // when the lease started (login or last renewal)
	expires  time.Time // zero: no expiry (a root or periodic-less token)
	renewAt  time.Time
	canRenew bool
}

// ensure gives the client a live token: a login if there is none, a renewal
// if it is due.
func (s *session) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch {
	case s.token == "":
		return s.login(ctx)
	case !s.expires.IsZero() && !now.Before(s.expires):
		return s.login(ctx)
	case s.canRenew && !now.Before(s.renewAt):
		err := s.renew(ctx)
		if err == nil {
			return nil
		}
		var re *api.ResponseError
		if errors.As(err, &re) && (re.StatusCode == 403 || re.StatusCode == 400) {
			// Revoked, or past its max TTL: a fresh login.
			return s.login(ctx)
		}
		// Vault unreachable: the token still works until it expires; try
		// again at the next use.
		return nil
	}
	return nil
}

// relogin drops the token (Vault refused it: revoked or expired early)
// and logs in again, unless another caller already replaced it.
func (s *session) relogin(ctx context.Context, refused string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != refused {
		return nil
	}
	return s.login(ctx)
}

func (s *session) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

func (s *session) login(ctx context.Context) error {
	var body map[string]any
	switch s.auth.Method {
	case AuthKubernetes:
		jwt, err := readCredential(s.auth.JWTFile, "service-account token")
		if err != nil {
			return err
		}
		body = map[string]any{"role": s.auth.Role, "jwt": jwt}
	case AuthAppRole:
		secretID, err := readCredential(s.auth.SecretIDFile, "AppRole secret id")
		if err != nil {
			return err
		}
		body = map[string]any{"role_id": s.auth.RoleID, "secret_id": secretID}
	}
	path := "auth/" + s.auth.Mount + "/login"
	// A login sends no token: a stale one would only confuse audit logs.
	s.client.ClearToken()
	secret, err := s.client.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		s.token = ""
		return &Error{Op: "login", Path: path, Address: s.client.Address(), Status: statusOf(err), Errors: messagesOf(err), Err: err}
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		s.token = ""
		return fmt.Errorf("transit: Vault's answer to the %s login at %s carries no token", s.auth.Method, path)
	}
	s.adopt(secret.Auth)
	return nil
}

func (s *session) renew(ctx context.Context) error {
	secret, err := s.client.Auth().Token().RenewSelfWithContext(ctx, 0)
	if err != nil {
		return err
	}
	if secret == nil || secret.Auth == nil {
		return errors.New("transit: Vault's answer to renew-self carries no auth")
	}
	if secret.Auth.ClientToken == "" {
		secret.Auth.ClientToken = s.token
	}
	s.adopt(secret.Auth)
	return nil
}

// adopt takes a login's or renewal's lease: renew at half of it.
func (s *session) adopt(a *api.SecretAuth) {
	now := s.now()
	s.token = a.ClientToken
	s.client.SetToken(a.ClientToken)
	s.issued = now
	s.canRenew = a.Renewable
	s.expires, s.renewAt = time.Time{}, time.Time{}
	if a.LeaseDuration > 0 {
		lease := time.Duration(a.LeaseDuration) * time.Second
		s.expires = now.Add(lease)
		s.renewAt = now.Add(lease / 2)
	}
}

func readCredential(file, what string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("transit: reading the %s for the Vault login: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("transit: the %s file %s is empty", what, file)
	}
	return v, nil
}

func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func messagesOf(err error) []string {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return nil
	}
	var out []string
	for _, m := range re.Errors {
		if m = strings.TrimSpace(m); len(m) > 200 {
			m = m[:200] + "…"
		}
		out = append(out, m)
	}
	return out
}

// read and write are every Vault request of the Source: with a login-based
// auth they make sure of a live token first, and on a 403 (the token was
// revoked, or expired before its lease said) log in again and retry once.
// A 403 means Vault did nothing, so the retry cannot rotate a key twice.
func (s *Source) read(ctx context.Context, path string) (*api.Secret, error) {
	return s.do(ctx, func() (*api.Secret, error) { return s.client.Logical().ReadWithContext(ctx, path) })
}

func (s *Source) write(ctx context.Context, path string, body map[string]any) (*api.Secret, error) {
	return s.do(ctx, func() (*api.Secret, error) { return s.client.Logical().WriteWithContext(ctx, path, body) })
}

func (s *Source) do(ctx context.Context, call func() (*api.Secret, error)) (*api.Secret, error) {
	if s.session == nil {
		return call()
	}
	if err := s.session.ensure(ctx); err != nil {
		return nil, err
	}
	used := s.session.current()
	secret, err := call()
	if statusOf(err) != 403 {
		return secret, err
	}
	if lerr := s.session.relogin(ctx, used); lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	return call()
}
