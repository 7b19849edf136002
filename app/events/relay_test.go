package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatehouse-id/gatehouse/app/events"
	"github.com/gatehouse-id/gatehouse/app/events/kafka"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// migratedDB is a fresh, migrated database of the test's own.
func migratedDB(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.NewDatabase(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	ms, err := store.LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		t.Fatal(err)
	}
	return db
}

// backlog appends n events of users users, in the region, a millisecond
// apart, oldest first; it returns them.
func backlog(t testing.TB, db *store.DB, n, users int, start time.Time) []events.Record {
	t.Helper()
	ids := make([]uuid.UUID, users)
	for i := range ids {
		ids[i] = uuid.New()
	}
	recs := make([]events.Record, n)
	for i := range recs {
		recs[i] = events.Record{ID: uuid.New(), UserID: ids[i%users], HomeRegion: "us-east1", Kind: "login.failed",
			At: start.Add(time.Duration(i) * time.Millisecond), IP: "198.51.100.7", Data: map[string]any{"reason": "invalid_credentials"}}
	}
	for i := 0; i < n; i += 5000 {
		if err := db.AppendEvents(context.Background(), recs[i:min(i+5000, n)]); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

// dying publishes the first `after` events of a batch, then dies: the
// process is gone before it could mark anything published.
type dying struct {
	inner events.Sink
	after int
}

var errDied = errors.New("relay process killed mid-batch")

func (d dying) Publish(ctx context.Context, batch []events.Record) error {
	if err := d.inner.Publish(ctx, batch[:min(d.after, len(batch))]); err != nil {
		return err
	}
	return errDied
}

func (d dying) Name() string { return "dying" }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestRelayKilledMidBatchLosesNothing: a relay publishes part of a batch
// and dies without marking it. While its lease runs, no other relay
// publishes; once it expires, a second relay takes over and publishes
// everything. Every event arrives, one user's events in order (after
// dropping duplicates by id), and the only duplicates are the events the
// dead relay had sent, with the same ids and bodies.
func TestRelayKilledMidBatchLosesNothing(t *testing.T) {
	db := migratedDB(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, topics()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	sink, err := kafka.New(kafka.Config{Brokers: cluster.ListenAddrs(), TopicPrefix: "gatehouse.auth."})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	recs := backlog(t, db, 3000, 40, start)
	clk := &clock{t: start.Add(time.Hour)}
	ctx := context.Background()

	first := events.NewRelay(events.RelayConfig{Region: "us-east1", Holder: "first", Batch: 1000, LeaseTTL: 15 * time.Second},
		db, dying{inner: sink, after: 600}, nil, nil, clk.now)
	if _, err := first.PublishOnce(ctx); !errors.Is(err, errDied) {
		t.Fatalf("the first relay: %v, want it to die", err)
	}
	second := events.NewRelay(events.RelayConfig{Region: "us-east1", Holder: "second", Batch: 1000, LeaseTTL: 15 * time.Second},
		db, sink, nil, nil, clk.now)
	if _, err := second.PublishOnce(ctx); !errors.Is(err, events.ErrNotLeader) {
		t.Fatalf("a second relay published while the first one's lease ran: %v", err)
	}
	clk.t = clk.t.Add(16 * time.Second)
	for {
		n, err := second.PublishOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n, _, err := db.EventBacklog(ctx, "us-east1"); err != nil || n != 0 {
		t.Fatalf("backlog after the takeover: %d, %v", n, err)
	}

	got := consume(t, cluster.ListenAddrs(), 3600)
	byID := map[string]events.Record{}
	for _, r := range recs {
		byID[r.ID.String()] = r
	}
	seen := map[string]int{}
	last := map[string]time.Time{}
	for _, m := range got {
		seen[m.id]++
		if seen[m.id] > 1 {
			continue
		}
		r, ok := byID[m.id]
		if !ok {
			t.Fatalf("an event that was never written: %s", m.id)
		}
		if m.key != r.UserID.String() {
			t.Errorf("event %s keyed %q, want its user", m.id, m.key)
		}
		k := fmt.Sprint(m.partition, m.key)
		if r.At.Before(last[k]) {
			t.Errorf("user %s: event of %s after one of %s", m.key, r.At, last[k])
		}
		last[k] = r.At
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			dups++
			if byID[id].At.After(recs[599].At) {
				t.Errorf("event %s was delivered %d times, but the dead relay never sent it", id, n)
			}
		}
	}
	if len(seen) != len(recs) {
		t.Errorf("%d distinct events delivered, want %d", len(seen), len(recs))
	}
	if dups != 600 {
		t.Errorf("%d duplicates, want the 600 the dead relay sent", dups)
	}
}

func topics() []string {
	var out []string
	for _, f := range events.Families {
		out = append(out, "gatehouse.auth."+f)
	}
	return out
}

type message struct {
	id, key   string
	partition string
	body      []byte
}

// consume reads every topic from the start until it has want messages
// (or 20 s pass).
func consume(t testing.TB, brokers []string, want int) []message {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics()...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []message
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var ce struct {
				ID string `json:"id"`
			}
			if err := jsonUnmarshal(r.Value, &ce); err != nil {
				t.Fatalf("not a CloudEvent: %s", r.Value)
			}
			out = append(out, message{id: ce.ID, key: string(r.Key), partition: fmt.Sprintf("%s/%d", r.Topic, r.Partition), body: r.Value})
		})
	}
	return out
}
