package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/regions/latency"
)

func TestServeOperationalEndpoints(t *testing.T) {
	s := startServer(t, testEnv(t))

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, _ := call(t, "GET", s.URL+path, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Gatehouse-Region"); got != "us-east1" {
			t.Errorf("GET %s: Gatehouse-Region = %q", path, got)
		}
	}
	resp, body := call(t, "GET", s.URL+"/no/such/route", nil)
	if resp.StatusCode != 404 || body["error"] != "not_found" || body["error_description"] == "" {
		t.Errorf("unknown route: %d %v", resp.StatusCode, body)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gatehouse_http_request_duration_seconds_bucket{code="200",method="GET",route="/healthz"`,
		`gatehouse_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"}`,
		`gatehouse_login_attempts_total{result="invalid_credentials"}`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The configuration is logged once, with secrets masked.
	cfgLines := s.logs.lines(`"msg":"configuration"`)
	if len(cfgLines) != 1 {
		t.Fatalf("want one configuration log line, got %d", len(cfgLines))
	}
	if strings.Contains(cfgLines[0], "test-admin-token") || !strings.Contains(cfgLines[0], `"admin_token":"***"`) {
		t.Errorf("admin token not masked: %s", cfgLines[0])
	}
}

func TestBadConfigurationExits2NamingTheKey(t *testing.T) {
	env := testEnv(t)
	cases := []struct {
		name, key, value string
	}{
		{"nonsense address", "GATEHOUSE_HTTP_ADDR", "nonsense"},
		{"unknown region", "GATEHOUSE_REGION", "mars-north1"},
		{"bad keys source", "GATEHOUSE_KEYS", "hsm"},
		{"bad duration", "GATEHOUSE_TOKENS_ACCESS_TTL", "soon"},
		{"bad proxies", "GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"},
		{"weak argon2", "GATEHOUSE_ARGON2_MEMORY_KIB", "1024"},
		{"bad database url", "GATEHOUSE_DATABASE_URL", "mysql://x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), []string{"serve"}, lookup(with(env, tc.key, tc.value)), nil, io.Discard, &stderr)
			if err == nil {
				t.Fatal("serve started with a bad value")
			}
			var printed bytes.Buffer
			if code := exitCode(err, &printed); code != exitUsage {
				t.Fatalf("exit code %d, want %d (%v)", code, exitUsage, err)
			}
			if !strings.Contains(printed.String(), tc.key) {
				t.Fatalf("message %q does not name %s", printed.String(), tc.key)
			}
		})
	}
	var stderr bytes.Buffer
	if code := exitCode(run(context.Background(), []string{"frobnicate"}, lookup(env), nil, io.Discard, &stderr), io.Discard); code != exitUsage {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

// /readyz follows the database and Redis: 503 within 2 s of either going
// away, 200 again once it is back, without a restart. The dependencies are
// taken away by cutting a proxy in front of them, so the shared servers
// other tests use stay up.
func TestReadyzFollowsDependencies(t *testing.T) {
	env := testEnv(t)
	dbURL := env["GATEHOUSE_DATABASE_URL"]
	pgProxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:5432", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pgProxy.Close()
	redisProxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:6379", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer redisProxy.Close()
	env = with(env,
		"GATEHOUSE_DATABASE_URL", strings.Replace(dbURL, "127.0.0.1:5432", pgProxy.Addr(), 1),
		"GATEHOUSE_REDIS_URL", strings.Replace(testRedisURL(), "127.0.0.1:6379", redisProxy.Addr(), 1))
	s := startServer(t, env)

	waitReady := func(want int) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 10*time.Second {
			resp, _ := call(t, "GET", s.URL+"/readyz", nil)
			if resp.StatusCode == want {
				if want == 503 && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("/readyz never answered %d", want)
		return 0
	}
	waitReady(200)
	for _, p := range []*latency.Proxy{pgProxy, redisProxy} {
		p.Cut()
		if took := waitReady(503); took > 2*time.Second {
			t.Errorf("/readyz took %v to notice the outage, want under 2s", took)
		}
		p.Restore()
		waitReady(200)
	}
}

// An issuer on an IP address (a development setup) must still start: the
// WebAuthn relying-party id cannot be an IP, so it defaults to localhost.
func TestIssuerOnAnIPAddressStarts(t *testing.T) {
	s := startServer(t, with(testEnv(t), "GATEHOUSE_ISSUER", "http://127.0.0.1:8080"))
	if resp, _ := call(t, "GET", s.URL+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
