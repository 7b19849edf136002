package token

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// CachingVerifier remembers tokens whose signature and claims verified, for
// a short while: a resource server introspects the same access token many
// times over its life, and each ES256 verification costs about as much as
// the rest of the request. On a hit the time claims (exp, nbf) are checked
// again against the clock; revocation is not cached here (callers check it
// on every request). A token stays cached at most TTL, so a signing key
// withdrawn from the key set stops verifying within TTL.
type CachingVerifier struct {
	v       *Verifier
	now     func() time.Time
	ttl     time.Duration
	maxSize int

	mu      sync.RWMutex
	entries map[[32]byte]cached
}

type cached struct {
	claims  *Claims
	expires time.Time // when the entry lapses (≤ TTL)
}

// NewCachingVerifier wraps v with a cache of at most size tokens, each kept
// at most ttl.
func NewCachingVerifier(v *Verifier, size int, ttl time.Duration, now func() time.Time) *CachingVerifier {
	if now == nil {
		now = time.Now
	}
	return &CachingVerifier{v: v, now: now, ttl: ttl, maxSize: max(1, size), entries: make(map[[32]byte]cached, size)}
}

// Verify is Verifier.Verify with the cache in front. The returned claims
// are shared: callers must not modify them.
func (c *CachingVerifier) Verify(ctx context.Context, tok string) (*Claims, error) {
	if len(tok) > c.v.maxBytes {
		return c.v.Verify(ctx, tok)
	}
	key := sha256.Sum256([]byte(tok))
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		// The same time checks as Verifier.Verify.
		if !now.Before(e.claims.ExpiresAt.Add(c.v.leeway)) || (!e.claims.NotBefore.IsZero() && now.Add(c.v.leeway).Before(e.claims.NotBefore)) {
			return nil, invalid("token is expired or not yet valid")
		}
		return e.claims, nil
	}
	claims, err := c.v.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	until := now.Add(c.ttl)
	if claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	c.mu.Lock()
	if len(c.entries) >= c.maxSize {
		// Full: drop about a tenth, in map order (effectively random).
		drop := max(1, c.maxSize/10)
		for k := range c.entries {
			delete(c.entries, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[key] = cached{claims: claims, expires: until}
	c.mu.Unlock()
	return claims, nil
}
