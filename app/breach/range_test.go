package breach

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

const (
	absentPassword = "correct horse battery staple for gatehouse 7f3a"
)

func testCorpus() corpus {
	return newCorpus(map[string]int{"password": 9545824, "P@ssw0rd": 12, "hunter2": 1})
}

func newTestRange(t *testing.T, cfg RangeConfig) *Range {
	t.Helper()
	r, err := NewRange(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRangeFindsCountAndAbsent(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL})
	ctx := context.Background()
	for pw, want := range map[string]int{"password": 9545824, "P@ssw0rd": 12, "hunter2": 1, absentPassword: 0, "": 0} {
		got, err := r.Breached(ctx, pw)
		if err != nil || got != want {
			t.Errorf("Breached(%q) = %d, %v; want %d", pw, got, err, want)
		}
	}
}

func TestRangeIgnoresPadding(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	h := fullHash(absentPassword)
	// The server pads with a count-0 line that is exactly our suffix.
	srv.addPadding(h[:5], h[5:])
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL})
	got, err := r.Breached(context.Background(), absentPassword)
	if err != nil || got != 0 {
		t.Fatalf("Breached(absent, padded with its suffix) = %d, %v; want 0", got, err)
	}
	reqs := srv.requestsSeen()
	if len(reqs) != 1 || reqs[0].Header.Get("Add-Padding") != "true" {
		t.Fatalf("want one request with Add-Padding: true, got %d", len(reqs))
	}
}

func TestRangeSendsOnlyPrefix(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	// A base URL with a path and trailing slash is joined cleanly.
	mux := http.NewServeMux()
	mux.Handle("/hibp/", http.StripPrefix("/hibp", srv.Config.Handler))
	front := httptest.NewServer(mux)
	defer front.Close()

	for _, base := range []string{srv.URL, front.URL + "/hibp/"} {
		r := newTestRange(t, RangeConfig{BaseURL: base})
		for _, pw := range []string{"password", absentPassword} {
			if _, err := r.Breached(context.Background(), pw); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
		}
	}
	only := regexp.MustCompile(`^/range/[0-9A-F]{5}$`)
	reqs := srv.requestsSeen()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	for _, req := range reqs {
		if !only.MatchString(req.URL.Path) || req.URL.RawQuery != "" || req.ContentLength > 0 {
			t.Errorf("request %s %q query %q: want GET /range/XXXXX only", req.Method, req.URL.Path, req.URL.RawQuery)
		}
		var dump bytes.Buffer
		dump.WriteString(req.URL.String())
		_ = req.Header.Write(&dump)
		for _, pw := range []string{"password", absentPassword} {
			h := fullHash(pw)
			for _, secret := range []string{pw, h, h[5:], strings.ToLower(h), strings.ToLower(h[5:])} {
				if strings.Contains(dump.String(), secret) {
					t.Errorf("request carries %q", secret)
				}
			}
		}
	}
}

func TestRangeCacheAvoidsSecondFetch(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	rc, rdb, keyPrefix := testRedis(t)
	cache := &countingCache{Cache: rc}
	ttl := 90 * time.Minute
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL, Cache: cache, CacheTTL: ttl})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if n, err := r.Breached(ctx, "password"); err != nil || n != 9545824 {
			t.Fatalf("Breached = %d, %v", n, err)
		}
	}
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d HTTP requests, want 1", got)
	}
	// A second instance (another process) shares the Redis cache.
	r2 := newTestRange(t, RangeConfig{BaseURL: srv.URL, Cache: rc})
	if n, err := r2.Breached(ctx, "password"); err != nil || n != 9545824 {
		t.Fatalf("second instance: %d, %v", n, err)
	}
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d HTTP requests after second instance, want 1", got)
	}
	key := keyPrefix + fullHash("password")[:5]
	if d := rdb.TTL(ctx, key).Val(); d <= ttl-time.Minute || d > ttl {
		t.Fatalf("TTL of %s = %v, want about %v", key, d, ttl)
	}
	// Padding is not stored.
	v := rdb.Get(ctx, key).Val()
	if strings.Contains(v, ":0\n") || strings.Count(v, "\n") != 1 {
		t.Fatalf("cached value holds padding: %q", v)
	}
}

func TestRangeCorruptCacheRefetches(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	rc, rdb, keyPrefix := testRedis(t)
	ctx := context.Background()
	rdb.Set(ctx, keyPrefix+fullHash("password")[:5], "garbage", time.Minute)
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL, Cache: rc})
	if n, err := r.Breached(ctx, "password"); err != nil || n != 9545824 {
		t.Fatalf("Breached = %d, %v", n, err)
	}
	if srv.requests.Load() != 1 {
		t.Fatal("corrupt cache entry was not refetched")
	}
}

func TestRangeSingleflight(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	hold := make(chan struct{})
	srv.setHold(hold)
	rc, _, _ := testRedis(t)
	cache := &countingCache{Cache: rc}
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL, Cache: cache})
	prefix := fullHash("password")[:5]

	const n = 50
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "password"
			want := 9545824
			if c, err := r.Breached(context.Background(), pw); err != nil || c != want {
				wrong.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.flight.waiting(prefix) != n-1 {
		if time.Now().After(deadline) {
			close(hold)
			t.Fatalf("only %d callers joined the flight", r.flight.waiting(prefix))
		}
		time.Sleep(time.Millisecond)
	}
	close(hold)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d lookups failed", wrong.Load())
	}
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("%d HTTP requests for %d concurrent lookups, want 1", got, n)
	}
	if cache.gets.Load() != 1 || cache.sets.Load() != 1 {
		t.Fatalf("cache gets %d sets %d, want 1 and 1", cache.gets.Load(), cache.sets.Load())
	}
}

func TestRangeCallerCancelDoesNotFailOthers(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	hold := make(chan struct{})
	srv.setHold(hold)
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL})
	prefix := fullHash("password")[:5]

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := r.Breached(ctx, "password"); first <- err }()
	second := make(chan int, 1)
	for r.flight.waiting(prefix) < 0 {
		time.Sleep(time.Millisecond)
	}
	go func() { n, _ := r.Breached(context.Background(), "password"); second <- n }()
	for r.flight.waiting(prefix) != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) || !errs.Is(err, errs.KindUnavailable) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(hold)
	if n := <-second; n != 9545824 {
		t.Fatalf("other caller got %d", n)
	}
}

// logBuffer captures JSON logs.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestRangeEndpointDown(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	url := srv.URL
	srv.Close()
	log, buf := logBuffer()
	r := newTestRange(t, RangeConfig{BaseURL: url, Logger: log, Timeout: time.Second})
	ctx := context.Background()
	const pw = "hunter2" // not a substring of the messages
	h := fullHash(pw)

	n, err := r.Breached(ctx, pw)
	if err == nil || n != 0 {
		t.Fatalf("Breached with endpoint down = %d, %v; want error", n, err)
	}
	if e := errs.As(err); e == nil || e.Kind != errs.KindUnavailable || e.Code != CodeUnavailable {
		t.Fatalf("error %v is not KindUnavailable/%s", err, CodeUnavailable)
	}
	// Fails open by default, closed on request.
	plog, pbuf := logBuffer()
	if err := (Policy{Logger: plog}).Refuse(ctx, r, pw); err != nil {
		t.Fatalf("Refuse with endpoint down = %v; want nil (fail open)", err)
	}
	if !strings.Contains(pbuf.String(), "fail-open") {
		t.Fatalf("fail-open not logged: %s", pbuf.String())
	}
	if err := (Policy{FailClosed: true}).Refuse(ctx, r, pw); !errs.Is(err, errs.KindUnavailable) {
		t.Fatalf("fail-closed Refuse = %v; want KindUnavailable", err)
	}
	// Nothing secret, not even the prefix, in errors or logs.
	all := err.Error() + buf.String() + pbuf.String()
	for _, s := range []string{pw, h, h[:5], strings.ToLower(h[:5])} {
		if strings.Contains(all, s) {
			t.Fatalf("errors or logs contain %q: %s", s, all)
		}
	}
}

func TestRangeCooldown(t *testing.T) {
	srv := newFakeHIBP(t, testCorpus())
	var failing atomic.Bool
	failing.Store(true)
	srv.setOverride(func(w http.ResponseWriter, _ *http.Request) bool {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL, Cooldown: 10 * time.Second, Now: clock})
	ctx := context.Background()
	if _, err := r.Breached(ctx, "password"); err == nil {
		t.Fatal("503 gave no error")
	}
	failing.Store(false)
	if _, err := r.Breached(ctx, "password"); err == nil || srv.requests.Load() != 1 {
		t.Fatalf("within cooldown: err %v, %d requests; want error and 1 request", err, srv.requests.Load())
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	if n, err := r.Breached(ctx, "password"); err != nil || n != 9545824 {
		t.Fatalf("after cooldown: %d, %v", n, err)
	}
}

func TestRangeMalformedResponses(t *testing.T) {
	h := fullHash("password")
	good := h[5:] + ":5"
	for name, body := range map[string]string{
		"no colon":        h[5:] + "5",
		"short suffix":    h[6:] + ":5",
		"long suffix":     h[4:] + ":5",
		"non-hex":         "Z" + h[6:] + ":5",
		"negative count":  h[5:] + ":-5",
		"plus count":      h[5:] + ":+5",
		"empty count":     h[5:] + ":",
		"huge count":      h[5:] + ":1234567890123",
		"blank line":      good + "\r\n\r\n" + good,
		"html":            "<html>rate limited</html>",
		"space in count":  h[5:] + ": 5",
		"over size limit": strings.Repeat(good+"\r\n", maxRangeBytes/len(good)),
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFakeHIBP(t, testCorpus())
			srv.setOverride(func(w http.ResponseWriter, _ *http.Request) bool {
				_, _ = w.Write([]byte(body))
				return true
			})
			r := newTestRange(t, RangeConfig{BaseURL: srv.URL})
			if n, err := r.Breached(context.Background(), "password"); err == nil {
				t.Fatalf("Breached = %d, nil; want error", n)
			}
		})
	}
}

func TestRangeRefusesRedirects(t *testing.T) {
	elsewhere := newFakeHIBP(t, testCorpus())
	srv := newFakeHIBP(t, testCorpus())
	srv.setOverride(func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
		return true
	})
	r := newTestRange(t, RangeConfig{BaseURL: srv.URL, Client: &http.Client{}})
	if _, err := r.Breached(context.Background(), "password"); err == nil {
		t.Fatal("redirect gave no error")
	}
	if elsewhere.requests.Load() != 0 {
		t.Fatal("prefix was sent to the redirect target")
	}
}

func TestNewRangeRejectsBadBaseURL(t *testing.T) {
	for _, base := range []string{"ftp://x", "api.pwnedpasswords.com", "https://x/?q=1", "https://u:p@x", "://"} {
		if _, err := NewRange(RangeConfig{BaseURL: base}); err == nil {
			t.Errorf("NewRange(%q) succeeded", base)
		}
	}
	if r, err := NewRange(RangeConfig{}); err != nil || r.endpoint != DefaultBaseURL+"/range/" {
		t.Fatalf("default endpoint: %v %v", r, err)
	}
}
