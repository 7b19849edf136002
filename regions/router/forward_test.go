package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const oneWay = 30 * time.Millisecond

func TestForwardOnceSignedAboutOneRoundTrip(t *testing.T) {
	w := newWorld(t, oneWay, nil)

	// Baseline: the same request straight to B, no proxy, no forwarding.
	direct := func() time.Duration {
		start := time.Now()
		resp, err := http.Post(w.b.srv.URL+"/v1/login", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return time.Since(start)
	}
	direct()
	base := direct()
	before := len(w.b.seen())

	const body = `{"email":"ada@example.com","password":"correct horse"}`
	var elapsed []time.Duration
	for i := range 3 {
		rec, handled, err, d := w.forward(t, http.MethodPost, "/v1/login?lang=en", regionB, body)
		if !handled || err != nil {
			t.Fatalf("forward %d: handled=%v err=%v", i, handled, err)
		}
		elapsed = append(elapsed, d)
		if d < 2*oneWay {
			t.Errorf("forward %d took %v, less than one round trip (%v)", i, d, 2*oneWay)
		}
		if got := rec.Header().Get(HeaderRegion); got != regionB {
			t.Errorf("Gatehouse-Region = %q, want %q (as the home region sent it)", got, regionB)
		}
		if got := rec.Header().Get(HeaderEntryRegion); got != regionA {
			t.Errorf("Gatehouse-Entry-Region = %q, want %q", got, regionA)
		}
		if rec.Code != http.StatusOK || rec.Header().Get("Set-Cookie") != "home=1" {
			t.Errorf("status %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
		}
		if !strings.Contains(rec.Body.String(), `"client":"203.0.113.7"`) {
			t.Errorf("body %s", rec.Body)
		}
	}
	hits := w.b.seen()[before:]
	if len(hits) != 3 {
		t.Fatalf("home region saw %d requests, want 3 (each exactly once)", len(hits))
	}
	for _, h := range hits {
		if h.err != nil {
			t.Fatalf("home region refused the forwarding header: %v", h.err)
		}
		if h.fw.EntryRegion != regionA || h.fw.ClientAddr != "203.0.113.7" || h.fw.KeyID != "k2" {
			t.Errorf("home region saw %+v", h.fw)
		}
		if h.body != body {
			t.Errorf("home region got body %q", h.body)
		}
	}
	if n := w.obs.count(regionB, ResultOK); n != 3 {
		t.Errorf("observer ok = %d, want 3", n)
	}
	t.Logf("one-way delay %v (RTT %v); direct request %v; forwarded %v; extra latency over direct: %v, %v, %v",
		oneWay, 2*oneWay, base, elapsed, elapsed[0]-base, elapsed[1]-base, elapsed[2]-base)
}

// Through a real entry server: what the client sees, with spoofed headers.
func TestForwardEndToEndHeaders(t *testing.T) {
	w := newWorld(t, oneWay, nil)
	entry := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set(HeaderRegion, regionA)
		rw.Header().Set("X-Request-Id", "req-123")
		body, _ := io.ReadAll(http.MaxBytesReader(rw, r.Body, 64<<10))
		if handled, err := w.fwd.Forward(rw, r, regionB, "192.0.2.44", body); handled {
			return
		} else {
			t.Errorf("not handled: %v", err)
		}
		rw.WriteHeader(http.StatusTeapot)
	}))
	defer entry.Close()

	req, _ := http.NewRequest(http.MethodPost, entry.URL+"/v1/login", strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set(HeaderEntryRegion, "mars-north1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(HeaderRegion) != regionB || resp.Header.Get(HeaderEntryRegion) != regionA {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(string(got), `"client":"192.0.2.44"`) {
		t.Errorf("body %s", got)
	}
	hits := w.b.seen()
	if len(hits) != 1 {
		t.Fatalf("home saw %d requests", len(hits))
	}
	h := hits[0].header
	if h.Get("X-Forwarded-For") != "" || h.Get(HeaderEntryRegion) != "" {
		t.Errorf("client claims reached the home region: %v", h)
	}
	if h.Get("X-Request-Id") != "req-123" {
		t.Errorf("request id not carried: %q", h.Get("X-Request-Id"))
	}
}

func TestHomeRegion503PassedThrough(t *testing.T) {
	w := newWorld(t, 0, nil)
	for range 5 { // more than BreakerFailures: a 503 is an answer, not a failure
		rec, handled, err, _ := w.forward(t, http.MethodPost, "/overloaded", regionB, `{}`)
		if !handled || err != nil {
			t.Fatalf("handled=%v err=%v", handled, err)
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			!strings.Contains(rec.Body.String(), "overloaded") || rec.Header().Get(HeaderRegion) != regionB {
			t.Fatalf("got %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	}
	if s := w.fwd.BreakerState(regionB); s != BreakerClosed {
		t.Errorf("breaker %s after 503s", s)
	}
	if w.obs.count(regionB, ResultOK) != 5 || w.obs.count(regionB, ResultFailover) != 0 {
		t.Errorf("observer %v", w.obs.n)
	}
}

func TestCutRegionFailsOverThenResumes(t *testing.T) {
	const timeout = 500 * time.Millisecond
	w := newWorld(t, oneWay, func(c *ForwarderConfig) { c.Timeout = timeout })
	if _, handled, err, _ := w.forward(t, http.MethodPost, "/v1/login", regionB, `{}`); !handled {
		t.Fatalf("warm-up: %v", err)
	}
	hitsBefore := len(w.b.seen())

	w.proxy.Cut()
	mustFailover := func(want string) *FailoverError {
		t.Helper()
		rec, handled, err, d := w.forward(t, http.MethodPost, "/v1/login", regionB, `{}`)
		var fe *FailoverError
		if handled || !errors.As(err, &fe) || !errors.Is(err, ErrFailover) {
			t.Fatalf("handled=%v err=%v, want a failover", handled, err)
		}
		if want != "" && fe.Reason != want {
			t.Errorf("reason %q, want %q", fe.Reason, want)
		}
		if d >= timeout {
			t.Errorf("failover took %v, not within the timeout %v", d, timeout)
		}
		if rec.Body.Len() != 0 || rec.Header().Get(HeaderEntryRegion) != "" {
			t.Errorf("failover wrote to the response: %v %q", rec.Header(), rec.Body)
		}
		t.Logf("failover (%s) after %v: %v", fe.Reason, d, err)
		return fe
	}
	for range 3 { // BreakerFailures
		if fe := mustFailover(""); fe.Reason == ReasonBreakerOpen {
			t.Fatal("breaker opened too early")
		}
	}
	if s := w.fwd.BreakerState(regionB); s != BreakerOpen {
		t.Fatalf("breaker %s after 3 failures, want open", s)
	}
	mustFailover(ReasonBreakerOpen)

	// Cool-down over, region still dead: the probe fails, open again.
	w.clock.add(10 * time.Second)
	if fe := mustFailover(""); fe.Reason == ReasonBreakerOpen {
		t.Fatal("no probe after the cool-down")
	}
	if s := w.fwd.BreakerState(regionB); s != BreakerOpen {
		t.Fatalf("breaker %s after a failed probe", s)
	}

	// The region comes back; until the cool-down ends requests still fail over.
	w.proxy.Restore()
	mustFailover(ReasonBreakerOpen)
	w.clock.add(10 * time.Second)
	if _, handled, err, _ := w.forward(t, http.MethodPost, "/v1/login", regionB, `{}`); !handled || err != nil {
		t.Fatalf("after restore: handled=%v err=%v", handled, err)
	}
	if s := w.fwd.BreakerState(regionB); s != BreakerClosed {
		t.Fatalf("breaker %s after a good probe", s)
	}
	if n := len(w.b.seen()) - hitsBefore; n != 1 {
		t.Errorf("home region saw %d requests while cut or open, want only the probe", n)
	}
	if got := w.obs.count(regionB, ResultFailover); got != 6 {
		t.Errorf("observer failover = %d, want 6", got)
	}
}

func TestSlowRegionTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	w := newWorld(t, 0, func(c *ForwarderConfig) { c.Timeout = timeout })
	w.b.slow = time.Second
	_, handled, err, d := w.forward(t, http.MethodPost, "/slow", regionB, `{}`)
	var fe *FailoverError
	if handled || !errors.As(err, &fe) || fe.Reason != ReasonTimeout || !fe.Sent {
		t.Fatalf("handled=%v err=%v", handled, err)
	}
	if d < timeout || d > timeout+300*time.Millisecond {
		t.Errorf("failed over after %v, timeout %v", d, timeout)
	}

	// A delay beyond the timeout is the same as silence.
	w.proxy.SetDelay(150 * time.Millisecond)
	_, handled, err, _ = w.forward(t, http.MethodPost, "/v1/login", regionB, `{}`)
	if handled || !errors.As(err, &fe) || fe.Reason != ReasonTimeout {
		t.Fatalf("handled=%v err=%v", handled, err)
	}
}

func TestClientGoneIsNotAFailure(t *testing.T) {
	w := newWorld(t, 0, func(c *ForwarderConfig) { c.BreakerFailures = 1 })
	w.b.slow = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := httptest.NewRequest(http.MethodPost, "/slow", nil).WithContext(ctx)
	handled, err := w.fwd.Forward(httptest.NewRecorder(), r, regionB, "203.0.113.7", nil)
	if handled || err == nil || errors.Is(err, ErrFailover) {
		t.Fatalf("handled=%v err=%v", handled, err)
	}
	if s := w.fwd.BreakerState(regionB); s != BreakerClosed {
		t.Errorf("breaker %s", s)
	}
	if w.obs.count(regionB, ResultError) != 1 {
		t.Errorf("observer %v", w.obs.n)
	}
}

func TestForwardRefusals(t *testing.T) {
	w := newWorld(t, 0, nil)
	for _, tc := range []struct {
		name, to string
		prep     func(*http.Request) *http.Request
		want     error
	}{
		{"unknown region", "mars-north1", nil, ErrUnknownRegion},
		{"self", regionA, nil, ErrSelf},
		{"carries the header", regionB, func(r *http.Request) *http.Request {
			r.Header.Set(HeaderForwarded, "forged")
			return r
		}, ErrAlreadyForwarded},
		{"verified forwarding", regionB, func(r *http.Request) *http.Request {
			return r.WithContext(WithForwarded(r.Context(), Forwarded{EntryRegion: regionC}))
		}, ErrAlreadyForwarded},
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1/login", nil)
		if tc.prep != nil {
			r = tc.prep(r)
		}
		rec := httptest.NewRecorder()
		handled, err := w.fwd.Forward(rec, r, tc.to, "203.0.113.7", nil)
		if handled || !errors.Is(err, tc.want) || rec.Body.Len() != 0 {
			t.Errorf("%s: handled=%v err=%v", tc.name, handled, err)
		}
	}
	if len(w.b.seen()) != 0 {
		t.Error("a refused request reached the home region")
	}
	if w.obs.count("mars-north1", ResultError) != 0 || w.obs.total() != 2 {
		t.Errorf("observer %v (unknown regions must not become labels)", w.obs.n)
	}
	// A bad client address is an error, not a failover.
	handled, err := w.fwd.Forward(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), regionB, "not-an-ip", nil)
	if handled || err == nil || errors.Is(err, ErrFailover) {
		t.Errorf("bad client address: handled=%v err=%v", handled, err)
	}
}

func TestDeadRegionFailsOverOnConnect(t *testing.T) {
	w := newWorld(t, 0, nil)
	w.c.srv.Close() // nothing listens on C's address any more
	_, handled, err, d := w.forward(t, http.MethodPost, "/v1/login", regionC, `{}`)
	var fe *FailoverError
	if handled || !errors.As(err, &fe) || fe.Reason != ReasonConnect || fe.Sent {
		t.Fatalf("handled=%v err=%v", handled, err)
	}
	t.Logf("connection refused: failed over after %v", d)
	if w.obs.count(regionC, ResultFailover) != 1 {
		t.Errorf("observer %v", w.obs.n)
	}
}
