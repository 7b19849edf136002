package main

// The stuffing phase's traffic: legitimate users and the attack, their
// client, and the tally of what each got.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// legitUser is one legitimate user: an account, its usual address and the
// device token its first login earned.
type legitUser struct {
	cred   credentials
	ip     string
	device string
}

// leakedPair is one line of the attacker's list.
type leakedPair struct {
	email, password string
	valid           bool
}

// loginBody is POST /v1/login's request.
type loginBody struct {
	Email             string            `json:"email"`
	Password          string            `json:"password"`
	DeviceToken       string            `json:"device_token,omitempty"`
	ChallengeSolution *defense.Solution `json:"challenge_solution,omitempty"`
}

// loginAnswer is what a login answer is read into.
type loginAnswer struct {
	status      int
	code        string
	deviceToken string
	challenge   *defense.Challenge
}

// stuffingClient posts logins with an X-Forwarded-For of the caller's
// choice.
type stuffingClient struct {
	base string
	http *http.Client
}

func newStuffingClient(base string, conns int) *stuffingClient {
	return &stuffingClient{base: base, http: &http.Client{Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}}}
}

func (c *stuffingClient) close() { c.http.CloseIdleConnections() }

// post sends body as JSON to path from client address xff.
func (c *stuffingClient) post(ctx context.Context, path, xff string, body any) (loginAnswer, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return loginAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return loginAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-bench-stuffing")
	req.Header.Set("X-Forwarded-For", xff)
	resp, err := c.http.Do(req)
	if err != nil {
		return loginAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return loginAnswer{}, err
	}
	var parsed struct {
		Error       string             `json:"error"`
		DeviceToken string             `json:"device_token"`
		Challenge   *defense.Challenge `json:"challenge"`
	}
	_ = json.Unmarshal(raw, &parsed)
	return loginAnswer{status: resp.StatusCode, code: parsed.Error, deviceToken: parsed.DeviceToken, challenge: parsed.Challenge}, nil
}

// reachedHash reports whether an answer implies that the password was
// checked (a token, or invalid_credentials, which also answers an unknown
// email after a dummy hash).
func (a loginAnswer) reachedHash() bool {
	return a.status == http.StatusOK || a.status == http.StatusUnauthorized
}

func (a loginAnswer) kind() string {
	if a.code != "" {
		return strconv.Itoa(a.status) + " " + a.code
	}
	return strconv.Itoa(a.status)
}

// legitOutcome is one legitimate login: its latency to the final answer.
type legitOutcome struct {
	ok      bool
	latency time.Duration
	hashes  int
	kind    string
	solved  int
	at      time.Duration // start, from the window's start
}

// legitLogin logs u in, solving up to two challenges.
func (c *stuffingClient) legitLogin(ctx context.Context, u *legitUser, mu *sync.Mutex) legitOutcome {
	start := time.Now()
	mu.Lock()
	body := loginBody{Email: u.cred.Email, Password: u.cred.Password, DeviceToken: u.device}
	mu.Unlock()
	out := legitOutcome{}
	for round := 0; ; round++ {
		a, err := c.post(ctx, "/v1/login", u.ip, body)
		if err != nil {
			out.kind = "transport error"
			break
		}
		if a.reachedHash() {
			out.hashes++
		}
		if a.status == http.StatusOK {
			out.ok, out.kind = true, "200"
			if a.deviceToken != "" {
				mu.Lock()
				u.device = a.deviceToken
				mu.Unlock()
			}
			break
		}
		out.kind = a.kind()
		if a.status != http.StatusForbidden || a.code != "challenge_required" || a.challenge == nil || round >= 2 {
			break
		}
		sol, err := defense.SolveChallenge(ctx, a.challenge)
		if err != nil {
			out.kind = "solve: " + err.Error()
			break
		}
		out.solved++
		body.ChallengeSolution = &sol
	}
	out.latency = time.Since(start)
	return out
}

// arrivals runs fn(i) for i = 0, 1, … n-1 at rate per second from now (an
// open model: arrivals do not wait for earlier answers), at most inflight
// at a time; an arrival finding every slot taken is dropped. It returns
// how many ran and how many were dropped, and how long the arrivals took
// (to the last one), once all that ran have returned.
// It stops early when ctx ends or n/rate + 5 s have passed.
func arrivals(ctx context.Context, rate float64, n, inflight int, fn func(i int)) (ran, dropped int, took time.Duration) {
	start := time.Now()
	deadline := start.Add(time.Duration(float64(n)/rate*float64(time.Second)) + 5*time.Second)
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	for i := 0; i < n && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(at); d > time.Millisecond {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case sem <- struct{}{}:
			ran++
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				fn(i)
			}()
		default:
			dropped++
		}
	}
	took = time.Since(start)
	wg.Wait()
	return ran, dropped, took
}

// legitRun is the legitimate workload of one window.
type legitRun struct {
	outcomes []legitOutcome
	dropped  int
	window   time.Duration
}

// runLegit logs users in round robin at rate for window.
func runLegit(ctx context.Context, c *stuffingClient, users []*legitUser, mu *sync.Mutex, rate float64, window time.Duration) legitRun {
	n := max(int(rate*window.Seconds()), 5) // at least a few samples, even with -quick
	outcomes := make([]legitOutcome, n)
	done := make([]bool, n)
	began := time.Now()
	// Enough slots for every arrival of 35 s (longer than a request may take), so none is
	// dropped; a drop would count as a failure.
	inflight := max(4*len(users), int(math.Ceil(rate*(requestTimeout+5*time.Second).Seconds())))
	_, dropped, _ := arrivals(ctx, rate, n, inflight, func(i int) {
		at := time.Since(began)
		outcomes[i] = c.legitLogin(ctx, users[i%len(users)], mu)
		outcomes[i].at = at
		done[i] = true
	})
	run := legitRun{dropped: dropped, window: time.Since(began)}
	for i, o := range outcomes {
		if done[i] {
			run.outcomes = append(run.outcomes, o)
		}
	}
	return run
}

// failedLoginLatency is what a failed legit login counts as in the p95:
// as slow as the harness's request timeout, so failures can only raise it.
const failedLoginLatency = requestTimeout

// with is r and o together, as one run.
func (r legitRun) with(o legitRun) legitRun {
	return legitRun{outcomes: append(slices.Clone(r.outcomes), o.outcomes...), dropped: r.dropped + o.dropped, window: r.window + o.window}
}

func (r legitRun) successes() (ok, hashes, solved int) {
	for _, o := range r.outcomes {
		if o.ok {
			ok++
		}
		hashes += o.hashes
		solved += o.solved
	}
	return
}

func (r legitRun) p95() time.Duration {
	ds := make([]time.Duration, len(r.outcomes))
	for i, o := range r.outcomes {
		ds[i] = o.latency
		if !o.ok {
			ds[i] = failedLoginLatency
		}
	}
	return percentile(ds, 0.95)
}

// p95BySlice is the p95 of the logins started in each slice of the run,
// e.g. "+0s: 52ms (24), +5s: 40ms (25)": where in an attack legit users
// waited (its first seconds, before the defense has learnt it, or later).
func (r legitRun) p95BySlice(slice time.Duration) string {
	var parts []string
	for from := time.Duration(0); from < r.window; from += slice {
		var in legitRun
		for _, o := range r.outcomes {
			if o.at >= from && o.at < from+slice {
				in.outcomes = append(in.outcomes, o)
			}
		}
		if len(in.outcomes) > 0 {
			parts = append(parts, fmt.Sprintf("+%s: %s (%d)", from, roundDuration(in.p95()), len(in.outcomes)))
		}
	}
	return strings.Join(parts, ", ")
}

func (r legitRun) failures() map[string]int {
	m := map[string]int{}
	first, last := time.Duration(-1), time.Duration(0)
	for _, o := range r.outcomes {
		if !o.ok {
			m[o.kind]++
			if first < 0 {
				first = o.at
			}
			first, last = min(first, o.at), max(last, o.at)
		}
	}
	if first >= 0 {
		m[fmt.Sprintf("(started between +%.1fs and +%.1fs)", first.Seconds(), last.Seconds())] = 0
	}
	return m
}

// percentile is the nearest-rank q-quantile of ds (which it sorts).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	k := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(k, 0), len(ds)-1)]
}

// attackTally counts the attack's answers.
type attackTally struct {
	mu        sync.Mutex
	requests  int            // HTTP requests, solved retries included
	answers   map[string]int // by status and error code
	reached   int            // answers implying a hash (200, 401)
	takeovers int            // 200 answers: valid pairs that got a token
	validSent int            // attempts with a valid pair
	solved    int
	errors    int
	latency   []time.Duration
}

func (t *attackTally) record(a loginAnswer, err error, d time.Duration, valid, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests++
	if first && valid {
		t.validSent++
	}
	t.latency = append(t.latency, d)
	if err != nil {
		t.errors++
		t.answers["transport error"]++
		return
	}
	t.answers[a.kind()]++
	if a.reachedHash() {
		t.reached++
	}
	if a.status == http.StatusOK {
		t.takeovers++
	}
}

// stuffingResult is everything the phase measured.
type stuffingResult struct {
	legitUsers, withDevice int
	baseline, during       legitRun
	// baselineBefore and baselineAfter are the legit-only windows on
	// either side of the attack; baseline is both together.
	baselineBefore, baselineAfter legitRun
	attempts, dropped             int
	attackWindow                  time.Duration
	attack                        *attackTally
	hashDelta                     float64
	before, after                 promSample
	distinctAddrs, subnets        int
	v6Addrs                       int
	fromShared                    int // attack attempts from the shared address (shared-address phase)
}
