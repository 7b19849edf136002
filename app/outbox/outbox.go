// Package outbox delivers the messages the account service writes to the
// outbox table (password resets, sign-up notices). A Dispatcher claims a
// region's unsent messages and hands each to a Sender; the console sender
// prints them, for development (`make run`), so a developer can follow a
// reset link without a mail server.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// Store is the outbox table (app/store).
type Store interface {
	ClaimOutbox(ctx context.Context, region string, limit int, now time.Time) ([]auth.OutboxMessage, error)
	// ReleaseOutbox hands a claimed message back, with its payload.
	ReleaseOutbox(ctx context.Context, m auth.OutboxMessage) error
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, m auth.OutboxMessage) error
}

// Dispatcher moves a region's outbox to a Sender.
type Dispatcher struct {
	store  Store
	sender Sender
	region string
	every  time.Duration
	log    *slog.Logger
	now    func() time.Time
}

// NewDispatcher returns a dispatcher that polls every interval.
func NewDispatcher(store Store, sender Sender, region string, every time.Duration, log *slog.Logger, now func() time.Time) *Dispatcher {
	return &Dispatcher{store: store, sender: sender, region: region, every: every, log: log, now: now}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		if _, err := d.DeliverOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "outbox delivery failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverOnce claims and sends one batch; it returns how many were sent.
// A message the sender refuses is released for a later attempt.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	msgs, err := d.store.ClaimOutbox(ctx, d.region, 100, d.now())
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, m := range msgs {
		if err := d.sender.Send(ctx, m); err != nil {
			d.log.WarnContext(ctx, "outbox message not delivered; released for retry", "message_id", m.ID, "kind", m.Kind, "error", err)
			if rerr := d.store.ReleaseOutbox(ctx, m); rerr != nil {
				return sent, rerr
			}
			continue
		}
		sent++
	}
	return sent, nil
}

// Console prints messages as plain text, one block each; for development.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole prints to w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Send prints the message.
func (c *Console) Send(_ context.Context, m auth.OutboxMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(m.Payload))
	for k := range m.Payload {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, err := fmt.Fprintf(c.w, "\n--- outbox: %s to %s (%s) ---\n", m.Kind, m.Recipient, m.HomeRegion); err != nil {
		return err
	}
	for _, k := range keys {
		v, _ := json.Marshal(m.Payload[k])
		if _, err := fmt.Fprintf(c.w, "  %s: %s\n", k, v); err != nil {
			return err
		}
	}
	return nil
}
