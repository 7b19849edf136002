package password

import (
	"runtime"
	"sync"
)

// ordinaryNice is the niceness of the threads that hash for ordinary
// callers (0 normal, 19 lowest).
const ordinaryNice = 10

// ordinaryThreads run the hashes of ordinary callers (unknown devices),
// while priority callers are about, on OS threads of their own whose
// scheduling priority is lowered once, at start (Linux; elsewhere they
// keep the normal priority). When the CPUs
// are free this costs nothing: the kernel runs a niced thread at full
// speed. When they are not — the first seconds of a stuffing burst, before
// the defense has learnt it and while every one of its attempts still
// costs a hash — the kernel gives the CPU to everything else first: the
// trusted devices' hashes, the requests being answered, the database and
// Redis. A thread's priority cannot be raised back without privileges, so
// these threads never run anything else: each is a goroutine locked to its
// thread for the pool's life.
type ordinaryThreads struct {
	once sync.Once
	jobs chan func()
}

// run runs fn on one of the threads (started on first use, n of them) and
// waits for it; a panic in fn is raised again in the caller.
func (t *ordinaryThreads) run(n int, fn func()) {
	t.once.Do(func() {
		t.jobs = make(chan func())
		for range n {
			go t.serve()
		}
	})
	done := make(chan any, 1)
	t.jobs <- func() {
		defer func() { done <- recover() }()
		fn()
	}
	if v := <-done; v != nil {
		panic(v)
	}
}

// serve is one thread's loop. It never unlocks its thread: a thread whose
// priority was lowered must not go back to the scheduler's pool.
func (t *ordinaryThreads) serve() {
	runtime.LockOSThread()
	lowerThreadPriority(ordinaryNice)
	for job := range t.jobs {
		job()
	}
}
