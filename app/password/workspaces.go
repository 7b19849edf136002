package password

import (
	"sync"

	"github.com/gatehouse-id/gatehouse/app/password/argon2id"
)

// workspaces keeps Argon2id working memory between derivations, so that a
// busy server hashes in memory it already holds instead of having the Go
// runtime return tens of MiB to the kernel after one login and fault them
// back in, page by page, for the next (see package argon2id).
//
// It keeps at most one Memory per pool worker (at most that many
// derivations run at once), each no larger than the hasher's own memory
// cost: so hashing holds at most workers × Params.MemoryKiB, the bound the
// Pool already gives, and keeps it once a burst has used it. A stored hash
// with a larger memory cost than today's (parameters were lowered since)
// derives in memory of its own that is not kept.
type workspaces struct {
	mu     sync.Mutex
	free   []*argon2id.Memory
	keep   int    // most Memories kept
	maxKiB uint32 // largest memory cost derived in kept memory
}

// newWorkspaces keeps up to keep Memories of up to maxKiB each.
func newWorkspaces(keep int, maxKiB uint32) *workspaces {
	return &workspaces{keep: max(keep, 1), maxKiB: maxKiB}
}

// derive computes the Argon2id tag of input under salt and p.
func (w *workspaces) derive(input, salt []byte, p Params, tagBytes uint32) []byte {
	if p.MemoryKiB > w.maxKiB {
		return argon2id.Key(input, salt, p.Iterations, p.MemoryKiB, p.Parallelism, tagBytes)
	}
	m := w.take()
	defer w.give(m)
	return m.Key(input, salt, p.Iterations, p.MemoryKiB, p.Parallelism, tagBytes)
}

// take returns a kept Memory, the most recently used first (its pages are
// the likeliest to be in the caches), or a new one.
func (w *workspaces) take() *argon2id.Memory {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.free); n > 0 {
		m := w.free[n-1]
		w.free = w.free[:n-1]
		return m
	}
	return new(argon2id.Memory)
}

// give puts m back, or frees it when enough are kept already.
func (w *workspaces) give(m *argon2id.Memory) {
	w.mu.Lock()
	if len(w.free) < w.keep {
		w.free = append(w.free, m)
		m = nil
	}
	w.mu.Unlock()
	if m != nil {
		m.Free()
	}
}

// kept reports how many Memories are kept and their total size in KiB (for
// tests).
func (w *workspaces) kept() (n int, kib uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.free {
		kib += uint64(m.KiB())
	}
	return len(w.free), kib
}
