package password

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// CodeOverloaded is the error code of Pool.Do when it sheds load.
const CodeOverloaded = "overloaded"

// DefaultMaxWait is how long Pool.Do waits for a worker when NewPool is given
// no positive maxWait.
const DefaultMaxWait = 2 * time.Second

// overloadRetryAfter is the Retry-After given to callers that were shed.
const overloadRetryAfter = time.Second

// Observer is told about each hash the Pool runs; the server feeds its
// in-flight gauge and duration histogram from it.
type Observer interface {
	// HashStarted is called when a hash takes a worker slot.
	HashStarted()
	// HashFinished is called when it gives the slot back, with its duration.
	HashFinished(d time.Duration)
}

// Pool bounds how many password hashes run at once. Argon2id takes its full
// memory cost for each hash in flight, so the number of workers, times
// Params.MemoryKiB, bounds the memory hashing can use however many logins
// arrive together. Callers beyond the workers wait in a short queue; beyond
// the queue, or after waiting too long, they are refused at once with an
// errs.KindUnavailable error so that a surge degrades to fast 503s rather
// than to a server out of memory.
//
// There are two queues. A caller whose context carries WithPriority (a
// login from a trusted device) waits in its own lane and gets the next free
// worker before any ordinary caller, so a flood of unknown clients filling
// the ordinary queue in the first seconds of an attack, before the defense
// layers have learnt it, cannot shed the users on their usual devices.
//
// While priority callers are about (one came within ReserveWindow), one
// worker of two or more is kept for them: ordinary callers may run on at
// most workers-1, and on OS threads of a lower scheduling priority
// (ordinary.go). A trusted-device login then never waits for a flood's
// hash to finish, the flood gets a core less, and what it gets the kernel
// gives to everything else first. With no priority caller about, ordinary
// callers have every worker at the normal priority.
type Pool struct {
	mu         sync.Mutex
	workers    int
	running    int
	lowRunning int // of running, ordinary callers
	queue      int // most callers allowed to wait in each lane
	high       []*waiter
	low        []*waiter
	maxWait    time.Duration
	obs        Observer
	now        func() time.Time
	lastHigh   time.Time // the last priority caller's arrival
	ordinary   ordinaryThreads
}

// ReserveWindow is how long after a priority caller's arrival a worker
// stays reserved for priority callers.
const ReserveWindow = 10 * time.Second

// waiter is a caller waiting for a worker; ready is closed when it is
// granted one.
type waiter struct {
	ready   chan struct{}
	granted bool
}

type priorityKey struct{}

// WithPriority marks the hashing done under ctx as coming from a client the
// service trusts (a trusted device): it is served ahead of other waiters.
func WithPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, priorityKey{}, true)
}

func hasPriority(ctx context.Context) bool {
	p, _ := ctx.Value(priorityKey{}).(bool)
	return p
}

// NewPool returns a pool running at most workers hashes at once
// (runtime.GOMAXPROCS(0) when workers <= 0), with at most queue callers
// waiting for a slot in each lane (none when queue <= 0), each for at most
// maxWait (DefaultMaxWait when maxWait <= 0). obs may be nil.
func NewPool(workers, queue int, maxWait time.Duration, obs Observer) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if queue < 0 {
		queue = 0
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &Pool{workers: workers, queue: queue, maxWait: maxWait, obs: obs, now: time.Now}
}

// Capacity is the number of hashes the pool runs at once.
func (p *Pool) Capacity() int { return p.workers }

// Do runs fn on the calling goroutine once a worker slot is free. If the
// caller's queue is already full, if no slot frees up within the pool's
// maxWait, or if ctx ends first, fn does not run and Do returns an
// *errs.Error of kind errs.KindUnavailable and code CodeOverloaded with
// RetryAfter set (its cause is ctx's error when ctx ended).
//
// fn runs locked to its OS thread. A hash takes the whole of a CPU for
// ~150 ms while the server's network goroutines come and go; unlocked, the
// scheduler preempts it for them and resumes it on whichever thread and
// CPU is free, where its TLB entries and caches are cold. Locked, it
// resumes on its own thread, which the kernel tends to keep on its CPU. A
// login's Argon2id took 2.5–10 % longer than the same derivation in a bare
// loop; in 8 interleaved pairs of runs, login_vs_argon2_ratio's median
// went from 0.955 to 0.974 (this VM's run-to-run spread is ±4 %).
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return overloaded("request ended before hashing", err)
	}
	high := hasPriority(ctx)
	if err := p.acquire(ctx, high); err != nil {
		return err
	}
	defer p.release(!high)
	if p.obs != nil {
		p.obs.HashStarted()
		start := time.Now()
		defer func() { p.obs.HashFinished(time.Since(start)) }()
	}
	if !high && p.prioritiesAbout() {
		// Priority callers are about: an ordinary hash yields the CPU to
		// them (and to everything else) whenever they compete.
		p.ordinary.run(p.workers, fn)
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fn()
	return nil
}

// lowCap is how many ordinary callers may run at once now (p.mu held).
func (p *Pool) lowCap() int {
	if p.workers >= 2 && p.priorityRecent() {
		return p.workers - 1
	}
	return p.workers
}

// priorityRecent reports whether a priority caller came within
// ReserveWindow (p.mu held).
func (p *Pool) priorityRecent() bool {
	return !p.lastHigh.IsZero() && p.now().Sub(p.lastHigh) < ReserveWindow
}

// prioritiesAbout is priorityRecent for a caller not holding p.mu.
func (p *Pool) prioritiesAbout() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.priorityRecent()
}

// acquire takes a worker slot, waiting in the caller's lane if need be.
func (p *Pool) acquire(ctx context.Context, high bool) error {
	p.mu.Lock()
	if high {
		p.lastHigh = p.now()
	}
	if p.running < p.workers && len(p.high) == 0 && (high || (len(p.low) == 0 && p.lowRunning < p.lowCap())) {
		p.running++
		if !high {
			p.lowRunning++
		}
		p.mu.Unlock()
		return nil
	}
	lane := &p.low
	if high {
		lane = &p.high
	}
	if len(*lane) >= p.queue {
		p.mu.Unlock()
		return overloaded("hashing queue is full", nil)
	}
	w := &waiter{ready: make(chan struct{})}
	*lane = append(*lane, w)
	p.mu.Unlock()

	timer := time.NewTimer(p.maxWait)
	defer timer.Stop()
	var why string
	var cause error
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		why, cause = "waited too long for a hashing slot", fmt.Errorf("no slot within %v", p.maxWait)
	case <-ctx.Done():
		why, cause = "request ended while waiting to hash", ctx.Err()
	}
	p.mu.Lock()
	if w.granted {
		// The slot was handed over as we gave up: pass it on.
		p.mu.Unlock()
		p.release(!high)
	} else {
		*lane = removeWaiter(*lane, w)
		p.mu.Unlock()
	}
	return overloaded(why, cause)
}

// release gives the slot (an ordinary caller's when low) to the next
// waiter, priority lane first, or frees it.
func (p *Pool) release(low bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if low {
		p.lowRunning--
	}
	grant := func(lane *[]*waiter) {
		w := (*lane)[0]
		*lane = (*lane)[1:]
		w.granted = true
		close(w.ready)
	}
	switch {
	case len(p.high) > 0:
		grant(&p.high)
	case len(p.low) > 0 && p.lowRunning < p.lowCap():
		p.lowRunning++
		grant(&p.low)
	default:
		p.running--
	}
}

// Busy reports whether the ordinary lane is full, so that a caller can shed
// an ordinary request before doing any work for it.
func (p *Pool) Busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return (p.running >= p.workers || p.lowRunning >= p.lowCap()) && len(p.low) >= p.queue
}

// waitingCount is how many callers wait in both lanes (for tests).
func (p *Pool) waitingCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.high) + len(p.low)
}

func removeWaiter(lane []*waiter, w *waiter) []*waiter {
	for i, x := range lane {
		if x == w {
			return append(lane[:i], lane[i+1:]...)
		}
	}
	return lane
}

// overloaded builds Do's error.
func overloaded(why string, cause error) *errs.Error {
	err := fmt.Errorf("password: %s", why)
	if cause != nil {
		err = fmt.Errorf("password: %s: %w", why, cause)
	}
	return &errs.Error{
		Kind:       errs.KindUnavailable,
		Code:       CodeOverloaded,
		Message:    "the server is busy, try again shortly",
		RetryAfter: overloadRetryAfter,
		Err:        err,
	}
}
