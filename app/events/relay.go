package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sink publishes a batch of events and returns once the broker has
// acknowledged every one (Kafka acks, RabbitMQ publisher confirms). It
// must keep the batch's order for events with the same partition key.
type Sink interface {
	Publish(ctx context.Context, batch []Record) error
	Name() string
}

// RelayStore is what the relay needs from the audit table (app/store).
type RelayStore interface {
	AcquireRelayLease(ctx context.Context, region, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseRelayLease(ctx context.Context, region, holder string) error
	UnpublishedEvents(ctx context.Context, region string, until time.Time, limit int) ([]Record, error)
	MarkPublished(ctx context.Context, keys []Key, now time.Time) error
	EventBacklog(ctx context.Context, region string) (int64, time.Time, error)
}

// RelayObserver receives the relay's figures (app/metrics).
type RelayObserver interface {
	EventsPublished(sink string, n int)
	EventBacklog(size int64, age time.Duration)
	EventPublishFailed(sink string)
}

// RelayConfig tunes a relay.
type RelayConfig struct {
	// Region is the home region whose events this relay publishes.
	Region string
	// Holder names this relay in the lease (e.g. host and pid).
	Holder string
	// Batch is how many events one round publishes (default 2,000).
	Batch int
	// Every is the pause after an empty round (default 200 ms).
	Every time.Duration
	// Settle: only events at least this old are published, so that an
	// event appended by a batcher a moment late still goes out in order
	// (default 1 s; it must exceed the batcher's interval).
	Settle time.Duration
	// LeaseTTL is how long the lease lasts without renewal (default 15 s).
	LeaseTTL time.Duration
}

// Relay publishes a region's unpublished events at least once, in order
// per user. Only the holder of the region's lease publishes, so two relays
// never publish the same rows at once; a relay that dies mid-batch leaves
// its rows unpublished, and the next holder sends them again (consumers
// dedupe by event id).
type Relay struct {
	cfg   RelayConfig
	store RelayStore
	sink  Sink
	obs   RelayObserver
	log   *slog.Logger
	now   func() time.Time
}

// NewRelay returns a relay.
func NewRelay(cfg RelayConfig, store RelayStore, sink Sink, obs RelayObserver, log *slog.Logger, now func() time.Time) *Relay {
	if cfg.Batch <= 0 {
		cfg.Batch = 2000
	}
	if cfg.Every <= 0 {
		cfg.Every = 200 * time.Millisecond
	}
	if cfg.Settle == 0 {
		cfg.Settle = time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Relay{cfg: cfg, store: store, sink: sink, obs: obs, log: log, now: now}
}

// ErrNotLeader: another relay holds the region's lease.
var ErrNotLeader = errors.New("events: another relay holds the lease")

// Run publishes until ctx ends, measuring the backlog every few seconds.
// Broker errors are retried with backoff; nothing is lost meanwhile: the
// rows wait in the table.
func (r *Relay) Run(ctx context.Context) {
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = r.store.ReleaseRelayLease(ctx, r.cfg.Region, r.cfg.Holder)
	}()
	backoff := r.cfg.Every
	lastBacklog := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastBacklog) > 5*time.Second {
			r.measureBacklog(ctx)
			lastBacklog = time.Now()
		}
		n, err := r.PublishOnce(ctx)
		switch {
		case err != nil && !errors.Is(err, ErrNotLeader):
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "events: publishing failed; retrying", "sink", r.sink.Name(), "error", err)
				if r.obs != nil {
					r.obs.EventPublishFailed(r.sink.Name())
				}
			}
			backoff = min(2*backoff, 10*time.Second)
		case n == r.cfg.Batch:
			backoff = r.cfg.Every
			continue // a full batch: more are waiting
		default:
			backoff = r.cfg.Every
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

func (r *Relay) measureBacklog(ctx context.Context) {
	if r.obs == nil {
		return
	}
	n, oldest, err := r.store.EventBacklog(ctx, r.cfg.Region)
	if err != nil {
		return
	}
	var age time.Duration
	if !oldest.IsZero() {
		age = max(0, r.now().Sub(oldest))
	}
	r.obs.EventBacklog(n, age)
}

// PublishOnce takes or renews the lease, publishes one batch and marks it
// published; it returns how many events went out.
func (r *Relay) PublishOnce(ctx context.Context) (int, error) {
	now := r.now()
	ok, err := r.store.AcquireRelayLease(ctx, r.cfg.Region, r.cfg.Holder, now, r.cfg.LeaseTTL)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrNotLeader
	}
	batch, err := r.store.UnpublishedEvents(ctx, r.cfg.Region, now.Add(-r.cfg.Settle), r.cfg.Batch)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	if err := r.sink.Publish(ctx, batch); err != nil {
		return 0, fmt.Errorf("events: publish to %s: %w", r.sink.Name(), err)
	}
	keys := make([]Key, len(batch))
	for i, rec := range batch {
		keys[i] = rec.Key()
	}
	if err := r.store.MarkPublished(ctx, keys, r.now()); err != nil {
		return 0, err
	}
	if r.obs != nil {
		r.obs.EventsPublished(r.sink.Name(), len(batch))
	}
	return len(batch), nil
}

// Discard is the sink of GATEHOUSE_EVENTS_SINK=none: events stay in the
// audit trail and are marked published without leaving the process.
type Discard struct{}

// Publish does nothing.
func (Discard) Publish(context.Context, []Record) error { return nil }

// Name is "none".
func (Discard) Name() string { return "none" }
