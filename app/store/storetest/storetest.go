// Package storetest gives tests (and tools such as the benchmark harness) a
// fresh PostgreSQL database of their own on
// the server named by GATEHOUSE_TEST_DATABASE_URL (default: the local server
// on 127.0.0.1:5432). A test that cannot reach PostgreSQL fails: it never
// skips, so a CI machine without the database cannot pass by accident.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the administrative connection used when
// GATEHOUSE_TEST_DATABASE_URL is not set.
const DefaultURL = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates an empty database and returns its URL; the database
// is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url, drop, err := Create(ctx, AdminURL(), "gatehouse_test_")
	if err != nil {
		t.Fatalf("storetest: PostgreSQL is required: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return url
}

// Create makes an empty database named prefix+<random hex> on the server of
// adminURL and returns its URL and a function that drops it (closing any
// connection still open to it). Tests use NewDatabase; tools such as the
// benchmark harness use Create.
func Create(ctx context.Context, adminURL, prefix string) (url string, drop func(context.Context) error, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := neturl.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse %s: %w", redact(adminURL), err)
	}
	u.Path = "/" + name
	drop = func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}
