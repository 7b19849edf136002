package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// memStore records the batches it is given; a record whose email is
// refused@example.com makes the whole batch fail as the database would.
type memStore struct {
	lines []int64
	calls int
}

func (m *memStore) ImportUsers(_ context.Context, _ string, b []Record, _ time.Time) (Counts, error) {
	m.calls++
	for _, r := range b {
		if r.User.Email == "refused@example.com" {
			return Counts{}, errs.Invalid("invalid_value", "a value was refused")
		}
	}
	for _, r := range b {
		m.lines = append(m.lines, r.Line)
	}
	return Counts{Imported: len(b)}, nil
}

func TestLineReaderEdges(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+1)
	exact := strings.Repeat("y", MaxLineBytes)
	in := "\ufeffone\r\n\n" + long + "\n" + exact + "\r\n" + long + long + "\nlast"
	lr := newLineReader(strings.NewReader(in))
	type got struct {
		line    string
		tooLong bool
	}
	var all []got
	for {
		line, _, tooLong, err := lr.next()
		if err != nil {
			break
		}
		all = append(all, got{string(line), tooLong})
	}
	want := []got{{"one", false}, {"", false}, {"", true}, {exact, false}, {"", true}, {"last", false}}
	if len(all) != len(want) {
		t.Fatalf("got %d lines, want %d", len(all), len(want))
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("line %d: got %.10q tooLong=%v, want %.10q tooLong=%v", i+1, all[i].line, all[i].tooLong, want[i].line, want[i].tooLong)
		}
	}
	if lr.offset != int64(len(in)) {
		t.Errorf("offset %d, want %d", lr.offset, len(in))
	}
}

func TestRunSplitsARefusedBatch(t *testing.T) {
	var in strings.Builder
	for i := range 10 {
		email := "u" + string(rune('a'+i)) + "@example.com"
		if i == 6 {
			email = "refused@example.com"
		}
		in.WriteString(`{"email":"` + email + `"}` + "\n")
	}
	in.WriteString("\n   \n{bad\n")
	st := &memStore{}
	rep, err := New(st, nil, nil).Run(context.Background(), strings.NewReader(in.String()), Options{Region: "us-east1", MaxRejected: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 9 || rep.RejectedCount != 2 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 7 ||
		!strings.Contains(rep.Rejected[0].Error, "refused by the database") || rep.Lines != 13 {
		t.Fatalf("%s %+v", rep, rep.Rejected)
	}
	if len(st.lines) != 9 {
		t.Fatalf("stored lines %v", st.lines)
	}
}

func TestCheckpointOfAnotherFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	cpPath := filepath.Join(dir, "x.checkpoint")
	lines := strings.Repeat(`{"email":"a@example.com"}`+"\n", 5)
	if err := writeCheckpoint(cpPath, checkpoint{FirstLine: strings.Repeat("ab", 32), Line: 3, Offset: 60, LastStart: 40,
		LastLine: strings.Repeat("cd", 32)}); err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	rep, err := New(st, nil, nil).Run(context.Background(), strings.NewReader(lines), Options{Region: "us-east1", CheckpointPath: cpPath})
	if err != nil || rep.ResumedAfter != 0 || len(st.lines) != 5 {
		t.Fatalf("%s, %v, stored %v", rep, err, st.lines)
	}
	if _, err := os.Stat(cpPath); !os.IsNotExist(err) {
		t.Fatal("checkpoint not removed after a complete import")
	}
	if err := os.WriteFile(cpPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(st, nil, nil).Run(context.Background(), strings.NewReader(lines), Options{Region: "us-east1", CheckpointPath: cpPath}); err == nil {
		t.Fatal("a corrupt checkpoint must stop the import, not be guessed at")
	}
}

func TestPlainProgress(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var out bytes.Buffer
	p := newProgress(&out, 1000, false, "imported", "lines", clock)
	p.Add(100)
	p.AddBytes(100)
	now = now.Add(2 * time.Second)
	p.AddBytes(400)
	p.Add(40000)
	now = now.Add(time.Second)
	p.Add(100)
	p.Done()
	p.Done()
	want := "imported 40100 lines (20050/s, 50%)\ndone: imported 40200 lines in 3s (13400/s)\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestTerminalProgressDoesNotPanic(t *testing.T) {
	for _, total := range []int64{-1, 5000} {
		out := &syncWriter{w: &bytes.Buffer{}}
		p := NewProgress(out, total, true)
		p.Add(10)
		p.AddBytes(2000)
		time.Sleep(250 * time.Millisecond) // let the spinner tick
		p.Done()
		out.mu.Lock()
		got := out.w.(*bytes.Buffer).String()
		out.mu.Unlock()
		if !strings.Contains(got, "done: imported 10 lines") {
			t.Fatalf("total %d: %q", total, got)
		}
	}
}
