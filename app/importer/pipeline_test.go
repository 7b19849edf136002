package importer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// funcStore is a Store made of a function; it is called concurrently.
type funcStore func(ctx context.Context, b []Record) (Counts, error)

func (f funcStore) ImportUsers(ctx context.Context, _ string, b []Record, _ time.Time) (Counts, error) {
	return f(ctx, b)
}

// eventLog records what the store saw, in order, from any goroutine.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

// index is the position of event e, or -1.
func (l *eventLog) index(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.events, e)
}

// lines lists the line numbers of records.
func lines(b []Record) []int64 {
	out := make([]int64, len(b))
	for i := range b {
		out[i] = b[i].Line
	}
	return out
}

// A batch that shares an email or an external_id with a batch in flight is
// held back until that batch is done; batches without a shared key run
// alongside. Line 1 stays in the store until the dispatcher has held line 3
// back (same email, differently written) and line 2 has started: so line 2
// ran concurrently with line 1, and line 3 could only start after line 1
// ended. Line 4 shares line 3's external_id. A dispatcher that let line 3
// through would be caught by the store (two calls in flight with one key)
// and would not deadlock: line 3's call releases line 1.
func TestBatchesSharingAKeyWaitForEachOther(t *testing.T) {
	in := strings.Join([]string{
		`{"email":"a@example.com"}`,
		`{"email":"b@example.com"}`,
		`{"email":"A@Example.com","external_id":"x"}`,
		`{"email":"c@example.com","external_id":"x"}`,
		`{"email":"d@example.com"}`,
	}, "\n")
	var (
		log      eventLog
		mu       sync.Mutex
		inflight = map[int64][]Record{}
		overlaps []string
		release  = make(chan struct{})
		once     sync.Once
		held     = make(chan struct{})
		started2 = make(chan struct{})
	)
	open := func() { once.Do(func() { close(release) }) }
	go func() { <-held; <-started2; open() }()
	st := funcStore(func(_ context.Context, b []Record) (Counts, error) {
		line := b[0].Line
		mu.Lock()
		for other, rs := range inflight {
			for _, r := range rs {
				for _, mine := range b {
					if string(r.EmailHash) == string(mine.EmailHash) ||
						(r.User.ExternalID != "" && r.User.ExternalID == mine.User.ExternalID) {
						overlaps = append(overlaps, fmt.Sprintf("line %d ran alongside line %d", line, other))
					}
				}
			}
		}
		inflight[line] = b
		mu.Unlock()
		log.add("start %d", line)
		switch line {
		case 1:
			<-release
		case 2:
			close(started2)
		case 3:
			open() // only a broken dispatcher gets here while line 1 waits
		}
		mu.Lock()
		delete(inflight, line)
		mu.Unlock()
		log.add("end %d", line)
		return Counts{Imported: len(b)}, nil
	})
	im := New(st, nil, nil)
	var holds []int64
	im.onHold = func(line int64) {
		holds = append(holds, line) // called by the dispatcher goroutine only
		if line == 3 {
			close(held)
		}
	}
	rep, err := im.Run(context.Background(), strings.NewReader(in), Options{Region: "us-east1", BatchSize: 1, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(overlaps) > 0 {
		t.Fatalf("batches sharing a key ran together: %v", overlaps)
	}
	if rep.Lines != 5 || rep.Imported != 5 {
		t.Fatalf("report %s", rep)
	}
	if len(holds) == 0 || holds[0] != 3 {
		t.Fatalf("held back: %v, want line 3 first", holds)
	}
	for _, order := range [][2]string{{"start 2", "end 1"}, {"end 1", "start 3"}, {"end 3", "start 4"}} {
		if a, b := log.index(order[0]), log.index(order[1]); a < 0 || b < 0 || a > b {
			t.Fatalf("want %q before %q: %v", order[0], order[1], log.events)
		}
	}
}

// recordingProgress counts what it is told.
type recordingProgress struct {
	mu           sync.Mutex
	lines, bytes int64
	done         int
}

func (p *recordingProgress) Add(n int) { p.mu.Lock(); p.lines += int64(n); p.mu.Unlock() }
func (p *recordingProgress) AddBytes(n int64) {
	p.mu.Lock()
	p.bytes += n
	p.mu.Unlock()
}
func (p *recordingProgress) Done() { p.mu.Lock(); p.done++; p.mu.Unlock() }

// Four batches finish in reverse order (each waits for the next one to be
// committed); two of them hold a record the database refuses, so they are
// split. Rejections (parse errors and refusals) still reach OnReject and
// the report in line order, the counts are exact and progress covers every
// line once.
func TestRejectionsStayInLineOrderWhenBatchesFinishOutOfOrder(t *testing.T) {
	var in strings.Builder
	var wantRejected []int64
	line := int64(0)
	add := func(s string, rejected bool) {
		line++
		in.WriteString(s + "\n")
		if rejected {
			wantRejected = append(wantRejected, line)
		}
	}
	firstLines := map[int64]int{} // first line of each batch → its index
	for b := range 4 {
		for r := range 3 {
			if r == 1 {
				add(`{not json`, true)
			}
			if r == 0 {
				firstLines[line+1] = b
			}
			if r == 2 && b%2 == 0 {
				add(fmt.Sprintf(`{"email":"refused%d@example.com"}`, b), true)
				continue
			}
			add(fmt.Sprintf(`{"email":"u%d-%d@example.com"}`, b, r), false)
		}
	}
	committed := make([]chan struct{}, 5)
	for i := range committed {
		committed[i] = make(chan struct{})
	}
	close(committed[4])
	st := funcStore(func(_ context.Context, b []Record) (Counts, error) {
		idx, full := firstLines[b[0].Line]
		full = full && len(b) == 3
		if full {
			<-committed[idx+1]
			defer close(committed[idx])
		}
		for _, r := range b {
			if strings.HasPrefix(r.User.Email, "refused") {
				return Counts{}, errs.Invalid("invalid_value", "a value was refused")
			}
		}
		return Counts{Imported: len(b)}, nil
	})
	var told []int64
	progress := &recordingProgress{}
	rep, err := New(st, nil, nil).Run(context.Background(), strings.NewReader(in.String()),
		Options{Region: "us-east1", BatchSize: 3, Concurrency: 4, Progress: progress,
			OnReject: func(r Rejection) { told = append(told, r.Line) }})
	if err != nil {
		t.Fatal(err)
	}
	var reported []int64
	for _, r := range rep.Rejected {
		reported = append(reported, r.Line)
	}
	if !slices.Equal(told, wantRejected) || !slices.Equal(reported, wantRejected) {
		t.Fatalf("rejections told %v, reported %v, want %v", told, reported, wantRejected)
	}
	if rep.Imported != 10 || rep.RejectedCount != int64(len(wantRejected)) || rep.Lines != line {
		t.Fatalf("report %s", rep)
	}
	if progress.lines != line || progress.bytes != int64(in.Len()) || progress.done != 1 {
		t.Fatalf("progress %d lines, %d bytes, done %d; want %d, %d, 1", progress.lines, progress.bytes, progress.done, line, in.Len())
	}
}

// While the first batch is slow, the import reads and commits only a few
// batches ahead (2 × Concurrency in all, reported or not), so that memory
// stays constant: the fifth batch waits for the first one even though
// workers are free.
func TestReadAheadIsBounded(t *testing.T) {
	var in strings.Builder
	for i := range 8 {
		fmt.Fprintf(&in, `{"email":"u%d@example.com"}`+"\n", i)
	}
	var log eventLog
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	st := funcStore(func(_ context.Context, b []Record) (Counts, error) {
		log.add("start %d", b[0].Line)
		switch b[0].Line {
		case 1:
			<-release
		case 5:
			open() // only an unbounded read-ahead gets here while line 1 waits
		}
		log.add("end %d", b[0].Line)
		return Counts{Imported: len(b)}, nil
	})
	im := New(st, nil, nil)
	var holds []int64
	im.onHold = func(line int64) {
		holds = append(holds, line)
		if line == 5 {
			open()
		}
	}
	rep, err := im.Run(context.Background(), strings.NewReader(in.String()), Options{Region: "us-east1", BatchSize: 1, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 8 || rep.Lines != 8 {
		t.Fatalf("report %s", rep)
	}
	if len(holds) == 0 || holds[0] != 5 {
		t.Fatalf("held back: %v, want line 5 first", holds)
	}
	// Line 5 was held while line 1 was in the store (only that hold
	// releases it), so lines 2 to 4 had been dispatched by then; line 5
	// started after line 1 ended.
	if a, b := log.index("end 1"), log.index("start 5"); a < 0 || b < 0 || a > b {
		t.Fatalf("want line 1 to end before line 5 starts: %v", log.events)
	}
}
