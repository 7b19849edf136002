package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/gatehouse-id/gatehouse/app/store"
)

// purgeEvery is how often a server runs the retention purge, and purgeLease
// how long its lease holds: the instance that holds the region's lease
// purges, the others wait for it to run out.
const (
	purgeEvery = 10 * time.Minute
	purgeLease = 3 * purgeEvery
)

// cmdPurge deletes the region's dead rows once (the same purge the server
// runs in the background) and prints how many rows left each table.
func cmdPurge(ctx context.Context, args []string, getenv env, std stdio) error {
	cfg, _, err := commonFlags("purge", args, getenv, std, needDatabase, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, std.err)
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: 2, Region: cfg.Region})
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.Purge(ctx, cfg.Region, time.Now(), store.PurgeOptions{})
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(res))
	for t := range res {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(std.out, "purged %s %d\n", t, res[t])
	}
	return nil
}

// purgeLoop runs the retention purge every purgeEvery while this instance
// holds the region's purge lease (one instance per region at a time). On
// CockroachDB, row-level TTL (schema/cockroach/0015_row_ttl.sql) deletes
// most of the same rows; the loop catches the rest.
func purgeLoop(ctx context.Context, db *store.DB, region string, logger *slog.Logger) {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	holder := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		ok, err := db.AcquireLease(ctx, "purge:"+region, holder, now, purgeLease)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				logger.Warn("purge lease unavailable", "error", err)
			}
			continue
		}
		res, err := db.Purge(ctx, region, now, store.PurgeOptions{})
		if err != nil && ctx.Err() == nil {
			logger.Warn("purge failed", "error", err)
			continue
		}
		logger.Info("purged", "rows", res)
	}
}
