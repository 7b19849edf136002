package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/events"
)

// flakyAppender fails while down and records what it appended.
type flakyAppender struct {
	mu      sync.Mutex
	down    bool
	batches [][]events.Record
}

func (f *flakyAppender) AppendEvents(_ context.Context, recs []events.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("database away")
	}
	if len(recs) > 0 {
		f.batches = append(f.batches, append([]events.Record(nil), recs...))
	}
	return nil
}

func (f *flakyAppender) appended() (n, batches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		n += len(b)
	}
	return n, len(f.batches)
}

type dropCounter struct{ n int }

func (d *dropCounter) EventsDropped(n int) { d.n += n }

// TestBatcherNeverBlocksAndKeepsItsBatchWhileTheDatabaseIsAway: Record
// returns at once even with the database away; the batch in hand is kept
// and appended when the database is back; a full queue drops and counts,
// and never blocks.
func TestBatcherNeverBlocksAndKeepsItsBatchWhileTheDatabaseIsAway(t *testing.T) {
	store := &flakyAppender{down: true}
	drops := &dropCounter{}
	b := events.NewBatcher(store, 100, 10, 10*time.Millisecond, drops, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()

	ev := func(i int) auth.Event {
		return auth.Event{ID: uuid.New(), UserID: uuid.New(), HomeRegion: "us-east1", Kind: auth.EventLoginFailed, At: time.Now(),
			Detail: map[string]any{"reason": "invalid_credentials", "ip": "192.0.2.1", "user_agent": "ua"}}
	}
	start := time.Now()
	for i := range 500 {
		b.Record(ev(i))
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("500 Record calls with the database away took %s", d)
	}
	if b.Dropped() == 0 || drops.n != int(b.Dropped()) {
		t.Errorf("a full queue dropped %d (observer %d), want some, counted", b.Dropped(), drops.n)
	}
	kept := 500 - int(b.Dropped())

	time.Sleep(50 * time.Millisecond)
	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := store.appended()
		if n == kept {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("appended %d of the %d kept events", n, kept)
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, batches := store.appended()
	if batches > kept/10+1 {
		t.Errorf("%d events in %d batches: not batched", n, batches)
	}
	first := store.batches[0][0]
	if first.IP != "192.0.2.1" || first.UserAgent != "ua" || first.Data["ip"] != nil {
		t.Errorf("the address and agent are not lifted into their columns: %+v", first)
	}
	cancel()
	<-done
}
