package importer_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/importer"
)

// BenchmarkImport imports 10,000 new synthetic users per iteration into
// PostgreSQL and reports users/s.
func BenchmarkImport(b *testing.B) {
	db, _ := openStore(b)
	im := importer.New(db, nil, nil)
	const per = 10_000
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		rep, err := im.Run(context.Background(), newSynth(i*per, (i+1)*per, nil), importer.Options{Region: "us-east1"})
		if err != nil || rep.Imported != per {
			b.Fatalf("%s, %v", rep, err)
		}
	}
	b.ReportMetric(float64(b.N*per)/time.Since(start).Seconds(), "users/s")
}

// TestImportLarge is the full-size run: GATEHOUSE_IMPORT_LINES=1000000 go
// test -run TestImportLarge ./app/importer. It writes a synthetic file,
// imports it with a checkpoint as the CLI does, and prints users/s and the
// process's peak RSS. It does not run by default: CI stays fast.
func TestImportLarge(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEHOUSE_IMPORT_LINES"))
	if n <= 0 {
		t.Skip("set GATEHOUSE_IMPORT_LINES=1000000 to run the full-size import")
	}
	db, pool := openStore(t)
	path := filepath.Join(t.TempDir(), "users.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.Copy(w, newSynth(0, n, nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	size, _ := f.Seek(0, io.SeekCurrent)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := peakRSS(t)
	var progress strings.Builder
	start := time.Now()
	rep, err := importer.New(db, nil, nil).Run(context.Background(), f, importer.Options{Region: "us-east1",
		CheckpointPath: path + ".checkpoint", Progress: importer.NewProgress(&progress, size, false)})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != int64(n) || count(t, pool, "SELECT count(*) FROM users") != n {
		t.Fatalf("%s", rep)
	}
	rate := float64(n) / elapsed.Seconds()
	t.Logf("%s; file %d MiB; peak RSS before %d KiB, after %d KiB", rep, size>>20, before, peakRSS(t))
	fmt.Printf("BENCH import_users_per_s %.0f users/s\n", rate)
	fmt.Printf("BENCH import_peak_rss_kib %d KiB\n", peakRSS(t))
}

// peakRSS reads VmHWM from /proc/self/status, in KiB.
func peakRSS(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kib
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
