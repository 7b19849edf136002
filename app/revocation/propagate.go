// Package revocation makes a session's revocation visible in every region
// within a second, Redis restarts and region failures included.
//
// A revocation (logout, logout everywhere, session delete, ban, password
// change or reset, refresh-token reuse, admin revoke) is written to the
// database by the service first; then Propagator.RevokeSessions
//
//  1. marks the sessions in this region's Redis,
//  2. in parallel, marks them in every other region's Redis (one pipelined
//     write per region over the inter-region network: visible there one
//     round trip after the revocation), and records them in the GLOBAL
//     session_revocations table (one row per session).
//
// One server per region (the holder of a lease in the region's Redis)
// also polls that table (a GLOBAL table: a local read in every region on
// CockroachDB) a few times a second and marks in its Redis any session it
// has not seen: a region whose Redis the fan-out could not
// reach still learns each revocation within one poll. A region's Redis
// carries a "primed" flag that only a complete load of the table sets;
// while it is missing (a Redis that restarted or was flushed) revocation
// checks report an error, so the service asks the database instead of
// trusting an empty Redis, and the poller reloads every revocation still
// within an access token's lifetime before setting the flag again.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Revocation is one revoked session as the GLOBAL table records it.
type Revocation struct {
	SessionID uuid.UUID
	RevokedAt time.Time
	// ExpiresAt is when the last access token of the session expires; the
	// row and the marks are useless after it.
	ExpiresAt time.Time
}

// Log is the GLOBAL session_revocations table (app/store).
type Log interface {
	// RecordRevocations inserts rows; a session recorded already is kept.
	RecordRevocations(ctx context.Context, revs []Revocation) error
	// RevocationsSince lists rows revoked at or after since, oldest first, that
	// have not expired at notExpiredAt, at most limit.
	RevocationsSince(ctx context.Context, since, notExpiredAt time.Time, limit int) ([]Revocation, error)
	// DeleteExpiredRevocations removes up to limit rows expired before t.
	DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Marks is a region's Redis as seen from another region (app/cache).
type Marks interface {
	// RevokeSessions marks sessions revoked for ttl.
	RevokeSessions(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error
}

// LocalMarks is this region's Redis (app/cache.Sessions).
type LocalMarks interface {
	Marks
	// SessionRevoked reports a session's mark; an error when Redis fails
	// or is not primed (its marks may be incomplete).
	SessionRevoked(ctx context.Context, id uuid.UUID) (bool, error)
	// AddMissing marks each revocation until its ExpiresAt unless marked
	// already, and reports which ones were new.
	AddMissing(ctx context.Context, revs []Revocation, now time.Time) ([]bool, error)
	// Primed reports whether a complete load has been done since Redis
	// last lost its data.
	Primed(ctx context.Context) (bool, error)
	// BeginPriming starts a load; FinishPriming sets the primed flag only
	// if Redis kept its data since BeginPriming (token identifies the load).
	BeginPriming(ctx context.Context, token string) error
	FinishPriming(ctx context.Context, token string) (bool, error)
	// Lead takes or renews the lease that makes holder the region's one
	// poller for ttl; false while another process holds it.
	Lead(ctx context.Context, holder string, ttl time.Duration) (bool, error)
}

// Observer records how long revocations took to become visible
// (gatehouse_revocation_propagation_seconds).
type Observer interface {
	RevocationPropagated(d time.Duration)
}

// Defaults of Config.
const (
	DefaultPoll          = 250 * time.Millisecond
	DefaultOverlap       = 3 * time.Second
	DefaultRemoteTimeout = time.Second
	remoteCoolDown       = 5 * time.Second
	pageSize             = 5000
)

// Config configures a Propagator.
type Config struct {
	Local  LocalMarks
	Remote map[string]Marks // the other regions' Redis, by region name
	Log    Log
	// Lifetime is how long a revocation mark must live: the access-token
	// lifetime plus clock slack.
	Lifetime time.Duration
	// Poll is how often the table is read; Overlap is how far back each
	// read reaches before the newest row seen (a transaction that commits
	// late with an older revoked_at is still found).
	Poll, Overlap time.Duration
	// RemoteTimeout bounds the fan-out to one region's Redis.
	RemoteTimeout time.Duration
	Observer      Observer         // nil: none
	Logger        *slog.Logger     // nil: slog.Default()
	Now           func() time.Time // nil: time.Now
}

// Propagator is the session cache the auth service writes revocations
// through (auth.SessionCache), and the background loop that keeps this
// region's Redis complete. It is safe for concurrent use.
type Propagator struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	skipUntil map[string]time.Time // region -> fan-out paused after a failure

	// id names this process for the poller lease.
	id string
	// Poller state, used by Run's goroutine only.
	cursor time.Time
	seen   map[uuid.UUID]time.Time // session -> when to forget it
}

// New checks cfg and builds a Propagator.
func New(cfg Config) (*Propagator, error) {
	if cfg.Local == nil || cfg.Log == nil || cfg.Lifetime <= 0 {
		return nil, errors.New("revocation: a local cache, a log and a lifetime are required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.RemoteTimeout <= 0 {
		cfg.RemoteTimeout = DefaultRemoteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Propagator{cfg: cfg, log: cfg.Logger.With("component", "revocation"), id: uuid.NewString(),
		skipUntil: map[string]time.Time{}, seen: map[uuid.UUID]time.Time{}}, nil
}

// RevokeSessions makes sessions the database has just revoked visible in
// every region: this region's Redis, the other regions' Redis and the
// GLOBAL table, the last two in parallel. An error means this region's
// Redis or the table did not take them (the caller retries the whole call;
// every step is idempotent); an unreachable remote Redis is only logged,
// since that region's poller finds the row.
func (p *Propagator) RevokeSessions(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	start := p.cfg.Now()
	localErr := p.cfg.Local.RevokeSessions(ctx, ids, ttl)
	if localErr == nil {
		p.observe(start, len(ids))
	}
	var wg sync.WaitGroup
	for region, m := range p.cfg.Remote {
		if p.paused(region, start) {
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, p.cfg.RemoteTimeout)
			defer cancel()
			if err := m.RevokeSessions(rctx, ids, ttl); err != nil {
				p.pause(region, p.cfg.Now().Add(remoteCoolDown))
				p.log.WarnContext(ctx, "revocation fan-out failed; that region's poller will find the rows",
					"to_region", region, "sessions", len(ids), "error", err)
				return
			}
			p.observe(start, len(ids))
		})
	}
	revs := make([]Revocation, len(ids))
	for i, id := range ids {
		revs[i] = Revocation{SessionID: id, RevokedAt: start, ExpiresAt: start.Add(ttl)}
	}
	logErr := p.cfg.Log.RecordRevocations(ctx, revs)
	wg.Wait()
	if logErr != nil {
		logErr = fmt.Errorf("revocation: record in the global table: %w", logErr)
	}
	return errors.Join(localErr, logErr)
}

// SessionRevoked asks this region's Redis; an error (Redis down, or not
// primed since it lost its data) sends the caller to the database.
func (p *Propagator) SessionRevoked(ctx context.Context, id uuid.UUID) (bool, error) {
	return p.cfg.Local.SessionRevoked(ctx, id)
}

// RepublishLocal re-marks sessions in this region's Redis only (the auth
// service's periodic re-publication from the sessions table).
func (p *Propagator) RepublishLocal(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error {
	return p.cfg.Local.RevokeSessions(ctx, ids, ttl)
}

func (p *Propagator) paused(region string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return now.Before(p.skipUntil[region])
}

func (p *Propagator) pause(region string, until time.Time) {
	p.mu.Lock()
	p.skipUntil[region] = until
	p.mu.Unlock()
}

func (p *Propagator) observe(since time.Time, n int) {
	if p.cfg.Observer == nil {
		return
	}
	d := max(p.cfg.Now().Sub(since), 0)
	for range n {
		p.cfg.Observer.RevocationPropagated(d)
	}
}
