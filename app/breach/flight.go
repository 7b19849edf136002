package breach

import (
	"context"
	"fmt"
	"sync"
)

// flight makes concurrent loads of one key share a single call. The call
// runs detached from any one caller's cancellation (fn must bound its own
// time), so a caller that gives up does not fail the others.
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

// call is one load in progress.
type call struct {
	done    chan struct{}
	val     rangeSet
	err     error
	waiters int // callers beyond the first, for tests
}

// do returns fn's result for key, starting fn only if no call for key is
// in progress. fn gets ctx without its cancellation.
func (g *flight) do(ctx context.Context, key string, fn func(context.Context) (rangeSet, error)) (rangeSet, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*call)
	}
	c, ok := g.calls[key]
	if ok {
		c.waiters++
	} else {
		c = &call{done: make(chan struct{})}
		g.calls[key] = c
		detached := context.WithoutCancel(ctx)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					c.val, c.err = nil, fmt.Errorf("breach: load panicked: %v", p)
				}
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
				close(c.done)
			}()
			c.val, c.err = fn(detached)
		}()
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("breach: waiting for range: %w", ctx.Err())
	}
}

// waiting reports how many callers beyond the first wait on key.
func (g *flight) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return -1
}
