package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5/pgconn"
)

// Topology is what the CockroachDB-only migration templates are rendered
// with.
type Topology struct {
	// Database is the database name; empty means the connection's current one.
	Database string
	// PrimaryRegion is the database's primary region.
	PrimaryRegion string
	// Regions lists every region, the primary first.
	Regions []string
}

// Migration is one numbered schema step.
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads the portable migrations NNNN_name.sql from the top of
// fsys, in version order. Duplicate versions are an error.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	return loadDir(fsys, ".", nil)
}

// LoadCockroachMigrations renders the CockroachDB-only templates in
// cockroach/ with the topology.
func LoadCockroachMigrations(fsys fs.FS, topo Topology) ([]Migration, error) {
	if topo.PrimaryRegion == "" || len(topo.Regions) == 0 || topo.Regions[0] != topo.PrimaryRegion {
		return nil, errors.New("store: topology needs the primary region first in Regions")
	}
	return loadDir(fsys, "cockroach", &topo)
}

func loadDir(fsys fs.FS, dir string, topo *Topology) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			continue
		}
		version, _ := strconv.Atoi(m[1])
		text, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read %s: %w", e.Name(), err)
		}
		sql := string(text)
		if topo != nil {
			sql, err = render(e.Name(), sql, *topo)
			if err != nil {
				return nil, err
			}
		}
		if len(out) > 0 && out[len(out)-1].Version == version {
			return nil, fmt.Errorf("store: two migrations numbered %d in %s", version, dir)
		}
		out = append(out, Migration{Version: version, Name: strings.TrimSuffix(e.Name(), ".sql"), Statements: SplitStatements(sql)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// QuoteIdent double-quotes an SQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral single-quotes an SQL string literal.
func QuoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func render(name, text string, topo Topology) (string, error) {
	t, err := template.New(name).Option("missingkey=error").
		Funcs(template.FuncMap{"ident": QuoteIdent, "literal": QuoteLiteral}).Parse(text)
	if err != nil {
		return "", fmt.Errorf("store: parse template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, topo); err != nil {
		return "", fmt.Errorf("store: render %s: %w", name, err)
	}
	return buf.String(), nil
}

// MigrationReport says what Migrate did.
type MigrationReport struct {
	Applied []string
	Skipped int
}

// Migrate applies the migrations that are not recorded yet, each statement
// on its own (CockroachDB does not make schema changes atomic inside a
// transaction), then records the migration. Every statement is written to be
// idempotent, so a crash half-way, a second run, or two processes migrating at
// once all end in the same schema: a statement that loses a race to create the
// same object is treated as done.
func (db *DB) Migrate(ctx context.Context, set string, migrations []Migration) (MigrationReport, error) {
	var report MigrationReport
	if _, err := db.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		migration_set TEXT NOT NULL,
		version INT8 NOT NULL,
		name TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		PRIMARY KEY (migration_set, version))`); err != nil && !isDuplicateObject(err) {
		return report, fmt.Errorf("store: create schema_migrations: %w", mapError(err))
	}
	done := map[int]bool{}
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations WHERE migration_set = $1`, set)
	if err != nil {
		return report, fmt.Errorf("store: read schema_migrations: %w", mapError(err))
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return report, fmt.Errorf("store: read schema_migrations: %w", mapError(err))
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return report, fmt.Errorf("store: read schema_migrations: %w", mapError(err))
	}
	for _, m := range migrations {
		if done[m.Version] {
			report.Skipped++
			continue
		}
		for i, stmt := range m.Statements {
			if err := db.execDDL(ctx, stmt); err != nil {
				return report, fmt.Errorf("store: migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations (migration_set, version, name) VALUES ($1, $2, $3)
			ON CONFLICT (migration_set, version) DO NOTHING`, set, m.Version, m.Name); err != nil {
			return report, fmt.Errorf("store: record migration %s: %w", m.Name, mapError(err))
		}
		db.logger.InfoContext(ctx, "migration applied", "set", set, "migration", m.Name)
		report.Applied = append(report.Applied, m.Name)
	}
	return report, nil
}

// execDDL runs one idempotent DDL statement, retrying the catalog races that
// PostgreSQL reports when two sessions run CREATE … IF NOT EXISTS at once.
func (db *DB) execDDL(ctx context.Context, stmt string) error {
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		_, err = db.pool.Exec(ctx, stmt)
		if err == nil || isDuplicateObject(err) {
			return nil
		}
		if !isRetryable(err) && !isCatalogRace(err) {
			break
		}
		if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
			return werr
		}
	}
	return mapError(err)
}

// isDuplicateObject: the object a CREATE … IF NOT EXISTS made was created by
// a concurrent session between its check and its insert.
func isDuplicateObject(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42P07", "42710", "42701": // duplicate_table, duplicate_object, duplicate_column
		return true
	case "23505": // unique_violation on a catalog row (pg_type, pg_class…)
		return strings.HasPrefix(pgErr.ConstraintName, "pg_")
	}
	return false
}

// isCatalogRace: a concurrent schema change held a lock we collided with.
func isCatalogRace(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "55P03") // deadlock, lock_not_available
}

// CountMigrations returns how many migrations of a set are recorded.
func (db *DB) CountMigrations(ctx context.Context, set string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE migration_set = $1`, set).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count migrations: %w", mapError(err))
	}
	return n, nil
}

// DescribeSchema lists every column and index of the current schema, one
// sorted line each, so that two databases' schemas can be compared.
func (db *DB) DescribeSchema(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
		  FROM information_schema.columns WHERE table_schema = current_schema()
		UNION ALL
		SELECT 'index ' || tablename || '.' || indexname FROM pg_catalog.pg_indexes WHERE schemaname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("store: describe schema: %w", mapError(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("store: describe schema: %w", mapError(err))
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// CurrentDatabase names the database the pool is connected to.
func (db *DB) CurrentDatabase(ctx context.Context) (string, error) {
	var name string
	if err := db.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		return "", fmt.Errorf("store: current database: %w", mapError(err))
	}
	return name, nil
}
