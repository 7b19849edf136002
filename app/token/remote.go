package token

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for RemoteKeySetOptions, and the limits of a fetch.
const (
	// DefaultJWKSMaxAge is how long a fetched JWKS is used by default.
	DefaultJWKSMaxAge = time.Hour
	// DefaultJWKSMinInterval is the default least time between fetches.
	DefaultJWKSMinInterval = 30 * time.Second
	// DefaultJWKSTimeout bounds one fetch.
	DefaultJWKSTimeout = 10 * time.Second
	// MaxJWKSBytes bounds the JWKS response body.
	MaxJWKSBytes = 1 << 20
)

// RemoteKeySetOptions configures a RemoteKeySet.
type RemoteKeySetOptions struct {
	// URL is the issuer's jwks_uri. Required; use https.
	URL string
	// Client makes the requests; nil means a client with DefaultJWKSTimeout.
	Client *http.Client
	// MaxAge is how long a fetched set is used before it is fetched again
	// (on the next lookup); zero means DefaultJWKSMaxAge.
	MaxAge time.Duration
	// MinInterval is the least time between two fetches, successful or not,
	// so that tokens with random kids cannot make us hammer the issuer; zero
	// means DefaultJWKSMinInterval.
	MinInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives fetch failures; nil means they are not logged.
	Log *slog.Logger
}

// RemoteKeySet is the KeyLookup of a resource server: it fetches the
// issuer's JWKS over HTTP and caches the ES256 keys (see ParseJWKS). A
// lookup fetches when nothing is cached yet, when the cached set is older
// than MaxAge, or when kid is unknown — never more than once per
// MinInterval. When a refetch fails, the keys already cached stay in use.
// Concurrent lookups share one fetch. It is safe for concurrent use.
type RemoteKeySet struct {
	url         string
	client      *http.Client
	maxAge      time.Duration
	minInterval time.Duration
	now         func() time.Time
	log         *slog.Logger

	cached atomic.Pointer[remoteSnapshot]

	mu          sync.Mutex
	lastAttempt time.Time    // guarded by mu
	inflight    *remoteFetch // guarded by mu; nil when no fetch runs
}

// remoteSnapshot is one fetched key set.
type remoteSnapshot struct {
	keys    KeySet
	fetched time.Time
}

// remoteFetch is a fetch in progress; done closes when it ends.
type remoteFetch struct {
	done chan struct{}
	err  error
}

// NewRemoteKeySet returns a RemoteKeySet. It fetches nothing until the first
// lookup (or Refresh).
func NewRemoteKeySet(opts RemoteKeySetOptions) *RemoteKeySet {
	r := &RemoteKeySet{
		url:         opts.URL,
		client:      opts.Client,
		maxAge:      opts.MaxAge,
		minInterval: opts.MinInterval,
		now:         opts.Now,
		log:         opts.Log,
	}
	if r.client == nil {
		r.client = &http.Client{Timeout: DefaultJWKSTimeout}
	}
	if r.maxAge <= 0 {
		r.maxAge = DefaultJWKSMaxAge
	}
	if r.minInterval <= 0 {
		r.minInterval = DefaultJWKSMinInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// PublicKey returns the key named kid, fetching the JWKS if needed and
// allowed. ctx bounds the wait for a fetch.
func (r *RemoteKeySet) PublicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, bool) {
	snap := r.cached.Load()
	if snap != nil {
		if pub, ok := snap.keys[kid]; ok && r.now().Sub(snap.fetched) < r.maxAge {
			return pub, true
		}
	}
	// Unknown kid, stale set, or nothing yet: fetch if the rate limit allows.
	_ = r.fetch(ctx, false) // run logs failures; cached keys stay in use
	if snap = r.cached.Load(); snap == nil {
		return nil, false
	}
	pub, ok := snap.keys[kid]
	return pub, ok
}

// Refresh fetches the JWKS now, ignoring MinInterval (a startup warm-up, or
// an operator's request). It waits for a fetch already running instead of
// starting a second.
func (r *RemoteKeySet) Refresh(ctx context.Context) error { return r.fetch(ctx, true) }

// errFetchTooSoon means the rate limit held a fetch back.
var errFetchTooSoon = errors.New("JWKS fetched too recently")

// fetch starts a fetch, or joins the one running, and waits for it.
func (r *RemoteKeySet) fetch(ctx context.Context, force bool) error {
	r.mu.Lock()
	f := r.inflight
	if f == nil {
		now := r.now()
		if !force && !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.minInterval {
			r.mu.Unlock()
			return errFetchTooSoon
		}
		r.lastAttempt = now
		f = &remoteFetch{done: make(chan struct{})}
		r.inflight = f
		// The fetch outlives a caller that gives up; it has its own timeout.
		go r.run(context.WithoutCancel(ctx), f)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run performs one fetch and publishes its result.
func (r *RemoteKeySet) run(ctx context.Context, f *remoteFetch) {
	ctx, cancel := context.WithTimeout(ctx, DefaultJWKSTimeout)
	defer cancel()
	keys, err := r.get(ctx)
	if err == nil {
		r.cached.Store(&remoteSnapshot{keys: keys, fetched: r.now()})
	} else {
		r.log.WarnContext(ctx, "token: fetching JWKS failed", "url", r.url, "err", err)
	}
	r.mu.Lock()
	f.err = err
	r.inflight = nil
	r.mu.Unlock()
	close(f.done)
}

// get fetches and parses the JWKS.
func (r *RemoteKeySet) get(ctx context.Context) (KeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("token: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token: jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token: jwks fetch: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("token: jwks read: %w", err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, errors.New("token: jwks larger than MaxJWKSBytes")
	}
	return ParseJWKS(body)
}
