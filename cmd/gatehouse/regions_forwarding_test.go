package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/regions/router"
)

// capture is a RoundTripper that keeps the signed request a Forwarder
// built and answers it itself, so a test can send it wherever it likes.
type capture struct{ req *http.Request }

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.req = r
	return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// signedRequest builds the forwarded request region self would send to
// region to for a login body, signed under keys at now, and returns its
// forwarding header.
func signedHeader(t *testing.T, topo *regions.Topology, keys, self, to string, now time.Time, body []byte) string {
	t.Helper()
	k, err := router.ParseKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	fwd, err := router.NewForwarder(router.ForwarderConfig{Self: self, Topology: topo, Keys: k, Transport: c, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/v1/login", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if handled, err := fwd.Forward(httptest.NewRecorder(), r, to, "198.51.100.77", body); !handled || err != nil {
		t.Fatalf("forward: %v %v", handled, err)
	}
	return c.req.Header.Get(router.HeaderForwarded)
}

func postWithHeader(t *testing.T, base string, body []byte, header string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(router.HeaderForwarded, header)
	return callReq(t, req)
}

// Issue 14: a forwarding header that does not verify is refused, never
// served; a forwarded request is accepted once by the whole region.
func TestForwardingHeadersThatDoNotVerifyAreRefused(t *testing.T) {
	c := startClusterWith(t, 5*time.Millisecond, clusterOptions{})
	eu := c.public["europe-west1"]
	const email, pw = "forwarded@example.org", "a passphrase for forwarding"
	signUpVia(t, eu, email, pw)
	body := []byte(`{"email":"` + email + `","password":"` + pw + `"}`)

	// A topology with a region the cluster does not know, to sign as it.
	var stranger strings.Builder
	stranger.WriteString("primary: us-east1\nregions:\n")
	for _, r := range c.topo.Regions {
		fmt.Fprintf(&stranger, "  - {name: %s, public_url: %q, internal_url: %q, redis_url: %q}\n", r.Name, r.PublicURL, r.InternalURL, r.RedisURL)
	}
	stranger.WriteString("  - {name: zz-stranger1, public_url: \"http://127.0.0.1:1\", internal_url: \"http://127.0.0.1:1\", redis_url: \"redis://127.0.0.1:1/0\"}\n")
	strangerTopo, err := regions.Parse([]byte(stranger.String()))
	if err != nil {
		t.Fatal(err)
	}
	replayed := signedHeader(t, c.topo, c.keys, "us-east1", "europe-west1", time.Now(), body)
	if resp, b := postWithHeader(t, eu, body, replayed); resp.StatusCode != 200 {
		t.Fatalf("a genuine forwarded login: %d %v", resp.StatusCode, b)
	}
	before := metricValue(t, eu, `gatehouse_login_attempts_total{result="success"}`)
	for name, header := range map[string]string{
		"junk":         "v=1; kid=k1; entry=us-east1; to=europe-west1; client=6.6.6.6; ts=1; nonce=x; sig=AAAA",
		"expired":      signedHeader(t, c.topo, c.keys, "us-east1", "europe-west1", time.Now().Add(-2*time.Minute), body),
		"replayed":     replayed,
		"wrong entry":  signedHeader(t, strangerTopo, c.keys, "zz-stranger1", "europe-west1", time.Now(), body),
		"wrong target": signedHeader(t, c.topo, c.keys, "us-east1", "asia-south1", time.Now(), body),
		"foreign key":  signedHeader(t, c.topo, "k1:"+strings.Repeat("QUFB", 11), "us-east1", "europe-west1", time.Now(), body),
	} {
		resp, b := postWithHeader(t, eu, body, header)
		if resp.StatusCode != 401 || b["error"] != "invalid_forwarding" {
			t.Errorf("%s header: %d %v, want 401 invalid_forwarding", name, resp.StatusCode, b)
		}
		// Also where the email is not homed: refused, not forwarded or served.
		resp, b = postWithHeader(t, c.public["us-east1"], body, header)
		if resp.StatusCode != 401 || b["error"] != "invalid_forwarding" {
			t.Errorf("%s header at us-east1: %d %v, want 401 invalid_forwarding", name, resp.StatusCode, b)
		}
	}
	if after := metricValue(t, eu, `gatehouse_login_attempts_total{result="success"}`); after != before {
		t.Fatalf("a refused request reached the login handler: successes %s -> %s", before, after)
	}
	if n, _ := strconv.Atoi(metricValue(t, eu, `gatehouse_forwarded_requests_total{result="refused",to_region="europe-west1"}`)); n < 6 {
		t.Fatalf("refused forwarded requests counted %d, want at least 6", n)
	}
	if lines := c.servers["europe-west1"].logs.lines("forwarding header refused", `"peer":"127.0.0.1"`); len(lines) == 0 {
		t.Fatal("no warning names the entry address of a refused forwarding header")
	}

	// Two instances of europe-west1 share one replay store: a forwarded
	// request sent to both is accepted once.
	second := startServer(t, with(c.env["europe-west1"], "GATEHOUSE_HTTP_ADDR", "127.0.0.1:0"))
	header := signedHeader(t, c.topo, c.keys, "us-east1", "europe-west1", time.Now(), body)
	r1, b1 := postWithHeader(t, eu, body, header)
	r2, b2 := postWithHeader(t, second.URL, body, header)
	if r1.StatusCode != 200 || r2.StatusCode != 401 || b2["error"] != "invalid_forwarding" {
		t.Fatalf("one forwarded request at two instances: %d %v, then %d %v; want 200 then 401", r1.StatusCode, b1, r2.StatusCode, b2)
	}

	// An instance whose Redis is down cannot check a nonce: it refuses the
	// forwarded request instead of accepting it unchecked.
	noRedis := startServer(t, with(c.env["europe-west1"], "GATEHOUSE_HTTP_ADDR", "127.0.0.1:0", "GATEHOUSE_REDIS_URL", "redis://127.0.0.1:1/0"))
	header = signedHeader(t, c.topo, c.keys, "us-east1", "europe-west1", time.Now(), body)
	if resp, b := postWithHeader(t, noRedis.URL, body, header); resp.StatusCode != 503 || b["error"] != "forwarding_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a forwarded request while Redis is down: %d %v, want 503 forwarding_unavailable", resp.StatusCode, b)
	}
}

// startRedis runs a redis-server of the test's own on a free port, so the
// test may flush it; it stops with the test.
func startRedis(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server is required: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "ping").Output(); err == nil && strings.TrimSpace(string(out)) == "PONG" {
			return url
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
