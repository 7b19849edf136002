package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/importer"
)

const twentyK = 20_000

// badLine makes every 499th line (and one very long line) bad.
func badLine(i int) (string, bool) {
	switch {
	case i == 777:
		return `{"email":"long@example.com","external_id":"` + strings.Repeat("x", 70_000) + "\"}\n", true
	case i%499 == 0 && i > 0:
		return []string{"{not json}\n", `{"email":"x@y"}` + "\n", `{"email":"ok@example.com","extra":1}` + "\n",
			`{"email":"ok2@example.com","password":{"hash":"plaintext"}}` + "\n"}[(i/499)%4], true
	}
	return "", false
}

func isBad(i int) bool { _, ok := badLine(i); return ok }

// snapshot fingerprints every user, directory and credential row.
func snapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `SELECT
		(SELECT md5(coalesce(string_agg(concat_ws('|', id, home_region, email, email_verified, external_id, created_at, updated_at), ',' ORDER BY id), '')) FROM users) ||
		(SELECT md5(coalesce(string_agg(concat_ws('|', encode(email_hash, 'hex'), user_id), ',' ORDER BY email_hash), '')) FROM email_directory) ||
		(SELECT md5(coalesce(string_agg(concat_ws('|', user_id, kind, hash, recipe::text, updated_at), ',' ORDER BY user_id), '')) FROM credentials)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportTwentyThousandLinesTwice(t *testing.T) {
	db, pool := openStore(t)
	ctx := context.Background()
	im := importer.New(db, slog.New(slog.DiscardHandler), nil)
	var valid, withPW, withExt int
	var wantRejected []int64
	for i := range twentyK {
		if isBad(i) {
			wantRejected = append(wantRejected, int64(i+1))
			continue
		}
		valid++
		if synthHasPassword(i) {
			withPW++
		}
		if i%2 == 0 {
			withExt++
		}
	}
	var progress bytes.Buffer
	var seen []importer.Rejection
	opts := importer.Options{Region: "us-east1", Progress: importer.NewProgress(&progress, -1, false),
		OnReject: func(r importer.Rejection) { seen = append(seen, r) }}
	start := time.Now()
	rep, err := im.Run(ctx, newSynth(0, twentyK, badLine), opts)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	t.Logf("first import: %s; %.0f users/s", rep, float64(valid)/elapsed.Seconds())
	if rep.Imported != int64(valid) || rep.Updated != 0 || rep.Unchanged != 0 || rep.Lines != twentyK {
		t.Fatalf("first run: %s", rep)
	}
	if len(seen) != len(wantRejected) || rep.RejectedCount != int64(len(wantRejected)) {
		t.Fatalf("rejected %d (%d told), want %d", rep.RejectedCount, len(seen), len(wantRejected))
	}
	for k, r := range seen {
		if r.Line != wantRejected[k] || r.Error == "" {
			t.Fatalf("rejection %d: %+v, want line %d", k, r, wantRejected[k])
		}
	}
	if seen[1].Line != 778 || !strings.Contains(seen[1].Error, "longer than 65536") {
		t.Fatalf("the long line: %+v", seen[1])
	}
	for _, q := range []struct {
		sql  string
		want int
	}{
		{"SELECT count(*) FROM users", valid},
		{"SELECT count(DISTINCT email) FROM users", valid},
		{"SELECT count(*) FROM email_directory d JOIN users u ON u.id = d.user_id", valid},
		{"SELECT count(*) FROM credentials c JOIN users u ON u.id = c.user_id AND u.home_region = c.home_region", withPW},
		{"SELECT count(*) FROM credentials WHERE kind <> 'legacy'", 0},
		{"SELECT count(*) FROM credentials WHERE recipe IS NOT NULL", count(t, pool, "SELECT count(*) FROM credentials WHERE hash LIKE '{%'")},
		{"SELECT count(*) FROM users WHERE external_id IS NOT NULL", withExt},
		{"SELECT count(*) FROM users WHERE email <> lower(email)", 0},
	} {
		if got := count(t, pool, q.sql); got != q.want {
			t.Errorf("%s = %d, want %d", q.sql, got, q.want)
		}
	}
	if !strings.Contains(progress.String(), "done: imported 20000 lines") {
		t.Errorf("progress output lacks the summary line:\n%s", progress.String())
	}

	before := snapshot(t, pool)
	again, err := im.Run(ctx, newSynth(0, twentyK, badLine), importer.Options{Region: "us-east1"})
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	if again.Imported != 0 || again.Updated != 0 || again.Unchanged != int64(valid) || again.RejectedCount != int64(len(wantRejected)) {
		t.Fatalf("second run changed something: %s", again)
	}
	if snapshot(t, pool) != before {
		t.Fatal("the second import changed rows")
	}
	if a := again.Admin(); a.Imported != 0 || a.Updated != 0 || len(a.Rejected) != len(wantRejected) {
		t.Fatalf("admin result %+v", a)
	}
}

// cancelAfter cancels the import's context when the store is asked for its
// n+1-th batch, i.e. after n committed batches when batches are committed
// one at a time: a crash half-way.
type cancelAfter struct {
	importer.Store
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) ImportUsers(ctx context.Context, region string, b []importer.Record, now time.Time) (importer.Counts, error) {
	c.mu.Lock()
	if c.n == 0 {
		c.cancel()
	}
	c.n--
	c.mu.Unlock()
	return c.Store.ImportUsers(ctx, region, b, now)
}

// onlyReader hides the file's Seek, like a pipe.
type onlyReader struct{ io.Reader }

func TestImportResumesAfterCrash(t *testing.T) {
	for _, seekable := range []bool{true, false} {
		t.Run(fmt.Sprintf("seekable=%v", seekable), func(t *testing.T) {
			db, pool := openStore(t)
			path := filepath.Join(t.TempDir(), "users.jsonl")
			raw, err := io.ReadAll(newSynth(0, twentyK, badLine))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			open := func() io.Reader {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				if seekable {
					return f
				}
				return onlyReader{f}
			}
			checkpoint := path + ".checkpoint"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			crashing := importer.New(&cancelAfter{Store: db, n: 10, cancel: cancel}, nil, nil)
			// Ten batches of 1,000, one at a time: the crash comes half-way
			// through, with nothing committed beyond the checkpoint
			// (TestConcurrentImportResumesAfterCrash has batches in flight).
			first, err := crashing.Run(ctx, open(), importer.Options{Region: "us-east1", CheckpointPath: checkpoint, BatchSize: 1000, Concurrency: 1})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the crashed run returned %v", err)
			}
			if _, err := os.Stat(checkpoint); err != nil {
				t.Fatalf("no checkpoint after the crash: %v", err)
			}
			if first.Lines < 9_000 || first.Lines > 11_000 {
				t.Fatalf("crashed after line %d, want about 10,000", first.Lines)
			}
			if n := count(t, pool, "SELECT count(*) FROM users"); int64(n) != first.Imported {
				t.Fatalf("%d users committed, report says %d", n, first.Imported)
			}

			rest, err := importer.New(db, nil, nil).Run(context.Background(), open(), importer.Options{Region: "us-east1", CheckpointPath: checkpoint})
			if err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			if rest.ResumedAfter != first.Lines || rest.Lines != twentyK {
				t.Fatalf("resumed run: %s, first stopped after line %d", rest, first.Lines)
			}
			valid := 0
			for i := range twentyK {
				if !isBad(i) {
					valid++
				}
			}
			if first.Imported+rest.Imported != int64(valid) || rest.Updated != 0 {
				t.Fatalf("imported %d + %d (updated %d), want %d", first.Imported, rest.Imported, rest.Updated, valid)
			}
			for _, q := range []string{"SELECT count(*) FROM users", "SELECT count(DISTINCT email) FROM users",
				"SELECT count(*) FROM email_directory"} {
				if n := count(t, pool, q); n != valid {
					t.Fatalf("%s = %d, want %d", q, n, valid)
				}
			}
			if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the checkpoint outlived the completed import: %v", err)
			}
		})
	}
}
