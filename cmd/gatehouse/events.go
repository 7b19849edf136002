package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/events"
	"github.com/gatehouse-id/gatehouse/app/events/kafka"
	"github.com/gatehouse-id/gatehouse/app/events/rabbitmq"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/keys"
)

// eventPipeline is the running events machinery of a server: the batcher
// of no-state-change events, the relay and the partition job.
type eventPipeline struct {
	batcher *events.Batcher
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	close   func()
}

// newSink builds the configured sink.
func newSink(cfg *Config) (events.Sink, func(), error) {
	switch cfg.Events.Sink {
	case "kafka":
		s, err := kafka.New(kafka.Config{Brokers: strings.Split(cfg.Events.KafkaBrokers, ","), TopicPrefix: cfg.Events.KafkaTopicPrefix})
		if err != nil {
			return nil, nil, &configError{key: "GATEHOUSE_EVENTS_KAFKA_BROKERS", msg: err.Error()}
		}
		return s, s.Close, nil
	case "rabbitmq":
		s, err := rabbitmq.New(rabbitmq.Config{URL: cfg.Events.RabbitMQURL, Exchange: cfg.Events.RabbitMQExchange})
		if err != nil {
			return nil, nil, &configError{key: "GATEHOUSE_EVENTS_RABBITMQ_URL", msg: err.Error()}
		}
		return s, s.Close, nil
	}
	return events.Discard{}, func() {}, nil
}

// startEvents runs the partition job (PostgreSQL), the batcher and the
// relay until ctx ends; wait returns once they have flushed.
func startEvents(ctx context.Context, cfg *Config, db *store.DB, m *metrics.Metrics, logger *slog.Logger) (*eventPipeline, error) {
	sink, closeSink, err := newSink(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &eventPipeline{close: closeSink, cancel: cancel}
	// The partitions must exist before the first event is written.
	if _, err := db.MaintainEventPartitions(ctx, time.Now(), cfg.Events.PartitionsAhead, cfg.Events.Retention); err != nil {
		cancel()
		closeSink()
		return nil, err
	}
	p.batcher = events.NewBatcher(db, 1<<16, 1000, 100*time.Millisecond, m.Ops, logger)
	host, _ := os.Hostname()
	relay := events.NewRelay(events.RelayConfig{Region: cfg.Region, Holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8]),
		Settle: cfg.Events.Settle}, db, sink, m.Ops, logger, time.Now)
	p.wg.Add(3)
	go func() { defer p.wg.Done(); p.batcher.Run(ctx) }()
	go func() { defer p.wg.Done(); relay.Run(ctx) }()
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rep, err := db.MaintainEventPartitions(ctx, time.Now(), cfg.Events.PartitionsAhead, cfg.Events.Retention)
				if err != nil {
					logger.WarnContext(ctx, "events: partition job failed", "error", err)
				} else if len(rep.Created)+len(rep.Dropped) > 0 {
					logger.InfoContext(ctx, "events: partitions maintained", "created", rep.Created, "dropped", rep.Dropped)
				}
			}
		}
	}()
	return p, nil
}

// stop ends the pipeline and waits until the batcher has flushed.
func (p *eventPipeline) stop() {
	p.cancel()
	p.wg.Wait()
	p.close()
}

// opsWatcher publishes the key ring's health and the defense mode as
// metrics every few seconds, and records KeysRotated, DefenseModeChanged
// and StuffingDetected events when they change.
type opsWatcher struct {
	region string
	ring   *keys.Ring
	guard  *defense.Guard // nil when the defense is off
	m      *metrics.Metrics
	rec    auth.EventRecorder
	log    *slog.Logger

	versions       string
	mode, autoMode defense.Mode
}

func (w *opsWatcher) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.once(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *opsWatcher) once(ctx context.Context, now time.Time) {
	w.m.Ops.KeysStatus(w.ring.ConsecutiveFailures(), now.Sub(w.ring.LoadedAt()))
	if v := fmt.Sprint(w.ring.Current()); v != w.versions {
		if w.versions != "" {
			w.record(now, "keys.rotated", map[string]any{"keys": v})
		}
		w.versions = v
	}
	if w.guard == nil {
		return
	}
	st, err := w.guard.Mode(ctx)
	if err != nil {
		return
	}
	w.m.Ops.SetDefenseMode(string(st.Effective))
	if w.mode != "" && st.Effective != w.mode {
		w.record(now, "defense.mode_changed", map[string]any{"from": string(w.mode), "to": string(st.Effective),
			"operator": string(st.Operator), "automatic": string(st.Auto)})
	}
	if w.autoMode != "" && st.Auto != w.autoMode && st.Auto != defense.ModeNormal {
		w.record(now, "defense.stuffing_detected", map[string]any{"mode": string(st.Auto),
			"failure_ratio": st.FailureRatio, "burst_failure_ratio": st.BurstFailureRatio})
	}
	w.mode, w.autoMode = st.Effective, st.Auto
}

func (w *opsWatcher) record(now time.Time, kind string, data map[string]any) {
	if w.rec == nil {
		return
	}
	w.rec.Record(auth.Event{ID: uuid.New(), UserID: uuid.Nil, HomeRegion: w.region, Kind: kind, At: now, Detail: data})
}
