package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/store/storetest"
)

// testRedisURL is the Redis the end-to-end tests use; GATEHOUSE_TEST_REDIS_URL
// overrides it.
func testRedisURL() string {
	if u := os.Getenv("GATEHOUSE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

// testEnv is a complete, valid environment for one region with a fresh
// database (migrated) and a fresh local keyring.
func testEnv(t testing.TB) map[string]string {
	t.Helper()
	env := map[string]string{
		"GATEHOUSE_REGION":            "us-east1",
		"GATEHOUSE_REGIONS_FILE":      "../../regions/local.yaml",
		"GATEHOUSE_HTTP_ADDR":         "127.0.0.1:0",
		"GATEHOUSE_DATABASE_URL":      storetest.NewDatabase(t),
		"GATEHOUSE_REDIS_URL":         testRedisURL(),
		"GATEHOUSE_ISSUER":            "https://auth.test.example",
		"GATEHOUSE_KEYS":              "local",
		"GATEHOUSE_LOCAL_KEYS_DIR":    t.TempDir() + "/keys",
		"GATEHOUSE_LOG_LEVEL":         "debug",
		"GATEHOUSE_ADMIN_TOKEN":       "test-admin-token-0123456789abcdef",
		"GATEHOUSE_ARGON2_MEMORY_KIB": "19456",
		"GATEHOUSE_ARGON2_ITERATIONS": "2",
		// Each test gets its own defense counters: every test logs in
		// from 127.0.0.1, and the per-address limits would otherwise add up
		// across the suite.
		"GATEHOUSE_DEFENSE_KEY_PREFIX": "ghtest:" + uuid.NewString() + ":",
	}
	for _, cmd := range [][]string{{"migrate"}, {"keys", "init"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), cmd, lookup(env), nil, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, errb.String())
		}
	}
	return env
}

func lookup(env map[string]string) env {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// testServer is a running `gatehouse serve` inside the test process.
type testServer struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	logs   *logWatcher
}

// startServer runs `serve` with env and waits until it listens.
func startServer(t testing.TB, env map[string]string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := newLogWatcher()
	s := &testServer{cancel: cancel, done: make(chan error, 1), logs: w}
	go func() { s.done <- run(ctx, []string{"serve"}, lookup(env), nil, io.Discard, w) }()
	select {
	case addr := <-w.listening:
		s.URL = "http://" + addr
	case err := <-s.done:
		t.Fatalf("serve exited at start: %v\n%s", err, w.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start\n%s", w.String())
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *testServer) stop(t testing.TB) {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
		s.done <- nil
	case <-time.After(30 * time.Second):
		t.Error("serve did not stop")
	}
}

// logWatcher collects the server's log and reports the listening address.
type logWatcher struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	partial   []byte
	listening chan string
}

func newLogWatcher() *logWatcher { return &logWatcher{listening: make(chan string, 1)} }

func (w *logWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			select {
			case w.listening <- rec.Addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// lines returns the log lines that contain every one of subs.
func (w *logWatcher) lines(subs ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(w.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(sc.Text(), s)
		}
		if ok {
			out = append(out, sc.Text())
		}
	}
	return out
}

// call sends a request and decodes a JSON answer into a map.
func call(t testing.TB, method, url string, body io.Reader, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return callReq(t, req)
}

// callReq sends a prepared request and decodes a JSON answer into a map.
func callReq(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	method, url := req.Method, req.URL.String()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if ct := resp.Header.Get("Content-Type"); len(raw) > 0 && (strings.HasPrefix(ct, "application/json") || strings.Contains(ct, "+json")) {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, url, raw)
		}
	}
	return resp, m
}
