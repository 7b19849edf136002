package router

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/regions/latency"
)

// Region names of the test topology: A is where clients arrive, B is the
// users' home behind a latency proxy, C a third region.
const (
	regionA = "us-east1"
	regionB = "europe-west1"
	regionC = "asia-south1"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef-test-secret")
	otherSecret = []byte("fedcba9876543210fedcba9876543210-other-secret")
)

// clock is a settable clock shared by every region of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// seen is what a home region's handler saw of one request.
type seen struct {
	fw     Forwarded
	err    error
	body   string
	header http.Header
}

// homeRegion is an httptest server standing for a region's internal
// address: it verifies the forwarding header and reports what it saw.
type homeRegion struct {
	name string
	srv  *httptest.Server
	ver  *Verifier
	slow time.Duration

	mu   sync.Mutex
	hits []seen
}

func (g *homeRegion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	fw, err := g.ver.Check(r, body)
	g.mu.Lock()
	g.hits = append(g.hits, seen{fw: fw, err: err, body: string(body), header: r.Header.Clone()})
	slow := g.slow
	g.mu.Unlock()
	w.Header().Set(HeaderRegion, g.name)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Set-Cookie", "home=1")
	switch r.URL.Path {
	case "/overloaded":
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"overloaded","error_description":"busy"}`)
		return
	case "/slow":
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"region": g.name, "forwarded": err == nil, "client": fw.ClientAddr})
}

func (g *homeRegion) seen() []seen {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seen(nil), g.hits...)
}

// observed counts Observer calls.
type observed struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *observed) Forwarded(to, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[to+"/"+result]++
}

func (o *observed) count(to, result string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[to+"/"+result]
}

func (o *observed) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, v := range o.n {
		n += v
	}
	return n
}

// world is three regions: A (entry, with a Forwarder), B behind a latency
// proxy, C direct.
type world struct {
	topo  *regions.Topology
	keys  *StaticKeys
	clock *clock
	a     *homeRegion
	b     *homeRegion
	c     *homeRegion
	proxy *latency.Proxy
	fwd   *Forwarder
	obs   *observed
}

func newWorld(t *testing.T, oneWay time.Duration, tweak func(*ForwarderConfig)) *world {
	t.Helper()
	w := &world{clock: &clock{t: time.Now()}, obs: &observed{}}
	var err error
	w.keys, err = NewStaticKeys(Key{ID: "k2", Secret: testSecret}, Key{ID: "k1", Secret: otherSecret})
	if err != nil {
		t.Fatal(err)
	}
	start := func(name string) *homeRegion {
		g := &homeRegion{name: name}
		g.srv = httptest.NewServer(g)
		t.Cleanup(g.srv.Close)
		return g
	}
	w.a, w.b, w.c = start(regionA), start(regionB), start(regionC)
	w.proxy, err = latency.Start("127.0.0.1:0", strings.TrimPrefix(w.b.srv.URL, "http://"), oneWay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.proxy.Close() })
	region := func(name, internal string) regions.Region {
		return regions.Region{Name: name, PublicURL: internal, InternalURL: internal, RedisURL: "redis://127.0.0.1:6379/0"}
	}
	w.topo = &regions.Topology{Primary: regionA, Regions: []regions.Region{
		region(regionA, w.a.srv.URL),
		region(regionB, "http://"+w.proxy.Addr()+"/"),
		region(regionC, w.c.srv.URL),
	}}
	if err := w.topo.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*homeRegion{w.a, w.b, w.c} {
		g.ver, err = NewVerifier(VerifierConfig{Self: g.name, Topology: w.topo, Keys: w.keys, Now: w.clock.now, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := ForwarderConfig{
		Self: regionA, Topology: w.topo, Keys: w.keys, Observer: w.obs,
		Timeout: 2 * time.Second, BreakerFailures: 3, BreakerCoolDown: 10 * time.Second,
		Logger: testLogger(t), Now: w.clock.now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	w.fwd, err = NewForwarder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.fwd.Close)
	return w
}

// forward calls Forward as the entry region's handler would.
func (w *world) forward(t *testing.T, method, target, to, body string) (*httptest.ResponseRecorder, bool, error, time.Duration) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	rec.Header().Set(HeaderRegion, regionA) // as the entry region's middleware does
	start := time.Now()
	handled, err := w.fwd.Forward(rec, r, to, "203.0.113.7", []byte(body))
	return rec, handled, err, time.Since(start)
}

type testWriter struct{ t *testing.T }

func (tw testWriter) Write(p []byte) (int, error) {
	tw.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// signed builds a request as region entry would send it to region to.
func signed(key Key, entry, to, method, target, body string, ts time.Time, nonce string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	env := envelope{KeyID: key.ID, Entry: entry, To: to, TS: ts.Unix(), Nonce: nonce}
	env.Client = mustAddr("198.51.100.9")
	env.Sig = env.mac(key.Secret, signedRequest{Method: method, Target: target, ContentType: "application/json", Body: []byte(body)})
	r.Header.Set(HeaderForwarded, env.format())
	return r
}

func nonceN(i int) string { return fmt.Sprintf("%021d", i) + "A" }
