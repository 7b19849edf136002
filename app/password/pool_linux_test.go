package password

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// threadNice reads the calling OS thread's niceness from /proc.
func threadNice(t *testing.T) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", syscall.Gettid()))
	if err != nil {
		t.Error(err)
		return -100
	}
	// Fields after the command's closing parenthesis: state is field 3,
	// nice is field 19.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	n, err := strconv.Atoi(fields[19-3])
	if err != nil {
		t.Error(err)
	}
	return n
}

// While trusted devices are about, unknown devices' hashes run on threads
// of lower priority, so that under contention the kernel serves trusted
// devices' hashes, requests, the database and Redis first; trusted
// devices' hashes keep the normal one, and so do unknown devices' hashes
// when no trusted device is about.
func TestOrdinaryHashesRunNiced(t *testing.T) {
	pool := NewPool(2, 2, time.Second, nil)
	var alone, ordinary, priority int
	// No priority caller about: the normal priority, on the caller's thread.
	if err := pool.Do(context.Background(), func() { alone = threadNice(t) }); err != nil {
		t.Fatal(err)
	}
	if err := pool.Do(WithPriority(context.Background()), func() { priority = threadNice(t) }); err != nil {
		t.Fatal(err)
	}
	if err := pool.Do(context.Background(), func() { ordinary = threadNice(t) }); err != nil {
		t.Fatal(err)
	}
	if alone != 0 || ordinary != ordinaryNice || priority != 0 {
		t.Fatalf("niceness: ordinary hash alone %d (want 0), beside a priority caller %d (want %d), priority hash %d (want 0)",
			alone, ordinary, ordinaryNice, priority)
	}
	// The priority thread went back to the scheduler at its normal
	// priority; the calling goroutine's thread never changed.
	if n := threadNice(t); n != 0 {
		t.Fatalf("caller's thread niceness %d", n)
	}
}

// A panic in an ordinary hash reaches its caller (the HTTP server's
// recovery), not the worker thread, which serves the next hash.
func TestOrdinaryHashPanicReachesTheCaller(t *testing.T) {
	pool := NewPool(1, 1, time.Second, nil)
	if err := pool.Do(WithPriority(context.Background()), func() {}); err != nil {
		t.Fatal(err) // a priority caller about: ordinary hashes go to the niced threads
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want boom", v)
			}
		}()
		_ = pool.Do(context.Background(), func() { panic("boom") })
		t.Fatal("Do returned after a panic")
	}()
	ran := false
	if err := pool.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after the panic: ran %v, err %v", ran, err)
	}
}
