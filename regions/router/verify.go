package router

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/regions"
)

// Defaults of VerifierConfig.
const (
	DefaultMaxAge         = 30 * time.Second
	DefaultMaxSkew        = 5 * time.Second
	DefaultReplayCapacity = 1 << 20
)

// Reasons Check refuses a forwarding header; each is wrapped by its error.
var (
	ErrNotForwarded  = errors.New("router: no forwarding header")
	ErrBadHeader     = errors.New("router: forwarding header refused")
	ErrBadSignature  = errors.New("router: forwarding signature does not match")
	ErrExpired       = errors.New("router: forwarding header expired or from the future")
	ErrReplayed      = errors.New("router: forwarding nonce already seen")
	ErrUnknownKey    = errors.New("router: forwarding key id unknown")
	ErrNotFromRegion = errors.New("router: forwarding header names no other region of the topology")
	// ErrReplayUnavailable: the shared replay store did not answer, so the
	// header cannot be checked for a replay and is refused.
	ErrReplayUnavailable = errors.New("router: forwarding replay store unavailable")
)

// ReplayStore remembers forwarding nonces for every instance of a region
// (app/cache: Redis SET NX with the validity window as TTL), so that a
// captured forwarded request cannot be replayed to a sibling instance.
type ReplayStore interface {
	// FirstUse records key for ttl; false when it was recorded already.
	FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Forwarded is what a verified forwarding header says.
type Forwarded struct {
	// EntryRegion is the region the client reached; its name goes into
	// Gatehouse-Entry-Region.
	EntryRegion string
	// ClientAddr is the client's address as the entry region saw it, in
	// canonical form ("203.0.113.7", "2001:db8::1"). Use it instead of the
	// TCP peer (which is the entry region) for logs and address limits.
	ClientAddr string
	// KeyID is the ID of the key that signed it.
	KeyID string
	// SignedAt is when the entry region signed it.
	SignedAt time.Time
}

// VerifierConfig configures a Verifier. Zero values take the defaults.
type VerifierConfig struct {
	Self     string            // this region (the home region); required
	Topology *regions.Topology // required: only its other regions are believed
	Keys     Keys              // required
	// MaxAge is how long after signing a header is accepted.
	MaxAge time.Duration
	// MaxSkew is how far in the future a signing time may be (clock skew).
	MaxSkew time.Duration
	// ReplayCapacity bounds the nonces remembered (for MaxAge+MaxSkew);
	// when full, new headers are refused rather than memory grown.
	ReplayCapacity int
	// Replay, when set, replaces the in-process nonce cache with one that
	// every instance of the region shares; when it fails, forwarded
	// requests are refused (ErrReplayUnavailable), never accepted unchecked.
	Replay ReplayStore
	Logger *slog.Logger     // nil: slog.Default()
	Now    func() time.Time // nil: time.Now
}

// Verifier authenticates forwarded requests on the home region's side. It
// is safe for concurrent use.
type Verifier struct {
	self     string
	topology *regions.Topology
	keys     Keys
	maxAge   time.Duration
	maxSkew  time.Duration
	logger   *slog.Logger
	now      func() time.Time
	replay   *replayCache
	shared   ReplayStore
}

// NewVerifier checks cfg and builds a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Topology == nil || cfg.Keys == nil {
		return nil, errors.New("router: verifier needs a topology and keys")
	}
	if _, ok := cfg.Topology.Lookup(cfg.Self); !ok {
		return nil, fmt.Errorf("router: this region %q is not in the topology", cfg.Self)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.ReplayCapacity <= 0 {
		cfg.ReplayCapacity = DefaultReplayCapacity
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{
		self: cfg.Self, topology: cfg.Topology, keys: cfg.Keys,
		maxAge: cfg.MaxAge, maxSkew: cfg.MaxSkew,
		logger: cfg.Logger.With("component", "router"), now: cfg.Now,
		replay: &replayCache{capacity: cfg.ReplayCapacity, seen: map[string]time.Time{}},
		shared: cfg.Replay,
	}, nil
}

// Verify reports whether r is a request forwarded by another region of the
// topology, signed with a live key, unexpired, not replayed, and over
// exactly this body. When it is not (no header, or a forged, expired,
// replayed or mangled one) it returns false; a caller that serves external
// requests must then refuse r when it carries the header at all (Check
// tells the two apart).
//
// Call it once per request (the nonce is consumed) and keep the result
// with WithForwarded.
func (v *Verifier) Verify(r *http.Request, body []byte) (Forwarded, bool) {
	fw, err := v.Check(r, body)
	if err != nil {
		if !errors.Is(err, ErrNotForwarded) {
			v.logger.DebugContext(r.Context(), "forwarding header refused", "error", err.Error())
		}
		return Forwarded{}, false
	}
	return fw, true
}

// Check is Verify with the reason for a refusal, for logs and metrics.
func (v *Verifier) Check(r *http.Request, body []byte) (Forwarded, error) {
	raw := r.Header.Values(HeaderForwarded)
	if len(raw) == 0 {
		return Forwarded{}, ErrNotForwarded
	}
	if len(raw) > 1 {
		return Forwarded{}, fmt.Errorf("%w: sent more than once", ErrBadHeader)
	}
	env, err := parseHeader(raw[0])
	if err != nil {
		return Forwarded{}, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	secret, ok := v.keys.Lookup(env.KeyID)
	if !ok {
		return Forwarded{}, ErrUnknownKey
	}
	if _, ok := v.topology.Lookup(env.Entry); !ok || env.Entry == v.self || env.To != v.self {
		return Forwarded{}, ErrNotFromRegion
	}
	now := v.now()
	signed := time.Unix(env.TS, 0)
	if now.Sub(signed) > v.maxAge || signed.Sub(now) > v.maxSkew {
		return Forwarded{}, ErrExpired
	}
	target := r.RequestURI // the request target exactly as it came on the wire
	if target == "" {
		target = r.URL.RequestURI()
	}
	want := env.mac(secret, signedRequest{
		Method:        r.Method,
		Target:        target,
		ContentType:   r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization"),
		Body:          body,
	})
	if !hmac.Equal(want, env.Sig) {
		return Forwarded{}, ErrBadSignature
	}
	nonce, expires := env.KeyID+"/"+env.Nonce, signed.Add(v.maxAge+v.maxSkew)
	if v.shared != nil {
		first, err := v.shared.FirstUse(r.Context(), nonce, expires.Sub(now))
		if err != nil {
			return Forwarded{}, fmt.Errorf("%w: %w", ErrReplayUnavailable, err)
		}
		if !first {
			return Forwarded{}, ErrReplayed
		}
	} else if !v.replay.add(nonce, expires, now) {
		return Forwarded{}, ErrReplayed
	}
	return Forwarded{EntryRegion: env.Entry, ClientAddr: env.Client.String(), KeyID: env.KeyID, SignedAt: signed}, nil
}

// replayCache remembers nonces until their header expires.
type replayCache struct {
	capacity int

	mu        sync.Mutex
	seen      map[string]time.Time // nonce → expiry
	lastSweep time.Time
}

// add records nonce; false if it was already there or the cache is full.
func (c *replayCache) add(nonce string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.seen[nonce]; ok && now.Before(exp) {
		return false
	}
	if len(c.seen) >= c.capacity || now.Sub(c.lastSweep) > time.Second {
		for n, exp := range c.seen {
			if !now.Before(exp) {
				delete(c.seen, n)
			}
		}
		c.lastSweep = now
		if len(c.seen) >= c.capacity {
			return false
		}
	}
	c.seen[nonce] = expires
	return true
}

type ctxKey struct{}

// WithForwarded returns a context that records a verified forwarding, so
// that code further down the request knows the client address and entry
// region and Forward refuses to forward the request again.
func WithForwarded(ctx context.Context, fw Forwarded) context.Context {
	return context.WithValue(ctx, ctxKey{}, fw)
}

// FromContext returns the verified forwarding recorded by WithForwarded.
func FromContext(ctx context.Context) (Forwarded, bool) {
	fw, ok := ctx.Value(ctxKey{}).(Forwarded)
	return fw, ok
}

// Forwardable says whether r may be forwarded to another region: false when
// it came from another region (a verified forwarding in its context) or
// merely claims to (it carries HeaderForwarded, valid or not). Such a
// request is served here, never forwarded, so two regions that disagree on
// a user's home region cannot bounce a request between them.
func Forwardable(r *http.Request) bool {
	if _, ok := FromContext(r.Context()); ok {
		return false
	}
	return len(r.Header.Values(HeaderForwarded)) == 0
}
