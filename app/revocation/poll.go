package revocation

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// sweepEvery is how often expired rows are deleted from the table.
const sweepEvery = time.Minute

// Run polls the GLOBAL table until ctx ends, keeping this region's Redis
// complete, and deletes expired rows once a minute.
func (p *Propagator) Run(ctx context.Context) {
	tick := time.NewTicker(p.cfg.Poll)
	defer tick.Stop()
	nextSweep := p.cfg.Now().Add(sweepEvery)
	for {
		if err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.log.DebugContext(ctx, "revocation poll failed; checks fall back to the database meanwhile", "error", err)
		}
		if now := p.cfg.Now(); now.After(nextSweep) {
			nextSweep = now.Add(sweepEvery)
			if n, err := p.cfg.Log.DeleteExpiredRevocations(ctx, now, 10_000); err != nil && ctx.Err() == nil {
				p.log.WarnContext(ctx, "revocation table sweep failed", "error", err)
			} else if n > 0 {
				p.log.DebugContext(ctx, "revocation table swept", "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Tick does one poll: a complete load when this region's Redis is not
// primed (it restarted or was flushed), else the rows since the last poll.
//
// Only the holder of the region's poller lease polls: the other processes
// of the region return at once, and the one that takes the lease over
// starts with a complete pass over the table.
func (p *Propagator) Tick(ctx context.Context) error {
	leader, err := p.cfg.Local.Lead(ctx, p.id, p.leaseTTL())
	if err != nil {
		return err
	}
	if !leader {
		p.cursor = time.Time{}
		clear(p.seen)
		return nil
	}
	primed, err := p.cfg.Local.Primed(ctx)
	if err != nil {
		return err
	}
	if !primed {
		return p.prime(ctx)
	}
	return p.catchUp(ctx)
}

// prime loads every unexpired revocation into this region's Redis and then
// sets the primed flag, unless Redis lost its data during the load.
func (p *Propagator) prime(ctx context.Context) error {
	now := p.cfg.Now()
	token := uuid.NewString()
	// What this process marked before says nothing about this Redis now.
	clear(p.seen)
	if err := p.cfg.Local.BeginPriming(ctx, token); err != nil {
		return err
	}
	n, err := p.load(ctx, now.Add(-p.cfg.Lifetime), now, false)
	if err != nil {
		return err
	}
	p.cursor = later(p.cursor, now)
	ok, err := p.cfg.Local.FinishPriming(ctx, token)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("revocation: Redis lost its data while it was being primed; trying again")
	}
	p.log.InfoContext(ctx, "revocation marks loaded into this region's Redis", "sessions", n, "took", p.cfg.Now().Sub(now))
	return nil
}

// catchUp marks the rows revoked since shortly before the newest row seen.
func (p *Propagator) catchUp(ctx context.Context) error {
	now := p.cfg.Now()
	warm := !p.cursor.IsZero()
	since := now.Add(-p.cfg.Lifetime)
	if warm {
		since = p.cursor.Add(-p.cfg.Overlap)
	}
	_, err := p.load(ctx, since, now, warm)
	if err == nil {
		// The next poll reaches Overlap before this one: rows committed
		// late, or stamped by a server whose clock lags, are still found.
		p.cursor = later(p.cursor, now)
	}
	for id, forget := range p.seen {
		if now.After(forget) {
			delete(p.seen, id)
		}
	}
	return err
}

// load marks, page by page, the unexpired rows revoked after since. When
// observe is set, a row that this poll made visible (the fan-out had not)
// is recorded in the propagation histogram.
func (p *Propagator) load(ctx context.Context, since, now time.Time, observe bool) (int, error) {
	total := 0
	for {
		revs, err := p.cfg.Log.RevocationsSince(ctx, since, now, pageSize)
		if err != nil {
			return total, err
		}
		var todo []Revocation
		for _, r := range revs {
			if _, ok := p.seen[r.SessionID]; !ok {
				todo = append(todo, r)
			}
		}
		if len(todo) > 0 {
			fresh, err := p.cfg.Local.AddMissing(ctx, todo, now)
			if err != nil {
				return total, err
			}
			for i, r := range todo {
				// Remembered while a later poll may still read the row.
				p.seen[r.SessionID] = r.RevokedAt.Add(2*p.cfg.Overlap + p.cfg.Poll)
				if observe && fresh[i] && p.cfg.Observer != nil {
					p.cfg.Observer.RevocationPropagated(max(p.cfg.Now().Sub(r.RevokedAt), 0))
				}
			}
		}
		total += len(todo)
		for _, r := range revs {
			if r.RevokedAt.After(p.cursor) {
				p.cursor = r.RevokedAt
			}
		}
		if len(revs) < pageSize {
			return total, nil
		}
		last := revs[len(revs)-1].RevokedAt
		if !last.After(since) {
			// A whole page shares one revocation time: step past it (its
			// rows are marked; the next ones come on the next page).
			last = last.Add(time.Microsecond)
		}
		since = last
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// leaseTTL is how long the poller lease lasts without renewal: a few
// polls, so a poller that dies is replaced within a second or two.
func (p *Propagator) leaseTTL() time.Duration { return max(4*p.cfg.Poll, time.Second) }
