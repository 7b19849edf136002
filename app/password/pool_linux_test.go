package password

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A hash keeps its OS thread from start to end even while other goroutines
// compete for the CPUs: the scheduler may pause it, but it resumes on the
// same thread (see Pool.Do).
func TestPoolRunsOnOneThread(t *testing.T) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for !stop.Load() {
				runtime.Gosched()
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()

	pool := NewPool(2, 2, 10*time.Second, nil)
	for range 4 {
		var moved []int
		err := pool.Do(context.Background(), func() {
			tid := syscall.Gettid()
			for range 200 {
				runtime.Gosched()
				time.Sleep(10 * time.Microsecond)
				if now := syscall.Gettid(); now != tid {
					moved = append(moved, now)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(moved) > 0 {
			t.Fatalf("a hash moved between OS threads %d times", len(moved))
		}
	}
}
