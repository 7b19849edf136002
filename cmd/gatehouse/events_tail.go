package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/events"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// cmdEvents runs `gatehouse events tail`: the audit trail as CloudEvents
// JSON lines, oldest first, for support and incident response.
func cmdEvents(ctx context.Context, args []string, getenv env, std stdio) error {
	if len(args) == 0 || args[0] != "tail" {
		return usagef("usage: gatehouse events tail [--user ID] [--since 15m] [--follow=true] [--type id.gatehouse.login.failed.v1]")
	}
	var userFlag, typeFlag string
	var since time.Duration
	var follow bool
	cfg, _, err := commonFlags("events tail", args[1:], getenv, std, needDatabase, func(fs *flag.FlagSet) {
		fs.StringVar(&userFlag, "user", "", "only this user's events (a user id)")
		fs.StringVar(&typeFlag, "type", "", "only events of this CloudEvents type")
		fs.DurationVar(&since, "since", 15*time.Minute, "start this long ago")
		fs.BoolVar(&follow, "follow", true, "keep printing new events until interrupted")
	})
	if err != nil {
		return err
	}
	var user uuid.UUID
	if userFlag != "" {
		if user, err = uuid.Parse(userFlag); err != nil {
			return usagef("--user: not a user id: %q", userFlag)
		}
	}
	if since <= 0 {
		return usagef("--since must be positive")
	}
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: newLogger(cfg, std.err), MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	enc := json.NewEncoder(std.out)
	mark := time.Now().Add(-since)
	seen := map[uuid.UUID]bool{}
	for {
		recs, err := db.EventsSince(ctx, mark, 1000)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fresh := 0
		for _, r := range recs {
			mark = r.At.Add(-time.Microsecond) // ties at the same instant are re-read and skipped by id
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			fresh++
			if user != uuid.Nil && r.UserID != user {
				continue
			}
			ce := events.ToCloudEvent(r)
			if typeFlag != "" && ce.Type != typeFlag {
				continue
			}
			if err := enc.Encode(ce); err != nil {
				return fmt.Errorf("events tail: %w", err)
			}
		}
		if len(recs) == 1000 {
			if fresh == 0 { // a full page of one instant: step past it
				mark = recs[len(recs)-1].At
			}
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
