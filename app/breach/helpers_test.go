package breach

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // test corpus
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// corpus is a fake breach corpus: full upper-case SHA-1 → count.
type corpus map[string]int

func newCorpus(pw map[string]int) corpus {
	c := corpus{}
	for p, n := range pw {
		sum := sha1.Sum([]byte(p)) //nolint:gosec // test
		c[strings.ToUpper(hex.EncodeToString(sum[:]))] = n
	}
	return c
}

// rangeBody is what HIBP answers for prefix: real entries plus, when
// padded, count-0 entries, sorted, CRLF-ended. extraPadding adds padding
// lines with the given suffixes.
func (c corpus) rangeBody(prefix string, padded bool, extraPadding ...string) string {
	var lines []string
	for h, n := range c {
		if strings.HasPrefix(h, prefix) {
			lines = append(lines, fmt.Sprintf("%s:%d", h[5:], n))
		}
	}
	if padded {
		for len(lines) < 800 {
			var b [18]byte
			_, _ = rand.Read(b[:])
			lines = append(lines, strings.ToUpper(hex.EncodeToString(b[:]))[:35]+":0")
		}
		for _, s := range extraPadding {
			lines = append(lines, s+":0")
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\r\n")
}

// fakeHIBP is an httptest server answering like the range API.
type fakeHIBP struct {
	*httptest.Server
	corpus corpus
	path   *regexp.Regexp

	requests atomic.Int64
	mu       sync.Mutex
	seen     []*http.Request
	padding  map[string][]string // extra padding suffixes by prefix
	hold     chan struct{}       // when set, handlers wait on it
	override func(w http.ResponseWriter, r *http.Request) bool
}

func newFakeHIBP(t *testing.T, c corpus) *fakeHIBP {
	t.Helper()
	f := &fakeHIBP{corpus: c, padding: map[string][]string{}, path: regexp.MustCompile(`^/range/([0-9A-F]{5})$`)}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHIBP) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	f.seen = append(f.seen, r.Clone(context.Background()))
	hold, override := f.hold, f.override
	extra := map[string][]string{}
	for k, v := range f.padding {
		extra[k] = append([]string(nil), v...)
	}
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if override != nil && override(w, r) {
		return
	}
	m := f.path.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodGet || m == nil {
		http.Error(w, "The hash prefix was not in a valid format", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, f.corpus.rangeBody(m[1], r.Header.Get("Add-Padding") == "true", extra[m[1]]...))
}

func (f *fakeHIBP) requestsSeen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.seen...)
}

// testRedis returns a cache on DB 11 under a random key prefix, and the
// client. It fails the test when Redis is unreachable.
func testRedis(t *testing.T) (*RedisCache, *redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 11, DisableIdentity: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is required on 127.0.0.1:6379 DB 11: %v", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "test:breach:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return NewRedisCache(rdb, prefix), rdb, prefix
}

// countingCache wraps a Cache and counts calls.
type countingCache struct {
	Cache
	gets, sets atomic.Int64
}

func (c *countingCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.gets.Add(1)
	return c.Cache.Get(ctx, key)
}

func (c *countingCache) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	c.sets.Add(1)
	return c.Cache.Set(ctx, key, v, ttl)
}

// fullHash is the upper-case SHA-1 of pw.
func fullHash(pw string) string {
	sum := sha1.Sum([]byte(pw)) //nolint:gosec // test
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (f *fakeHIBP) setHold(c chan struct{}) { f.mu.Lock(); f.hold = c; f.mu.Unlock() }

func (f *fakeHIBP) setOverride(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.override = fn
	f.mu.Unlock()
}

func (f *fakeHIBP) addPadding(prefix string, suffixes ...string) {
	f.mu.Lock()
	f.padding[prefix] = append(f.padding[prefix], suffixes...)
	f.mu.Unlock()
}
