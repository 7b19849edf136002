package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// ClientSpec is what an administrator registers.
type ClientSpec struct {
	ID                     string   `json:"client_id"`
	Name                   string   `json:"name"`
	Confidential           bool     `json:"confidential"`
	FirstParty             bool     `json:"first_party"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

var clientIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{2,63}$`)

// reservedClients are ids Gatehouse uses itself.
var reservedClients = map[string]bool{auth.FirstPartyClient: true, auth.WebClient: true}

// checkRedirectURI accepts an absolute URI without a fragment: https, or
// http on a loopback host (RFC 8252 §7.3), or a private-use scheme of a
// native app (RFC 8252 §7.1).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	bad := errs.Invalid("invalid_redirect_uri", "redirect URIs must be absolute https (or http on localhost) without a fragment: "+raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(raw, "#") || len(raw) > 2000 {
		return bad
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return bad
		}
	case "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return bad
		}
	default:
		if !strings.Contains(u.Scheme, ".") { // private-use schemes are reverse domain names
			return bad
		}
	}
	return nil
}

// CreateClient registers a client. A confidential client's secret is
// returned once and only its hash is kept.
func (p *Provider) CreateClient(ctx context.Context, spec ClientSpec) (Client, string, error) {
	if spec.ID == "" {
		spec.ID = "c_" + base64.RawURLEncoding.EncodeToString(p.random(12))
	}
	if !clientIDPattern.MatchString(spec.ID) || reservedClients[spec.ID] {
		return Client{}, "", errs.Invalid("invalid_client_metadata", "client_id must be 3-64 letters, digits, '.', '_' or '-' and not reserved")
	}
	if strings.TrimSpace(spec.Name) == "" || len(spec.Name) > 200 {
		return Client{}, "", errs.Invalid("invalid_client_metadata", "name is required (at most 200 characters)")
	}
	if len(spec.RedirectURIs) == 0 || len(spec.RedirectURIs) > 20 {
		return Client{}, "", errs.Invalid("invalid_redirect_uri", "between 1 and 20 redirect_uris are required")
	}
	for _, u := range append(append([]string{}, spec.RedirectURIs...), spec.PostLogoutRedirectURIs...) {
		if err := checkRedirectURI(u); err != nil {
			return Client{}, "", err
		}
	}
	now := p.now()
	c := Client{ID: spec.ID, Name: strings.TrimSpace(spec.Name), Confidential: spec.Confidential, FirstParty: spec.FirstParty,
		RedirectURIs: spec.RedirectURIs, PostLogoutRedirectURIs: orEmpty(spec.PostLogoutRedirectURIs), CreatedAt: now, UpdatedAt: now}
	var secret string
	if c.Confidential {
		secret = p.newSecret()
		c.SecretHash = hashSecret(secret)
	}
	if err := p.store.CreateClient(ctx, c); err != nil {
		return Client{}, "", err
	}
	return c, secret, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Client reads a registered client.
func (p *Provider) Client(ctx context.Context, id string) (Client, error) {
	return p.store.Client(ctx, id)
}

// ListClients lists the registered clients.
func (p *Provider) ListClients(ctx context.Context) ([]Client, error) {
	return p.store.ListClients(ctx)
}

// DeleteClient removes a client; its codes can no longer be redeemed.
func (p *Provider) DeleteClient(ctx context.Context, id string) error {
	return p.store.DeleteClient(ctx, id)
}

// RotateSecret gives a confidential client a new secret (returned once);
// the old one keeps working for overlap, so deployments can roll over.
func (p *Provider) RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	c, err := p.store.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if !c.Confidential {
		return "", errs.Invalid("invalid_request", "a public client has no secret")
	}
	if overlap < 0 || overlap > 30*24*time.Hour {
		return "", errs.Invalid("invalid_request", "overlap must be between 0 and 30 days")
	}
	now := p.now()
	secret := p.newSecret()
	var prevExpires *time.Time
	prev := c.SecretHash
	if overlap > 0 {
		t := now.Add(overlap)
		prevExpires = &t
	} else {
		prev = nil
	}
	if err := p.store.SetClientSecret(ctx, id, hashSecret(secret), prev, prevExpires, now); err != nil {
		return "", err
	}
	return secret, nil
}

// newSecret is 256 random bits; a hash of it is as strong as the secret,
// so SHA-256 (not a slow hash) keeps it.
func (p *Provider) newSecret() string {
	return "ghs_" + base64.RawURLEncoding.EncodeToString(p.random(32))
}

func hashSecret(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func invalidClient() error {
	return errs.E(errs.KindUnauthenticated, "invalid_client", "client authentication failed")
}

// ClientCredentials is how a request presented a client: client_secret_basic
// (Basic), client_secret_post (SecretInBody) or none (a public client's id).
type ClientCredentials struct {
	ID           string
	Secret       string
	Basic        bool
	SecretInBody bool
}

// AuthenticateClient checks a client's credentials (RFC 6749 §2.3): a
// confidential client must present its current secret (or the previous
// one within its overlap); a public client must present none.
func (p *Provider) AuthenticateClient(ctx context.Context, cc ClientCredentials) (Client, error) {
	if cc.ID == "" || len(cc.ID) > 64 {
		return Client{}, invalidClient()
	}
	c, err := p.store.Client(ctx, cc.ID)
	if errs.Is(err, errs.KindNotFound) {
		return Client{}, invalidClient()
	}
	if err != nil {
		return Client{}, err
	}
	if !c.Confidential {
		if cc.Secret != "" {
			return Client{}, invalidClient()
		}
		return c, nil
	}
	if cc.Secret == "" {
		return Client{}, invalidClient()
	}
	h := hashSecret(cc.Secret)
	ok := subtle.ConstantTimeCompare(h, c.SecretHash) == 1
	if !ok && c.PreviousSecretHash != nil && c.PreviousSecretExpiresAt != nil && p.now().Before(*c.PreviousSecretExpiresAt) {
		ok = subtle.ConstantTimeCompare(h, c.PreviousSecretHash) == 1
	}
	if !ok {
		return Client{}, invalidClient()
	}
	return c, nil
}
