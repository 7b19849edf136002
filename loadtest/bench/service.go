package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// sessionPool collects the token pairs of successful logins, up to a cap.
type sessionPool struct {
	mu    sync.Mutex
	cap   int
	pairs []tokenPair
}

func newSessionPool(capacity int) *sessionPool { return &sessionPool{cap: capacity} }

// add keeps tp if the pool is not full.
func (p *sessionPool) add(tp tokenPair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pairs) < p.cap {
		p.pairs = append(p.pairs, tp)
	}
}

// len is the number of sessions kept.
func (p *sessionPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// take returns the sessions kept and empties the pool.
func (p *sessionPool) take() []tokenPair {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pairs
	p.pairs = nil
	return out
}

// newUserCredentials makes n distinct accounts for this run: random,
// uncommon passwords and addresses tagged with runID.
func newUserCredentials(runID string, n int) []credentials {
	users := make([]credentials, n)
	for i := range users {
		users[i] = credentials{
			Email:    fmt.Sprintf("bench-%s-%d@example.com", runID, i),
			Password: "Bench-" + randomHex(12),
		}
	}
	return users
}

// signUpAll creates every account, concurrency at a time, within 5
// minutes; each sign-up costs one Argon2id hash. It fails on the first
// error.
func signUpAll(ctx context.Context, client *apiClient, users []credentials, concurrency int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var next atomic.Int64
	errc := make(chan error, concurrency)
	for range concurrency {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(users) || ctx.Err() != nil {
					errc <- ctx.Err()
					return
				}
				err := client.signUp(ctx, users[i])
				// Sign-ups pass the admission lane and the limits before
				// their hash: when this setup outruns them, wait and retry.
				for try := 0; err != nil && retryLater(err) && try < 50 && ctx.Err() == nil; try++ {
					time.Sleep(100 * time.Millisecond)
					err = client.signUp(ctx, users[i])
				}
				if err != nil {
					errc <- fmt.Errorf("sign up %s: %w", users[i].Email, err)
					return
				}
			}
		}()
	}
	var first error
	for range concurrency {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// loginLoad runs successful password logins, round robin over users, from
// clients concurrent clients; each success is a new session, kept in
// sessions.
func loginLoad(client *apiClient, users []credentials, clients int, window time.Duration, maxOps int64, sessions *sessionPool) loadSpec {
	var next atomic.Int64
	return loadSpec{
		name: "login", workers: clients, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(ctx context.Context, _ int) error {
			u := users[int(next.Add(1)%int64(len(users)))]
			tp, err := client.login(ctx, u)
			if err == nil {
				sessions.add(tp)
			}
			return err
		},
	}
}

// topUpSessions logs in (concurrency at a time, round robin over users)
// until sessions holds need sessions, giving up after need attempts more
// than that or 5 minutes.
func topUpSessions(ctx context.Context, client *apiClient, users []credentials, concurrency, need int, sessions *sessionPool) error {
	missing := need - sessions.len()
	if missing <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var attempts atomic.Int64
	var mu sync.Mutex
	var lastErr error
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && sessions.len() < need {
				n := attempts.Add(1)
				if n > int64(2*missing) {
					return
				}
				tp, err := client.login(ctx, users[int(n)%len(users)])
				if err != nil {
					mu.Lock()
					lastErr = err
					mu.Unlock()
					continue
				}
				sessions.add(tp)
			}
		}()
	}
	wg.Wait()
	if have := sessions.len(); have < need {
		return fmt.Errorf("log in %d sessions: have %d (last error: %v)", need, have, lastErr)
	}
	return nil
}

// timingResult compares rejected logins for unknown and known emails.
type timingResult struct {
	unknownMedian, knownMedian time.Duration
	samples                    int // per kind
}

// ratio is the unknown-email median over the known-email median.
func (t timingResult) ratio() float64 { return t.unknownMedian.Seconds() / t.knownMedian.Seconds() }

// measureEnumerationTiming alternates, from one client, logins with an
// unknown email and logins with a known email and a wrong password (both
// answered 401), until window has passed (and at least 5 pairs were sent)
// or maxPairs pairs were sent, and
// returns the median latency of each. Two pairs are sent first as warm-up.
// The order within a pair alternates so that neither kind always follows
// the other.
func measureEnumerationTiming(ctx context.Context, client *apiClient, runID string, users []credentials, window time.Duration, maxPairs int) (timingResult, error) {
	const warmupPairs = 2
	minPairs := min(5, maxPairs) // even when window has passed
	var unknown, known []time.Duration
	timed := func(cred credentials) (time.Duration, error) {
		began := time.Now()
		err := client.loginRejected(ctx, cred)
		return time.Since(began), err
	}
	deadline := time.Now().Add(window)
	for i := 0; i < maxPairs+warmupPairs; i++ {
		if i == warmupPairs {
			deadline = time.Now().Add(window)
		}
		if i >= warmupPairs+minPairs && time.Now().After(deadline) {
			break
		}
		unknownCred := credentials{Email: fmt.Sprintf("nobody-%s-%d@example.com", runID, i), Password: "Wrong-" + randomHex(12)}
		knownCred := credentials{Email: users[i%len(users)].Email, Password: "Wrong-" + randomHex(12)}
		var du, dk time.Duration
		var err error
		if i%2 == 0 {
			if du, err = timed(unknownCred); err == nil {
				dk, err = timed(knownCred)
			}
		} else {
			if dk, err = timed(knownCred); err == nil {
				du, err = timed(unknownCred)
			}
		}
		if err != nil {
			return timingResult{}, fmt.Errorf("rejected login: %w", err)
		}
		if i >= warmupPairs {
			unknown = append(unknown, du)
			known = append(known, dk)
		}
	}
	res := timingResult{samples: len(unknown), unknownMedian: median(unknown), knownMedian: median(known)}
	if res.samples == 0 || res.knownMedian <= 0 {
		return res, fmt.Errorf("rejected login: no samples")
	}
	return res, nil
}

// refreshWorker is one refresh client: the sessions it owns, each with its
// current token pair, redeemed round robin.
type refreshWorker struct {
	live []tokenPair
	next int
}

// measureRefresh rotates refresh tokens from clients concurrent clients,
// the sessions dealt out among them; each client redeems one of its
// sessions' current refresh token and keeps the new one. A session whose
// rotation fails is dropped (its chain is broken). It returns the pairs of
// the sessions still alive at the end.
func measureRefresh(ctx context.Context, client *apiClient, pairs []tokenPair, clients int, window time.Duration, maxOps int64) (loadResult, []tokenPair, error) {
	clients = min(clients, len(pairs))
	conns, err := client.rawConns(clients)
	if err != nil {
		return loadResult{}, pairs, err
	}
	defer closeRawConns(conns)
	workers := make([]refreshWorker, clients)
	for i, tp := range pairs {
		workers[i%clients].live = append(workers[i%clients].live, tp)
	}
	res, err := runLoad(ctx, loadSpec{
		name: "refresh", workers: clients, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(ctx context.Context, w int) error {
			rw := &workers[w]
			if len(rw.live) == 0 {
				return errStopWorker
			}
			i := rw.next % len(rw.live)
			tp, err := client.refresh(ctx, conns[w], rw.live[i].RefreshToken)
			if err != nil {
				rw.live = append(rw.live[:i], rw.live[i+1:]...)
				return err
			}
			rw.live[i] = tp
			rw.next = i + 1
			return nil
		},
	})
	var alive []tokenPair
	for _, rw := range workers {
		alive = append(alive, rw.live...)
	}
	return res, alive, err
}

// measureIntrospect introspects the access tokens from clients concurrent
// clients, each starting at its own offset in the list.
func measureIntrospect(ctx context.Context, client *apiClient, accessTokens []string, clients int, window time.Duration, maxOps int64) (loadResult, error) {
	conns, err := client.rawConns(clients)
	if err != nil {
		return loadResult{}, err
	}
	defer closeRawConns(conns)
	next := make([]int, clients)
	for w := range next {
		next[w] = w
	}
	return runLoad(ctx, loadSpec{
		name: "introspect", workers: clients, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(ctx context.Context, w int) error {
			tok := accessTokens[next[w]%len(accessTokens)]
			next[w]++
			return client.introspect(ctx, conns[w], tok)
		},
	})
}

// retryLater reports an error that is an answer asking to come back later
// (429, 503).
func retryLater(err error) bool {
	var he *httpError
	return errors.As(err, &he) && busy(he.status)
}
