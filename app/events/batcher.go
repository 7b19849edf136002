package events

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// Appender writes batches of events (app/store.DB.AppendEvents).
type Appender interface {
	AppendEvents(ctx context.Context, recs []Record) error
}

// BatcherObserver counts what the batcher drops (app/metrics).
type BatcherObserver interface {
	EventsDropped(n int)
}

// Batcher takes events that change nothing (failed logins, challenges)
// from the request path without blocking it and appends them to the audit
// trail in batches: a full batch, or every interval, whichever comes first.
// When the database is away it keeps retrying the batch in hand while the
// queue fills; a full queue drops new events (counted), never blocks.
type Batcher struct {
	store    Appender
	queue    chan Record
	maxBatch int
	every    time.Duration
	log      *slog.Logger
	obs      BatcherObserver
	dropped  atomic.Int64
}

// NewBatcher returns a batcher with a queue of capacity events.
func NewBatcher(store Appender, capacity, maxBatch int, every time.Duration, obs BatcherObserver, log *slog.Logger) *Batcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Batcher{store: store, queue: make(chan Record, capacity), maxBatch: maxBatch, every: every, log: log, obs: obs}
}

// Record queues an event (auth.EventRecorder); it never blocks.
func (b *Batcher) Record(ev auth.Event) {
	r := Record{ID: ev.ID, UserID: ev.UserID, HomeRegion: ev.HomeRegion, Kind: ev.Kind, At: ev.At, Data: ev.Detail}
	if ip, ok := r.Data["ip"].(string); ok {
		r.IP = ip
		delete(r.Data, "ip")
	}
	if ua, ok := r.Data["user_agent"].(string); ok {
		r.UserAgent = ua
		delete(r.Data, "user_agent")
	}
	select {
	case b.queue <- r:
	default:
		b.dropped.Add(1)
		if b.obs != nil {
			b.obs.EventsDropped(1)
		}
	}
}

// Dropped is how many events a full queue refused.
func (b *Batcher) Dropped() int64 { return b.dropped.Load() }

// Run appends batches until ctx ends, then flushes what is queued (with
// a deadline of its own).
func (b *Batcher) Run(ctx context.Context) {
	t := time.NewTicker(b.every)
	defer t.Stop()
	batch := make([]Record, 0, b.maxBatch)
	backoff := b.every
	for {
		select {
		case <-ctx.Done():
			b.drain(batch)
			return
		case r := <-b.queue:
			batch = append(batch, r)
			if len(batch) < b.maxBatch {
				continue
			}
		case <-t.C:
		}
		if len(batch) == 0 {
			continue
		}
		if err := b.store.AppendEvents(ctx, batch); err != nil {
			if ctx.Err() == nil {
				b.log.WarnContext(ctx, "events: append failed; the batch is kept and retried", "events", len(batch), "error", err)
			}
			// Keep the batch and wait before the next attempt; the
			// queue absorbs new events meanwhile (and drops beyond it).
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = b.every
		batch = batch[:0]
	}
}

// Flush appends everything queued now (tests, shutdown).
func (b *Batcher) Flush(ctx context.Context) error {
	var batch []Record
	for {
		select {
		case r := <-b.queue:
			batch = append(batch, r)
			if len(batch) >= b.maxBatch {
				if err := b.store.AppendEvents(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		default:
			return b.store.AppendEvents(ctx, batch)
		}
	}
}

func (b *Batcher) drain(batch []Record) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.store.AppendEvents(ctx, batch); err != nil {
		b.log.WarnContext(ctx, "events: final append failed", "events", len(batch), "error", err)
	}
	if err := b.Flush(ctx); err != nil {
		b.log.WarnContext(ctx, "events: final flush failed", "error", err)
	}
}
