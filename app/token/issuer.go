package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/keys"
)

// SigningKeys is the key ring the Issuer signs with and LocalKeySet verifies
// with; *keys.Ring implements it. Both methods are called on every use, so a
// ring that refreshes in the background is followed.
type SigningKeys interface {
	// Signer returns the current signing key.
	Signer() keys.SigningKey
	// SigningKeys returns every live signing key.
	SigningKeys() []keys.SigningKey
}

// Issuer signs access tokens with the current key of a ring. It is safe for
// concurrent use.
type Issuer struct {
	issuer string
	keys   SigningKeys
	ttl    time.Duration
	now    func() time.Time
	// header caches the encoded JOSE header of the last signing key.
	header atomic.Pointer[encodedHeader]
}

// encodedHeader is the base64url JOSE header for one signing key.
type encodedHeader struct {
	key keys.SigningKey
	b64 string
}

// NewIssuer returns an Issuer for the issuer identifier issuer (the "iss"
// claim, exactly as verifiers will compare it) that signs with the ring's
// current key and gives tokens a lifetime of ttl.
func NewIssuer(issuer string, keys SigningKeys, ttl time.Duration, now func() time.Time) *Issuer {
	return &Issuer{issuer: issuer, keys: keys, ttl: ttl, now: now}
}

// Issue signs c as an at+jwt. It fills in iss, iat, exp (iat plus the
// lifetime) and jti (128 random bits) when they are unset; c.Issuer, if set,
// must be the Issuer's own. sub and aud are required. Failures are internal
// errors: they are the caller's bug or a broken key.
func (is *Issuer) Issue(c Claims) (string, error) {
	if c.Issuer == "" {
		c.Issuer = is.issuer
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = is.now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(is.ttl)
	}
	if c.ID == "" {
		c.ID = newJTI()
	}
	switch {
	case c.Issuer != is.issuer:
		return "", issueError("iss %q is not this issuer's %q", c.Issuer, is.issuer)
	case c.Subject == "":
		return "", issueError("no sub")
	case len(c.Audience) == 0 || slicesContainsEmpty(c.Audience):
		return "", issueError("no aud, or an empty one")
	case c.ExpiresAt.Unix() <= c.IssuedAt.Unix():
		return "", issueError("exp is not after iat")
	}

	key := is.keys.Signer()
	hdr, err := is.headerFor(key)
	if err != nil {
		return "", err
	}
	var payloadBuf [512]byte
	payload, err := appendClaims(payloadBuf[:0], &c)
	if err != nil {
		return "", issueError("encoding claims: %w", err)
	}

	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(hdr)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(sigSize))
	out = append(out, hdr...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)
	digest := sha256.Sum256(out)
	der, err := ecdsa.SignASN1(rand.Reader, key.Private, digest[:])
	if err != nil {
		return "", issueError("signing with key %s: %w", key.KID(), err)
	}
	raw, err := rawFromDER(der)
	if err != nil {
		return "", issueError("signing with key %s: %w", key.KID(), err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, raw[:])
	return string(out), nil
}

// headerFor returns the encoded header naming key, from the cache when the
// key has not changed.
func (is *Issuer) headerFor(key keys.SigningKey) (string, error) {
	if h := is.header.Load(); h != nil && h.key == key {
		return h.b64, nil
	}
	if key.Private == nil || key.Private.Curve != elliptic.P256() {
		return "", issueError("signing key %s is not ECDSA P-256", key.KID())
	}
	json := []byte(`{"alg":"ES256","typ":"at+jwt","kid":`)
	json, err := appendJSONString(json, key.KID())
	if err != nil {
		return "", issueError("key id: %w", err)
	}
	json = append(json, '}')
	h := &encodedHeader{key: key, b64: base64.RawURLEncoding.EncodeToString(json)}
	is.header.Store(h)
	return h.b64, nil
}

// newJTI returns 128 random bits, base64url-encoded.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func slicesContainsEmpty(a []string) bool {
	for _, s := range a {
		if s == "" {
			return true
		}
	}
	return false
}

func issueError(format string, args ...any) error {
	return errs.Internal(fmt.Errorf("token: issue: "+format, args...))
}

// errNotP256 reports a key that is not on P-256.
var errNotP256 = errors.New("key is not ECDSA P-256")
