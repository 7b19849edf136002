package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

func assertOverloaded(t *testing.T, err error) *errs.Error {
	t.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != errs.KindUnavailable || e.Code != CodeOverloaded || e.RetryAfter != time.Second {
		t.Fatalf("error = %#v, want KindUnavailable %q with RetryAfter 1s", err, CodeOverloaded)
	}
	return e
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolBoundsConcurrency(t *testing.T) {
	const workers, queue, callers = 2, 3, 20
	obs := &countingObserver{}
	pool := NewPool(workers, queue, 10*time.Second, obs)
	if pool.Capacity() != workers {
		t.Fatalf("Capacity() = %d, want %d", pool.Capacity(), workers)
	}

	var running, maxRunning, ran atomic.Int64
	release := make(chan struct{})
	results := make(chan error, callers)
	for range callers {
		go func() {
			results <- pool.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				<-release
				ran.Add(1)
				running.Add(-1)
			})
		}()
	}

	// Everyone beyond the workers and the queue is refused at once.
	for range callers - workers - queue {
		select {
		case err := <-results:
			assertOverloaded(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("callers beyond the queue were not refused promptly")
		}
	}
	waitFor(t, "2 running and 3 waiting", func() bool {
		return running.Load() == workers && pool.waitingCount() == queue
	})
	select {
	case err := <-results:
		t.Fatalf("a queued caller returned early: %v", err)
	default:
	}

	close(release)
	for range workers + queue {
		if err := <-results; err != nil {
			t.Fatalf("queued caller: %v", err)
		}
	}
	if got := maxRunning.Load(); got != workers {
		t.Fatalf("max concurrency %d, want %d", got, workers)
	}
	if got := ran.Load(); got != workers+queue {
		t.Fatalf("%d ran, want %d", got, workers+queue)
	}
	if started, finished := obs.counts(); started != workers+queue || finished != workers+queue {
		t.Fatalf("observer saw %d started, %d finished; want %d", started, finished, workers+queue)
	}
	if int64(pool.waitingCount()) != 0 {
		t.Fatalf("waiting = %d after the run", int64(pool.waitingCount()))
	}
}

// fillPool occupies every slot until the returned release is called.
func fillPool(t *testing.T, pool *Pool) (release func()) {
	t.Helper()
	stop := make(chan struct{})
	var started, done sync.WaitGroup
	for range pool.Capacity() {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if err := pool.Do(context.Background(), func() { started.Done(); <-stop }); err != nil {
				t.Errorf("filling the pool: %v", err)
				started.Done()
			}
		}()
	}
	started.Wait()
	return func() { close(stop); done.Wait() }
}

func TestPoolContextCancelWhileWaiting(t *testing.T) {
	pool := NewPool(1, 1, 10*time.Second, nil)
	release := fillPool(t, pool)
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	ran := false
	err := pool.Do(ctx, func() { ran = true })
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Do took %v to notice cancellation", elapsed)
	}
	assertOverloaded(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
	if ran {
		t.Fatal("fn ran after cancellation")
	}
}

func TestPoolContextAlreadyDone(t *testing.T) {
	pool := NewPool(1, 1, time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := pool.Do(ctx, func() { ran = true })
	assertOverloaded(t, err)
	if ran {
		t.Fatal("fn ran for a cancelled context although a slot was free")
	}
}

func TestPoolMaxWait(t *testing.T) {
	pool := NewPool(1, 1, 50*time.Millisecond, nil)
	release := fillPool(t, pool)
	defer release()

	start := time.Now()
	err := pool.Do(context.Background(), func() { t.Error("fn ran without a slot") })
	elapsed := time.Since(start)
	assertOverloaded(t, err)
	if elapsed < 50*time.Millisecond || elapsed > 2*time.Second {
		t.Fatalf("Do gave up after %v, want about 50ms", elapsed)
	}
}

func TestPoolDefaults(t *testing.T) {
	pool := NewPool(0, -1, 0, nil)
	if pool.Capacity() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Capacity() = %d, want GOMAXPROCS %d", pool.Capacity(), runtime.GOMAXPROCS(0))
	}
	if pool.maxWait != DefaultMaxWait {
		t.Fatalf("maxWait = %v, want %v", pool.maxWait, DefaultMaxWait)
	}
	// With no queue, a caller finding every slot taken is refused at once.
	release := fillPool(t, pool)
	defer release()
	start := time.Now()
	assertOverloaded(t, pool.Do(context.Background(), func() {}))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("refusal took %v", elapsed)
	}
}

func TestPoolReleasesSlotOnPanic(t *testing.T) {
	pool := NewPool(1, 0, time.Second, nil)
	func() {
		defer func() { _ = recover() }()
		_ = pool.Do(context.Background(), func() { panic("boom") })
	}()
	ran := false
	if err := pool.Do(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("after a panic: Do = %v, ran = %v", err, ran)
	}
}

// A trusted caller (WithPriority) has its own lane: it is queued even when
// the ordinary lane is full, and it gets the next free worker before every
// ordinary caller that was waiting longer.
func TestPoolServesPriorityCallersFirst(t *testing.T) {
	pool := NewPool(1, 2, 5*time.Second, nil)
	ctx := context.Background()
	hold := make(chan struct{})
	started := make(chan struct{})
	go func() { _ = pool.Do(ctx, func() { close(started); <-hold }) }()
	<-started

	var mu sync.Mutex
	var order []string
	run := func(name string, c context.Context, done chan<- error) {
		done <- pool.Do(c, func() {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
		})
	}
	done := make(chan error, 4)
	go run("low-1", ctx, done)
	go run("low-2", ctx, done)
	waitFor(t, "two ordinary callers queued", func() bool { return pool.waitingCount() == 2 })
	// The ordinary lane is full: another ordinary caller is shed...
	assertOverloaded(t, pool.Do(ctx, func() {}))
	// ...but a trusted one is queued, and served first.
	go run("trusted", WithPriority(ctx), done)
	waitFor(t, "the trusted caller queued", func() bool { return pool.waitingCount() == 3 })
	close(hold)
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if order[0] != "trusted" || len(order) != 3 {
		t.Fatalf("order = %v, want the trusted caller first", order)
	}
}

// Busy is true exactly when an ordinary caller would be refused for a full
// queue, so the login path can shed it before doing any work.
func TestPoolBusy(t *testing.T) {
	pool := NewPool(1, 1, 5*time.Second, nil)
	ctx := context.Background()
	if pool.Busy() {
		t.Fatal("an idle pool is busy")
	}
	hold := make(chan struct{})
	started := make(chan struct{})
	go func() { _ = pool.Do(ctx, func() { close(started); <-hold }) }()
	<-started
	if pool.Busy() {
		t.Fatal("one running hash with room in the queue is not busy")
	}
	done := make(chan error, 1)
	go func() { done <- pool.Do(ctx, func() {}) }()
	waitFor(t, "one queued", func() bool { return pool.waitingCount() == 1 })
	if !pool.Busy() {
		t.Fatal("a full queue must be busy")
	}
	assertOverloaded(t, pool.Do(ctx, func() {}))
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if pool.Busy() {
		t.Fatal("busy after the queue drained")
	}
}

// While trusted callers are about, one worker of two is theirs: ordinary
// callers run one at a time and a trusted caller starts at once; once no
// trusted caller came for ReserveWindow, ordinary callers have both again.
func TestPoolReservesAWorkerForPriorityCallers(t *testing.T) {
	pool := NewPool(2, 4, 5*time.Second, nil)
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	pool.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()

	// hold starts a hash that runs until its channel is closed.
	hold := func(c context.Context) (release chan struct{}, done chan error) {
		release, done, started := make(chan struct{}), make(chan error, 1), make(chan struct{})
		go func() { done <- pool.Do(c, func() { close(started); <-release }) }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("hash did not start: %v", err)
		}
		return release, done
	}
	finish := func(release chan struct{}, done chan error) {
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// No trusted caller yet: two ordinary hashes run side by side.
	r1, d1 := hold(ctx)
	r2, d2 := hold(ctx)
	finish(r1, d1)
	finish(r2, d2)

	// A trusted caller arrives: from now on one worker is kept for them.
	rt, dt := hold(WithPriority(ctx))
	finish(rt, dt)
	r1, d1 = hold(ctx)
	second := make(chan error, 1)
	go func() { second <- pool.Do(ctx, func() {}) }()
	waitFor(t, "the second ordinary caller waits though a worker is free", func() bool { return pool.waitingCount() == 1 })
	rt, dt = hold(WithPriority(ctx)) // starts at once on the kept worker
	finish(rt, dt)
	if pool.waitingCount() != 1 {
		t.Fatal("the ordinary caller took the kept worker")
	}
	finish(r1, d1) // the ordinary slot frees: the waiting one runs
	if err := <-second; err != nil {
		t.Fatal(err)
	}

	// No trusted caller for ReserveWindow: both workers are open again.
	advance(ReserveWindow)
	r1, d1 = hold(ctx)
	r2, d2 = hold(ctx)
	finish(r1, d1)
	finish(r2, d2)
}
