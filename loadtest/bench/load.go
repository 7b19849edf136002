package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// constError is an error that can be a constant, for sentinel errors.
type constError string

func (e constError) Error() string { return string(e) }

// errStopWorker is returned by an operation when its worker has nothing
// left to do (e.g. every session it owned is gone); the worker stops and
// the call is not counted.
const errStopWorker = constError("worker has no work left")

// loadSpec describes one closed-loop load: workers each run op back to back
// until the measurement window ends or maxOps operations were started,
// whichever comes first.
type loadSpec struct {
	// name is used in progress messages.
	name string
	// workers is the number of concurrent closed-loop clients.
	workers int
	// warmup runs before the window; operations completing in it are not
	// counted.
	warmup time.Duration
	// window is the measured period after the warm-up.
	window time.Duration
	// maxOps bounds the number of operations started, warm-up included.
	maxOps int64
	// op performs one operation for a worker (0 ≤ worker < workers).
	op func(ctx context.Context, worker int) error
}

// loadResult is what a load measured inside its window: the operations
// that completed in it. The window opens only once the load is in a steady
// state (see runLoad), so that the count is unbiased.
type loadResult struct {
	// ok and failed count the operations completed inside the window.
	ok, failed int64
	// window is the measured time: the planned window, or less when the
	// operation bound or stopped workers ended the load early.
	window time.Duration
	// busy is the sum of the latencies of the counted operations.
	busy time.Duration
	// failures counts the failed operations by error text (at most
	// maxFailureKinds kinds; the rest are counted under "other").
	failures map[string]int64
}

// maxFailureKinds bounds how many distinct error texts a result keeps.
const maxFailureKinds = 8

// maxSettle bounds how long a load may take to reach its steady state.
const maxSettle = 2 * time.Minute

// perSecond is the successful operations per second of the window.
func (r loadResult) perSecond() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.ok) / r.window.Seconds()
}

// meanLatency is the mean latency of the counted operations.
func (r loadResult) meanLatency() time.Duration {
	if n := r.ok + r.failed; n > 0 {
		return r.busy / time.Duration(n)
	}
	return 0
}

// failureSummary describes the failures in one line, or "" when none.
func (r loadResult) failureSummary() string {
	if r.failed == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.failures)) {
		parts = append(parts, fmt.Sprintf("%d× %s", r.failures[k], k))
	}
	return fmt.Sprintf("%d failed of %d (%s)", r.failed, r.ok+r.failed, strings.Join(parts, "; "))
}

// add merges other into r: the windows are added up, as for one load
// measured in several rounds.
func (r *loadResult) add(other loadResult) {
	r.ok += other.ok
	r.failed += other.failed
	r.window += other.window
	r.busy += other.busy
	if r.failures == nil {
		r.failures = map[string]int64{}
	}
	for k, n := range other.failures {
		if _, known := r.failures[k]; !known && len(r.failures) >= maxFailureKinds {
			k = "other"
		}
		r.failures[k] += n
	}
}

// record counts one completed operation.
func (r *loadResult) record(err error, latency time.Duration) {
	r.busy += latency
	if err == nil {
		r.ok++
		return
	}
	r.failed++
	if r.failures == nil {
		r.failures = map[string]int64{}
	}
	key := err.Error()
	if len(key) > 120 {
		key = key[:120] + "…"
	}
	r.failures[key]++
}

// windowClock opens the measurement window at the later of the planned
// start (after the warm-up) and the moment the last worker finished its
// first operation: from then on every client is in its closed loop (a
// queue in the server has filled), so the completions counted are those of
// a steady state rather than of the start's burst. The window closes after
// its planned length, or later, at the completion that brings the count to
// minCompleted (at most maxSettle later), so that slow operations on a busy
// machine still give a figure.
type windowClock struct {
	planned      time.Time
	window       time.Duration
	minCompleted int64
	pending      atomic.Int64 // workers that have not finished an operation yet
	start        atomic.Int64 // unix nanoseconds; 0 while not open
	completed    atomic.Int64 // operations counted
	extendedEnd  atomic.Int64 // unix nanoseconds of the last completion counted after the planned end; 0 if none
}

func newWindowClock(planned time.Time, window time.Duration, workers int) *windowClock {
	c := &windowClock{planned: planned, window: window, minCompleted: int64(workers)}
	c.pending.Store(int64(workers))
	return c
}

// workerReady is called once per worker, after its first operation (or
// when it stops without one).
func (c *windowClock) workerReady(now time.Time) {
	if c.pending.Add(-1) == 0 {
		if now.Before(c.planned) {
			now = c.planned
		}
		c.start.Store(now.UnixNano())
	}
}

// bounds returns the planned window, or ok false while it is not open.
func (c *windowClock) bounds() (start, end time.Time, ok bool) {
	n := c.start.Load()
	if n == 0 {
		return time.Time{}, time.Time{}, false
	}
	start = time.Unix(0, n)
	return start, start.Add(c.window), true
}

// counts reports whether an operation completed at done is counted.
func (c *windowClock) counts(done time.Time) bool {
	start, end, open := c.bounds()
	switch {
	case !open || done.Before(start):
		return false
	case done.Before(end):
		c.completed.Add(1)
		return true
	}
	if c.completed.Add(1) > c.minCompleted {
		return false
	}
	// Counted after the planned end: the window now ends here (or later).
	for at := done.UnixNano(); ; {
		prev := c.extendedEnd.Load()
		if prev >= at || c.extendedEnd.CompareAndSwap(prev, at) {
			return true
		}
	}
}

// over reports whether a worker should start no more operations at now.
func (c *windowClock) over(now time.Time) bool {
	_, end, open := c.bounds()
	if !open || now.Before(end) {
		return false
	}
	return c.completed.Load() >= c.minCompleted || !now.Before(end.Add(maxSettle))
}

// measured is the window as it was: from its start to its planned end, or
// the last completion counted after it, or stopped (when every worker
// stopped before the planned end).
func (c *windowClock) measured(stopped time.Time) time.Duration {
	start, end, _ := c.bounds()
	if n := c.extendedEnd.Load(); n != 0 && time.Unix(0, n).After(end) {
		end = time.Unix(0, n)
	}
	if stopped.Before(end) {
		end = stopped
	}
	return end.Sub(start)
}

// runLoad runs spec and returns the operations completed inside its
// window. Each worker's first operation is warm-up; workers start no
// operation after the window, but finish the one they are in.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	if spec.workers < 1 || spec.window <= 0 || spec.maxOps < 1 {
		return loadResult{}, fmt.Errorf("%s: bad load spec (workers %d, window %v, max ops %d)", spec.name, spec.workers, spec.window, spec.maxOps)
	}
	began := time.Now()
	clock := newWindowClock(began.Add(spec.warmup), spec.window, spec.workers)
	giveUp := began.Add(spec.warmup + maxSettle)
	var started atomic.Int64
	tallies := make([]loadResult, spec.workers)
	var wg sync.WaitGroup
	for w := range spec.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready := false
			defer func() {
				if !ready {
					clock.workerReady(time.Now())
				}
			}()
			for ctx.Err() == nil && started.Add(1) <= spec.maxOps {
				now := time.Now()
				if _, _, open := clock.bounds(); clock.over(now) || (!open && now.After(giveUp)) {
					return
				}
				err := spec.op(ctx, w)
				done := time.Now()
				if errors.Is(err, errStopWorker) {
					return
				}
				if !ready {
					ready = true
					clock.workerReady(done)
					continue
				}
				if clock.counts(done) {
					tallies[w].record(err, done.Sub(now))
				}
			}
		}()
	}
	wg.Wait()
	if _, _, open := clock.bounds(); !open {
		return loadResult{}, fmt.Errorf("%s: not every client finished an operation within %v", spec.name, spec.warmup+maxSettle)
	}
	res := loadResult{window: clock.measured(time.Now())}
	for _, t := range tallies {
		res.add(t)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", spec.name, err)
	}
	if res.window <= 0 || res.ok == 0 {
		return res, fmt.Errorf("%s: no successful operation inside the window (%s)", spec.name, res.failureSummary())
	}
	return res, nil
}

// runRounds measures several loads in turn, each in rounds parts of
// window/rounds (maxOps/rounds), in the order A B … B A A B …, so that a
// drift in the machine's background load touches them alike; their ratio
// is then fairer than one from two loads measured one after the other.
// Each part has its own warm-up: the load's in the first round, at most
// laterWarmup in the others (the service is warm by then; every client
// still finishes one operation before the window opens).
func runRounds(ctx context.Context, rounds int, specs ...loadSpec) ([]loadResult, error) {
	results := make([]loadResult, len(specs))
	for round := range rounds {
		for k := range specs {
			i := k
			if round%2 == 1 {
				i = len(specs) - 1 - k
			}
			part := specs[i]
			part.window = max(specs[i].window/time.Duration(rounds), time.Millisecond)
			part.maxOps = max(specs[i].maxOps/int64(rounds), 1)
			if round > 0 {
				part.warmup = min(part.warmup, laterWarmup)
			}
			res, err := runLoad(ctx, part)
			if err != nil {
				return nil, err
			}
			results[i].add(res)
		}
	}
	return results, nil
}

// laterWarmup bounds the warm-up of a load's parts after its first.
const laterWarmup = 500 * time.Millisecond

// warmupFor is the warm-up that precedes a window: a tenth of it, between
// 250 ms and 2 s.
func warmupFor(window time.Duration) time.Duration {
	return min(max(window/10, 250*time.Millisecond), 2*time.Second)
}

// median returns the median of ds (which it sorts), or 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}
