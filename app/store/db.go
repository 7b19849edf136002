// Package store is Gatehouse's only adapter to SQL. It talks to CockroachDB
// in production and to PostgreSQL in development and tests, through one pgx
// pool; every statement it runs is valid on both. Multi-statement writes go
// through inTx, built on cockroach-go's crdbpgx.ExecuteTx, and SQLSTATE codes
// are mapped to Gatehouse errors in one place (errors.go).
package store

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// Options tune the pool.
type Options struct {
	// MaxConns caps the pool; 0 means DefaultMaxConns.
	MaxConns int32
	// Logger receives retry and migration messages.
	Logger *slog.Logger
	// Region is the region this process serves. Rows that belong to no user
	// (a passwordless WebAuthn ceremony) are homed there.
	Region string
	// Tracer, when set, makes a span of every statement (tracing.go).
	Tracer trace.Tracer
}

// DefaultMaxConns is the pool size when Options.MaxConns is 0: four
// connections per CPU, at least 16. A transaction holds its connection for
// several network round trips while the CPU serves others, so a pool sized
// to the CPU (pgx's own default: 4 on up to four CPUs) leaves it idle; on
// two cores, 4 connections cap refresh-token rotations at ~1,300/s where 16
// reach ~3,300/s (BenchmarkRefreshHTTP in cmd/gatehouse).
func DefaultMaxConns() int32 { return int32(max(16, 4*runtime.GOMAXPROCS(0))) }

// DB is the store: a pgx pool and what it knows about the server behind it.
type DB struct {
	pool      *pgxpool.Pool
	cockroach bool
	logger    *slog.Logger
	region    string // Options.Region
}

// Open connects to url (postgresql://…), checks that the server answers and
// finds out whether it is CockroachDB.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", redactURLError(err))
	}
	cfg.MaxConns = DefaultMaxConns()
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// A warm pool: half the connections are opened at start and kept. A
	// burst (the first second of a flood, a region taking over another's
	// traffic) would otherwise open them while it is served, and a new
	// backend costs the database its start-up and catalog reads, taken
	// from the users being served. Half, not all: a database's connection
	// slots are shared by every server (and every test) using it.
	cfg.MinConns = max(cfg.MaxConns/2, 1)
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = queryTracer{tracer: opts.Tracer}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := &DB{pool: pool, logger: logger, region: opts.Region}
	var version string
	if err := pool.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect: %w", mapError(err))
	}
	db.cockroach = strings.Contains(version, "CockroachDB")
	return db, nil
}

// redactURLError keeps a password in the URL out of error messages: pgx's
// parse errors can quote the connection string.
func redactURLError(err error) error {
	return fmt.Errorf("%s", strings.SplitN(err.Error(), "://", 2)[0]+" (connection string withheld)")
}

// Cockroach reports whether the server is CockroachDB.
func (db *DB) Cockroach() bool { return db.cockroach }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", mapError(err))
	}
	return nil
}

// Close waits for queries in flight and closes every connection.
func (db *DB) Close() { db.pool.Close() }
