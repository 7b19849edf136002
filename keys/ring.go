package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Loader reads every live version of every key from a key source.
type Loader interface {
	Load(ctx context.Context) (*Set, error)
}

// Source is a key source Gatehouse can also administer: both Vault Transit
// (keys/transit) and the local keyring (keys/local) are Sources.
type Source interface {
	Loader
	// Init creates version 1 of each key chain that does not exist yet. It is
	// idempotent: existing keys are left alone.
	Init(ctx context.Context) error
	// Rotate adds a new version to a key chain; it becomes the current one.
	// Older versions stay live.
	Rotate(ctx context.Context, p Purpose) error
}

// ErrNotInitialized is wrapped by a Source's Load when its keys do not exist.
var ErrNotInitialized = errors.New("keys not initialised: run `gatehouse keys init`")

// DefaultRefreshInterval is used by Run when given no positive interval.
const DefaultRefreshInterval = time.Minute

// minKickInterval is the least time between two refreshes asked for by a
// lookup of a version newer than any this Ring holds (see SigningKeyByKID).
const minKickInterval = 5 * time.Second

// Ring holds the current Set in memory and refreshes it in the background.
// Reads are lock-free; a failed refresh keeps the last good Set, so an outage
// of the key source stops neither logins nor token signing.
type Ring struct {
	loader Loader
	logger *slog.Logger

	cur      atomic.Pointer[Set]
	loadedAt atomic.Int64 // unix nanoseconds of the last successful load

	reloadMu sync.Mutex    // serialises loads so an older result never replaces a newer one
	kick     chan struct{} // a lookup missed a version newer than ours
	failures atomic.Int64  // consecutive failed refreshes
}

// NewRing loads and validates the keys once. It fails if that fails: the
// server must not start without keys. A nil logger means slog.Default().
func NewRing(ctx context.Context, l Loader, logger *slog.Logger) (*Ring, error) {
	if l == nil {
		return nil, errors.New("keys: NewRing: nil Loader")
	}
	if logger == nil {
		logger = slog.Default()
	}
	r := &Ring{loader: l, logger: logger, kick: make(chan struct{}, 1)}
	if err := r.Reload(ctx); err != nil {
		return nil, fmt.Errorf("keys: initial load: %w", err)
	}
	return r, nil
}

// Reload loads and validates the keys now and, if that succeeds, makes them
// current. On error the current Set is kept.
func (r *Ring) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	set, err := r.loader.Load(ctx)
	if err != nil {
		return err
	}
	if set == nil {
		return errors.New("keys: loader returned no key set")
	}
	if err := set.Validate(); err != nil {
		return err
	}
	old := r.cur.Swap(set)
	r.loadedAt.Store(time.Now().UnixNano())
	if old == nil {
		r.logger.Info("keys: loaded", "keys", set)
	} else if !sameVersions(old, set) {
		r.logger.Info("keys: key versions changed", "old", old, "new", set)
	}
	return nil
}

func sameVersions(a, b *Set) bool {
	return slices.Equal(a.pepperVersions(), b.pepperVersions()) && slices.Equal(a.kids(), b.kids())
}

// Run refreshes the keys about every interval (with ±10% jitter so replicas
// spread their load on the key source) until ctx ends. A failed refresh is
// logged as a warning and the last good Set is kept. Run also refreshes
// early, at most every few seconds, when a lookup asks for a version newer
// than any held: another replica has seen a rotation first.
func (r *Ring) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultRefreshInterval
	}
	timer := time.NewTimer(jitter(every))
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.kick:
			if time.Since(last) < minKickInterval {
				continue
			}
		}
		r.refresh(ctx, every)
		last = time.Now()
		timer.Reset(jitter(every))
	}
}

func (r *Ring) refresh(parent context.Context, every time.Duration) {
	// A refresh must not hang forever on a stuck source; the sources have
	// their own, shorter, timeouts.
	ctx, cancel := context.WithTimeout(parent, min(max(every, time.Second), time.Minute))
	defer cancel()
	err := r.Reload(ctx)
	if err == nil {
		r.failures.Store(0)
		return
	}
	if parent.Err() != nil {
		return // shutting down
	}
	// Sources never put key material in their errors.
	r.logger.Warn("keys: refresh failed; keeping the last good keys",
		"err", err,
		"consecutive_failures", r.failures.Add(1),
		"keys_age", time.Since(r.LoadedAt()).Round(time.Second).String(),
		"keys", r.Current())
}

func jitter(d time.Duration) time.Duration {
	j := d / 10
	if j <= 0 {
		return d
	}
	return d - j + rand.N(2*j+1)
}

// Current returns the current Set. It never returns nil once NewRing has
// succeeded, and never blocks.
func (r *Ring) Current() *Set { return r.cur.Load() }

// LoadedAt is when the current Set was loaded; a health check can use it to
// report keys gone stale during a long outage of the key source.
func (r *Ring) LoadedAt() time.Time { return time.Unix(0, r.loadedAt.Load()) }

// Pepper returns the current pepper.
func (r *Ring) Pepper() Secret { return r.Current().Pepper() }

// PepperVersion returns a given pepper version, if it is live. Asking for a
// version newer than the current one triggers an early refresh (see Run).
func (r *Ring) PepperVersion(v int) (Secret, bool) {
	set := r.Current()
	p, ok := set.PepperVersion(v)
	if !ok && v > set.Pepper().Version {
		r.askRefresh()
	}
	return p, ok
}

// Signer returns the current signing key.
func (r *Ring) Signer() SigningKey { return r.Current().Signer() }

// SigningKeyByKID finds a live signing key by its JWT key id. Asking for a
// newer version of the current key triggers an early refresh (see Run); other
// unknown kids do not, so forged tokens cannot make Gatehouse hammer its key
// source.
func (r *Ring) SigningKeyByKID(kid string) (SigningKey, bool) {
	set := r.Current()
	k, ok := set.SigningKeyByKID(kid)
	if !ok {
		cur := set.Signer()
		if v, found := strings.CutPrefix(kid, cur.Name+"-v"); found {
			if n, err := ParseVersion(v); err == nil && n > cur.Version {
				r.askRefresh()
			}
		}
	}
	return k, ok
}

// SigningKeys returns every live signing key, oldest first, e.g. for a JWKS.
func (r *Ring) SigningKeys() []SigningKey { return slices.Clone(r.Current().SigningKeys()) }

func (r *Ring) askRefresh() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// ConsecutiveFailures is how many refreshes in a row have failed (0 after
// a success); exported as a metric for the key-refresh alert.
func (r *Ring) ConsecutiveFailures() int64 { return r.failures.Load() }
