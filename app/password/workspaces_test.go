package password

import (
	"context"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/password/argon2id"
)

// TestHashingReusesWorkingMemory checks that once every worker has hashed,
// further hashes allocate next to nothing: the Argon2id memory is the kept
// one, not a fresh allocation the runtime must zero and fault in.
func TestHashingReusesWorkingMemory(t *testing.T) {
	ctx := context.Background()
	const workers = 2
	h, err := NewHasher(testParams, newSpyPeppers(1), NewPool(workers, 16, time.Minute, nil))
	if err != nil {
		t.Fatal(err)
	}
	hashAll := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := h.VerifyDummy(ctx, []byte("correct horse")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	hashAll(8) // two at a time: both workers have made their memory
	n, kib := h.memory.kept()
	if n != workers || kib != workers*uint64(testParams.MemoryKiB) {
		t.Fatalf("kept %d memories of %d KiB in all; want %d of %d KiB", n, kib, workers, testParams.MemoryKiB)
	}
	kept := map[*argon2id.Memory]bool{}
	for _, m := range h.memory.free {
		kept[m] = true
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const hashes = 8
	hashAll(hashes)
	runtime.ReadMemStats(&after)
	for _, m := range h.memory.free {
		if !kept[m] || m.KiB() != testParams.MemoryKiB {
			t.Fatalf("hashing made a new %d KiB memory instead of reusing the kept ones", m.KiB())
		}
	}
	if perHash := (after.TotalAlloc - before.TotalAlloc) / hashes; perHash > 64<<10 {
		t.Fatalf("each hash allocated %d KiB of Go heap with its working memory kept", perHash>>10)
	}
}

// TestLargerStoredCostIsNotKept checks that a hash made with a larger memory
// cost than today's still verifies, in memory that is not kept afterwards.
func TestLargerStoredCostIsNotKept(t *testing.T) {
	ctx := context.Background()
	peppers := newSpyPeppers(1)
	big := testParams
	big.MemoryKiB *= 2
	old := newTestHasher(t, big, peppers, nil)
	encoded, err := old.Hash(ctx, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHasher(t, testParams, peppers, nil)
	res, err := h.Verify(ctx, []byte("correct horse"), encoded)
	if err != nil || !res.OK || !res.NeedsRehash {
		t.Fatalf("Verify of a larger-cost hash = %+v, %v; want OK and NeedsRehash", res, err)
	}
	if n, kib := h.memory.kept(); n != 0 || kib != 0 {
		t.Fatalf("kept %d memories (%d KiB) after a larger-cost derivation", n, kib)
	}
	if res, err := h.Verify(ctx, []byte("wrong horse"), encoded); err != nil || res.OK {
		t.Fatalf("Verify of a wrong password = %+v, %v", res, err)
	}
}

// TestMeasureCapacityWarmsEveryWorker checks that measuring the capacity
// leaves one working memory per worker, sized to the parameters, and gives
// a positive rate.
func TestMeasureCapacityWarmsEveryWorker(t *testing.T) {
	const workers = 2
	h, err := NewHasher(testParams, newSpyPeppers(1), NewPool(workers, 8, time.Minute, nil))
	if err != nil {
		t.Fatal(err)
	}
	perSecond, err := h.MeasureCapacity(context.Background())
	if err != nil || !(perSecond > 0) || math.IsInf(perSecond, 0) {
		t.Fatalf("MeasureCapacity = %v, %v", perSecond, err)
	}
	if n, kib := h.memory.kept(); n != workers || kib != workers*uint64(testParams.MemoryKiB) {
		t.Fatalf("after measuring: %d memories of %d KiB in all; want %d of %d KiB", n, kib, workers, testParams.MemoryKiB)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.MeasureCapacity(ctx); err == nil {
		t.Fatal("MeasureCapacity with an ended context: no error")
	}
}
