package main

import (
	"log/slog"
	"runtime/debug"
	"strconv"
)

// defaultGCPercent is the GOGC that `gatehouse serve` runs with when the
// environment sets none.
//
// Every Argon2id derivation allocates m KiB (64 MiB by default). With the
// runtime's GOGC=100 the heap goal is twice the live heap, and the live heap
// swings with the number of derivations in flight at each collection: the
// runtime hands the memory of finished derivations back to the kernel, and
// the next derivation faults it in again page by page. On the 2-core VMs the
// benchmarks run on a page fault costs about 8 µs (a loop that hands its
// memory back after every hash ran 3.4 times slower), and a server under
// login load faulted 1,000-30,000 pages a second and computed each hash
// about 8 % slower than the same loop with no server around it. With
// GOGC=400 the goal is five times the live heap and stays above the
// derivations in flight.
//
// Runs of `bench -phases hashing` (login_vs_argon2_ratio): 0.899, 0.904,
// 0.918, 0.907, 0.930 with GOGC=100; 1.009, 0.933, 0.942, 0.958, 0.943
// with GOGC=400.
//
// It is not for short runs: a process that hashes for a few seconds grows
// its heap into fresh memory up to the larger goal, faulting all of it in.
// `users protect-legacy` over 60 credentials wrapped 10.3/s with GOGC=400
// against 13.0/s with GOGC=100, so it keeps the runtime's default.
//
// A larger goal also lets a burst grow the heap further: the peak resident
// size in TestConcurrentLoginsStayUnder1GiB (200 logins at once, m=64 MiB,
// 2 cores) went from 427 to 743 MiB. A soft memory limit bounds how far a
// heavier burst can take it: memoryLimit, unless GOMEMLIMIT is set.
const defaultGCPercent = 400

// memoryLimit is the soft limit of the Go heap that `gatehouse serve` sets
// when the environment has no GOMEMLIMIT: room for four rounds of the
// hashing pool's derivations (workers × m each) and 256 MiB for the rest.
// Below it the collector paces itself by GOGC alone.
func memoryLimit(workers int, memoryKiB uint32) int64 {
	return 256<<20 + 4*int64(workers)*int64(memoryKiB)<<10
}

// tuneMemory applies defaultGCPercent and memoryLimit unless the operator
// set GOGC or GOMEMLIMIT (the runtime has applied those itself).
func tuneMemory(getenv env, workers int, memoryKiB uint32, logger *slog.Logger) {
	gc, limit := "from GOGC", "from GOMEMLIMIT"
	if _, set := getenv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
		gc = strconv.Itoa(defaultGCPercent)
	}
	if _, set := getenv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit(workers, memoryKiB))
		limit = strconv.FormatInt(memoryLimit(workers, memoryKiB)>>20, 10) + " MiB"
	}
	logger.Info("garbage collector", "gc_percent", gc, "memory_limit", limit)
}
