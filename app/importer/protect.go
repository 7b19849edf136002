package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
)

// DefaultProtectBatch is how many legacy credentials protect-legacy reads
// per page.
const DefaultProtectBatch = 500

// LegacyStore is what protect-legacy needs from the store. *store.DB
// implements it.
type LegacyStore interface {
	// ClaimLegacyBatch returns up to limit credentials of kind legacy whose
	// user id is above afterUserID, in user id order.
	ClaimLegacyBatch(ctx context.Context, afterUserID uuid.UUID, limit int) ([]auth.Credential, error)
	// WrapCredential replaces the credential of next.UserID by next only if
	// it is still the legacy credential oldHash; it reports whether it did.
	WrapCredential(ctx context.Context, oldHash string, next auth.Credential) (bool, error)
}

// Hasher makes a peppered Argon2id PHC string of a secret.
// *password.Hasher implements it.
type Hasher interface {
	Hash(ctx context.Context, secret []byte) (string, error)
}

// ProtectOptions tune one protect-legacy run.
type ProtectOptions struct {
	// Workers hash in parallel (runtime.GOMAXPROCS(0) when <= 0). The
	// hasher's own pool still bounds how many hashes run at once.
	Workers int
	// BatchSize is the page size of the credential scan
	// (DefaultProtectBatch when <= 0).
	BatchSize int
	// After starts the scan after this user id (uuid.Nil: from the start),
	// e.g. to resume a long run or to split the key space between processes.
	After uuid.UUID
	// Progress, when set, is told about every credential examined.
	Progress Progress
}

// ProtectReport sums up a protect-legacy run.
type ProtectReport struct {
	// Examined counts the legacy credentials read.
	Examined int64
	// Wrapped counts the fast digests now stored as kind wrapped.
	Wrapped int64
	// Slow counts the legacy hashes left as they are (bcrypt, PBKDF2,
	// scrypt, crypt, argon2: already slow to brute-force).
	Slow int64
	// Changed counts the credentials that changed between the read and the
	// swap (the user logged in, or another process wrapped it): not touched.
	Changed int64
	// Unreadable counts stored legacy hashes that no longer parse (logged
	// by user id, left alone).
	Unreadable int64
	// LastUserID is the highest user id examined: After for a later run.
	LastUserID uuid.UUID
}

// Protector runs protect-legacy: it wraps every fast legacy credential
// (MD5, SHA-1, SHA-256, SHA-512 digests) as argon2id(pepper(digest)), kind
// "wrapped", with the recipe that re-derives the digest at login. It can be
// stopped and run again at any time, in several processes at once: each
// swap is a compare-and-swap on the legacy hash, so a credential is never
// wrapped twice and a password changed meanwhile is never overwritten.
type Protector struct {
	store  LegacyStore
	hasher Hasher
	log    *slog.Logger
	now    func() time.Time
}

// NewProtector returns a protect-legacy job; clock nil means time.Now.
func NewProtector(store LegacyStore, hasher Hasher, logger *slog.Logger, clock func() time.Time) *Protector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	return &Protector{store: store, hasher: hasher, log: logger, now: clock}
}

// Run wraps the fast legacy credentials found after opts.After until none
// is left or ctx ends. The report counts what was done even on error.
func (p *Protector) Run(ctx context.Context, opts ProtectOptions) (ProtectReport, error) {
	if p.hasher == nil || p.store == nil {
		return ProtectReport{}, errNoHasher
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultProtectBatch
	}
	if opts.Progress != nil {
		defer opts.Progress.Done()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		rep                      ProtectReport
		wrapped, changed, failed atomic.Int64
		wg                       sync.WaitGroup
	)
	type job struct {
		recipe legacyhash.Recipe
		c      auth.Credential
		dig    []byte
	}
	jobs := make(chan job, opts.Workers)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ok, err := p.wrap(ctx, j.c, j.recipe, j.dig)
				clear(j.dig)
				switch {
				case err != nil:
					failed.Add(1)
					cancel(err)
				case ok:
					wrapped.Add(1)
				default:
					changed.Add(1)
				}
				if opts.Progress != nil {
					opts.Progress.Add(1)
				}
			}
		}()
	}
	p.log.InfoContext(ctx, "protect-legacy started", "workers", opts.Workers, "after", opts.After)
	after := opts.After
	var scanErr error
scan:
	for ctx.Err() == nil {
		creds, err := p.store.ClaimLegacyBatch(ctx, after, opts.BatchSize)
		if err != nil {
			scanErr = fmt.Errorf("importer: protect-legacy: read credentials after %s: %w", after, err)
			break
		}
		if len(creds) == 0 {
			break
		}
		for _, c := range creds {
			rep.Examined++
			after, rep.LastUserID = c.UserID, c.UserID
			if c.Kind != auth.CredentialLegacy {
				continue
			}
			h, err := legacyhash.Parse(c.Hash)
			if err != nil {
				rep.Unreadable++
				p.log.WarnContext(ctx, "protect-legacy: stored legacy hash does not parse", "user_id", c.UserID)
			}
			var (
				recipe legacyhash.Recipe
				digest []byte
				fast   bool
			)
			if err == nil {
				recipe, digest, fast = h.Wrapped()
			}
			if !fast {
				if err == nil {
					rep.Slow++
				}
				if opts.Progress != nil {
					opts.Progress.Add(1)
				}
				continue
			}
			select {
			case jobs <- job{recipe: recipe, c: c, dig: digest}:
			case <-ctx.Done():
				break scan
			}
		}
	}
	close(jobs)
	wg.Wait()
	rep.Wrapped, rep.Changed = wrapped.Load(), changed.Load()
	p.log.InfoContext(ctx, "protect-legacy finished", "examined", rep.Examined, "wrapped", rep.Wrapped,
		"slow", rep.Slow, "changed", rep.Changed, "unreadable", rep.Unreadable, "last_user_id", rep.LastUserID)
	if scanErr != nil {
		return rep, scanErr
	}
	if err := context.Cause(ctx); err != nil {
		if failed.Load() > 0 {
			return rep, err
		}
		return rep, fmt.Errorf("importer: protect-legacy: %w", err)
	}
	return rep, nil
}

// wrap hashes one digest and swaps it in; false when the credential changed
// meanwhile. An overloaded hasher is waited for, not an error.
func (p *Protector) wrap(ctx context.Context, c auth.Credential, recipe legacyhash.Recipe, digest []byte) (bool, error) {
	var phc string
	for attempt := 1; ; attempt++ {
		var err error
		phc, err = p.hasher.Hash(ctx, digest)
		if err == nil {
			break
		}
		if !errs.Is(err, errs.KindUnavailable) || ctx.Err() != nil {
			return false, fmt.Errorf("importer: protect-legacy: hash for user %s: %w", c.UserID, err)
		}
		if err := sleepCtx(ctx, min(time.Duration(attempt)*50*time.Millisecond, 2*time.Second)); err != nil {
			return false, fmt.Errorf("importer: protect-legacy: %w", err)
		}
	}
	raw, err := json.Marshal(recipe)
	if err != nil {
		return false, fmt.Errorf("importer: protect-legacy: recipe: %w", err)
	}
	next := auth.Credential{UserID: c.UserID, HomeRegion: c.HomeRegion, Kind: auth.CredentialWrapped, Hash: phc,
		Recipe: raw, CreatedAt: c.CreatedAt, UpdatedAt: p.now()}
	ok, err := p.store.WrapCredential(ctx, c.Hash, next)
	if err != nil {
		return false, fmt.Errorf("importer: protect-legacy: swap for user %s: %w", c.UserID, err)
	}
	return ok, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errNoHasher guards against a Protector built without a store or hasher.
var errNoHasher = errors.New("importer: protect-legacy needs a store and a hasher")
