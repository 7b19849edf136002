package store_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

func openTestDB(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.NewDatabase(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// schemaSnapshot lists every column of every table in the public schema,
// so two schemas can be compared.
func schemaSnapshot(t *testing.T, db *store.DB) []string {
	t.Helper()
	cols, err := db.DescribeSchema(context.Background())
	if err != nil {
		t.Fatalf("describe schema: %v", err)
	}
	return cols
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	ctx := context.Background()
	migrations, err := store.LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(migrations) < 5 {
		t.Fatalf("want at least 5 migrations, got %d", len(migrations))
	}

	// Sequential: the second run applies nothing and changes nothing.
	seq := openTestDB(t)
	first, err := seq.Migrate(ctx, "main", migrations)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if len(first.Applied) != len(migrations) {
		t.Fatalf("first run applied %d of %d", len(first.Applied), len(migrations))
	}
	want := schemaSnapshot(t, seq)
	second, err := seq.Migrate(ctx, "main", migrations)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(second.Applied) != 0 || second.Skipped != len(migrations) {
		t.Fatalf("second run: %+v", second)
	}
	if got := schemaSnapshot(t, seq); !slices.Equal(got, want) {
		t.Fatalf("schema changed on second run")
	}

	// Concurrent: four processes' worth of pools migrate one fresh database.
	url := storetest.NewDatabase(t)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				errc <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(ctx, "main", migrations)
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	conc, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conc.Close()
	if got := schemaSnapshot(t, conc); !slices.Equal(got, want) {
		t.Fatalf("concurrent migration left a different schema:\n got %v\nwant %v", got, want)
	}
	n, err := conc.CountMigrations(ctx, "main")
	if err != nil || n != len(migrations) {
		t.Fatalf("recorded %d migrations (err %v), want %d", n, err, len(migrations))
	}
}

func TestMigrateReportsBadStatement(t *testing.T) {
	db := openTestDB(t)
	fsys := fstest.MapFS{"0001_bad.sql": {Data: []byte("CREATE TABLE t (id UUID PRIMARY KEY);\nCREATE TABLEX nonsense;")}}
	ms, err := store.LoadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Migrate(context.Background(), "bad", ms)
	if err == nil {
		t.Fatal("a broken statement must fail the migration")
	}
	if n, _ := db.CountMigrations(context.Background(), "bad"); n != 0 {
		t.Fatalf("a failed migration must not be recorded, got %d", n)
	}
}

func TestCockroachTemplatesRender(t *testing.T) {
	topo := store.Topology{Database: "gatehouse", PrimaryRegion: "us-east1", Regions: []string{"us-east1", "europe-west1", "asia-south1"}}
	ms, err := store.LoadCockroachMigrations(schema.Files, topo)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no CockroachDB migrations found")
	}
	var all string
	for _, m := range ms {
		for _, s := range m.Statements {
			all += s + ";\n"
		}
	}
	for _, want := range []string{`"us-east1"`, `"europe-west1"`, `"asia-south1"`, "SURVIVE REGION FAILURE", "REGIONAL BY ROW", "GLOBAL"} {
		if !strings.Contains(all, want) {
			t.Errorf("rendered CockroachDB statements lack %q:\n%s", want, all)
		}
	}
	if _, err := store.LoadCockroachMigrations(schema.Files, store.Topology{PrimaryRegion: "x", Regions: []string{"y"}}); err == nil {
		t.Error("a topology whose first region is not the primary must be refused")
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgresql://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", store.Options{})
	if err == nil {
		t.Fatal("open of a closed port must fail")
	}
	if !errs.Is(err, errs.KindUnavailable) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("want unavailable, got %v (kind %v)", err, errs.KindOf(err))
	}
}
