package importer_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/importer"
)

// keyGuard passes batches to a store and records every pair of batches in
// flight together that share an email hash or an external_id: the importer
// must never let that happen.
type keyGuard struct {
	importer.Store
	mu       sync.Mutex
	inflight map[int64][]importer.Record // by first line
	overlaps []string
	most     int // most batches seen in flight at once
}

func (g *keyGuard) ImportUsers(ctx context.Context, region string, b []importer.Record, now time.Time) (importer.Counts, error) {
	g.mu.Lock()
	for other, rs := range g.inflight {
		for _, r := range rs {
			for _, mine := range b {
				if string(r.EmailHash) == string(mine.EmailHash) ||
					(r.User.ExternalID != "" && r.User.ExternalID == mine.User.ExternalID) {
					g.overlaps = append(g.overlaps, fmt.Sprintf("line %d ran alongside line %d", mine.Line, other))
				}
			}
		}
	}
	g.inflight[b[0].Line] = b
	g.most = max(g.most, len(g.inflight))
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.inflight, b[0].Line)
		g.mu.Unlock()
	}()
	return g.Store.ImportUsers(ctx, region, b, now)
}

// With four batches in flight, records for one user in many batches are
// still applied in line order: the last of twenty password hashes wins, an
// external_id given half-way sticks, and a user first seen without an
// external_id gets the one a later line gives.
func TestConcurrentImportKeepsRecordOrder(t *testing.T) {
	db, pool := openStore(t)
	md5hex := func(k int) string { s := md5.Sum(fmt.Appendf(nil, "pw-%d", k)); return hex.EncodeToString(s[:]) }
	var in strings.Builder
	for i := range 200 {
		switch {
		case i%10 == 0:
			ext := ""
			if i == 100 {
				ext = `,"external_id":"same-ext"`
			}
			fmt.Fprintf(&in, `{"email":"Same@example.com"%s,"password":{"algorithm":"md5","encoding":"hex","hash":%q}}`+"\n", ext, md5hex(i/10))
		case i == 5:
			in.WriteString(`{"email":"late@example.com"}` + "\n")
		case i == 195:
			in.WriteString(`{"email":"late@example.com","external_id":"late-ext","email_verified":true}` + "\n")
		default:
			fmt.Fprintf(&in, `{"email":"f%d@example.com","external_id":"f-%d"}`+"\n", i, i)
		}
	}
	guard := &keyGuard{Store: db, inflight: map[int64][]importer.Record{}}
	rep, err := importer.New(guard, nil, nil).Run(context.Background(), strings.NewReader(in.String()),
		importer.Options{Region: "us-east1", BatchSize: 2, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; at most %d batches in flight", rep, guard.most)
	if len(guard.overlaps) > 0 {
		t.Fatalf("batches sharing a key ran together: %v", guard.overlaps)
	}
	if rep.Imported != 180 || rep.Updated != 20 || rep.Unchanged != 0 || rep.RejectedCount != 0 {
		t.Fatalf("report %s", rep)
	}
	u, c := userCred(t, db, "same@example.com")
	if !strings.Contains(c.Hash, md5hex(19)) || u.ExternalID != "same-ext" {
		t.Fatalf("same@: external_id %q, credential %q; want the last hash %s", u.ExternalID, c.Hash, md5hex(19))
	}
	if u, _ := userCred(t, db, "late@example.com"); u.ExternalID != "late-ext" || !u.EmailVerified {
		t.Fatalf("late@: %+v", u)
	}
	if n := count(t, pool, "SELECT count(*) FROM users"); n != 180 {
		t.Fatalf("%d users, want 180", n)
	}
}

var errBoom = errors.New("boom")

// failThird fails the third of five batches of 1,000 records, but only
// once the fourth and the fifth are committed: they are committed beyond
// a gap.
type failThird struct {
	importer.Store
	starts    []int64 // first line of each batch
	mu        sync.Mutex
	later     chan struct{}
	laterDone int
	failed    bool
}

func (f *failThird) ImportUsers(ctx context.Context, region string, b []importer.Record, now time.Time) (importer.Counts, error) {
	first := b[0].Line
	f.mu.Lock()
	fail := !f.failed && first == f.starts[2]
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		<-f.later
		return importer.Counts{}, errBoom
	}
	c, err := f.Store.ImportUsers(ctx, region, b, now)
	if first == f.starts[3] || first == f.starts[4] {
		f.mu.Lock()
		if f.laterDone++; f.laterDone == 2 {
			close(f.later)
		}
		f.mu.Unlock()
	}
	return c, err
}

// readCheckpointLine is the last committed line a checkpoint file records.
func readCheckpointLine(t *testing.T, path string) int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cp struct {
		Line int64 `json:"line"`
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	return cp.Line
}

// A batch fails after the two batches behind it committed. The report, the
// rejections told and the checkpoint stop at the last line of the batch
// before the failed one; a second run resumes there, imports the failed
// batch and finds the two others unchanged, and every rejection is told
// exactly once over the two runs, in line order.
func TestConcurrentImportCheckpointIsTheContiguousPrefix(t *testing.T) {
	db, pool := openStore(t)
	bad := func(i int) (string, bool) { return "{not json}\n", i%1000 == 500 }
	path := filepath.Join(t.TempDir(), "users.jsonl")
	raw, err := io.ReadAll(newSynth(0, 5000, bad))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var valid, wantRejected []int64 // line numbers
	for i := range 5000 {
		if _, isBad := bad(i); isBad {
			wantRejected = append(wantRejected, int64(i+1))
		} else {
			valid = append(valid, int64(i+1))
		}
	}
	store := &failThird{Store: db, later: make(chan struct{})}
	for k := range 5 {
		store.starts = append(store.starts, valid[k*1000])
	}
	checkpoint := path + ".checkpoint"
	var told []int64
	opts := importer.Options{Region: "us-east1", CheckpointPath: checkpoint, BatchSize: 1000, Concurrency: 2,
		OnReject: func(r importer.Rejection) { told = append(told, r.Line) }}
	open := func() *os.File {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}

	first, err := importer.New(store, nil, nil).Run(context.Background(), open(), opts)
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), fmt.Sprintf("lines %d-", valid[1999]+1)) {
		t.Fatalf("first run: %v", err)
	}
	if first.Lines != valid[1999] || readCheckpointLine(t, checkpoint) != first.Lines {
		t.Fatalf("first run stopped after line %d, checkpoint %d; want %d", first.Lines, readCheckpointLine(t, checkpoint), valid[1999])
	}
	if first.Imported != 2000 || first.RejectedCount != 2 || !slices.Equal(told, wantRejected[:2]) {
		t.Fatalf("first run: %s, told %v", first, told)
	}
	if n := count(t, pool, "SELECT count(*) FROM users"); n != 2000+1000+995 {
		t.Fatalf("%d users committed, want batches 1, 2, 4 and 5", n)
	}

	rest, err := importer.New(db, nil, nil).Run(context.Background(), open(), opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if rest.ResumedAfter != first.Lines || rest.Lines != 5000 || rest.Imported != 1000 || rest.Unchanged != 1995 || rest.Updated != 0 {
		t.Fatalf("second run: %s", rest)
	}
	if !slices.Equal(told, wantRejected) {
		t.Fatalf("rejections told %v, want %v", told, wantRejected)
	}
	if n := count(t, pool, "SELECT count(*) FROM users"); n != len(valid) {
		t.Fatalf("%d users, want %d", n, len(valid))
	}
	if _, err := os.Stat(checkpoint); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the checkpoint outlived the completed import: %v", err)
	}
}

// A crash (ctx cancelled) with three batches in flight: the checkpoint
// holds the contiguous prefix, and running again completes the import with
// every user stored once.
func TestConcurrentImportResumesAfterCrash(t *testing.T) {
	db, pool := openStore(t)
	path := filepath.Join(t.TempDir(), "users.jsonl")
	raw, err := io.ReadAll(newSynth(0, twentyK, badLine))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	valid := 0
	for i := range twentyK {
		if !isBad(i) {
			valid++
		}
	}
	checkpoint := path + ".checkpoint"
	open := func() *os.File {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	var told []int64
	opts := importer.Options{Region: "us-east1", CheckpointPath: checkpoint, BatchSize: 1000, Concurrency: 3,
		OnReject: func(r importer.Rejection) { told = append(told, r.Line) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := importer.New(&cancelAfter{Store: db, n: 10, cancel: cancel}, nil, nil).Run(ctx, open(), opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the crashed run returned %v", err)
	}
	if first.Lines == 0 || first.Lines >= twentyK || readCheckpointLine(t, checkpoint) != first.Lines {
		t.Fatalf("crashed after line %d, checkpoint at %d", first.Lines, readCheckpointLine(t, checkpoint))
	}
	if n := count(t, pool, "SELECT count(*) FROM users"); int64(n) < first.Imported {
		t.Fatalf("%d users committed, report says %d", n, first.Imported)
	}

	rest, err := importer.New(db, nil, nil).Run(context.Background(), open(), opts)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if rest.ResumedAfter != first.Lines || rest.Lines != twentyK || rest.Updated != 0 ||
		first.Imported+rest.Imported+rest.Unchanged != int64(valid) {
		t.Fatalf("resumed run: %s, after %s", rest, first)
	}
	var want []int64
	for i := range twentyK {
		if isBad(i) {
			want = append(want, int64(i+1))
		}
	}
	if !slices.Equal(told, want) {
		t.Fatalf("rejections told %v, want each bad line once in order: %v", told, want)
	}
	for _, q := range []string{"SELECT count(*) FROM users", "SELECT count(DISTINCT email) FROM users",
		"SELECT count(*) FROM email_directory"} {
		if n := count(t, pool, q); n != valid {
			t.Fatalf("%s = %d, want %d", q, n, valid)
		}
	}
}
