package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/regions/latency"
	"github.com/gatehouse-id/gatehouse/regions/router"
)

var regionNames = []string{"us-east1", "europe-west1", "asia-south1"}

// cluster is three regional servers on this machine sharing one database
// and one keyring, each with its own Redis database, with a latency proxy
// in front of each region's internal address.
type cluster struct {
	env     map[string]map[string]string // region -> environment
	servers map[string]*testServer
	public  map[string]string // region -> public URL
	keys    string
	topo    *regions.Topology
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startCluster(t *testing.T, oneWayDelay time.Duration) *cluster {
	t.Helper()
	return startClusterWith(t, oneWayDelay, clusterOptions{})
}

// clusterOptions changes a cluster: a Redis URL of its own for some
// regions, and extra environment for every server.
type clusterOptions struct {
	redis map[string]string // region -> GATEHOUSE_REDIS_URL (and redis_url)
	env   []string          // key, value, ...
}

func startClusterWith(t *testing.T, oneWayDelay time.Duration, opts clusterOptions) *cluster {
	t.Helper()
	base := with(testEnv(t), opts.env...)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	c := &cluster{env: map[string]map[string]string{}, servers: map[string]*testServer{}, public: map[string]string{},
		keys: "k1:" + base64.StdEncoding.EncodeToString(secret)}
	var yaml strings.Builder
	yaml.WriteString("primary: us-east1\nregions:\n")
	for i, name := range regionNames {
		port := freePort(t)
		proxy, err := latency.Start("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", port), oneWayDelay)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		c.public[name] = fmt.Sprintf("http://127.0.0.1:%d", port)
		redisURL := fmt.Sprintf("redis://127.0.0.1:6379/%d", 7+i)
		if u, ok := opts.redis[name]; ok {
			redisURL = u
		}
		fmt.Fprintf(&yaml, "  - {name: %s, public_url: %q, internal_url: %q, redis_url: %q}\n",
			name, c.public[name], "http://"+proxy.Addr(), redisURL)
		c.env[name] = with(base,
			"GATEHOUSE_REGION", name,
			"GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port),
			"GATEHOUSE_REDIS_URL", redisURL,
			"GATEHOUSE_FORWARDING_KEYS", c.keys,
			"GATEHOUSE_RESIDENCY_RULES", "DE=europe-west1,IN=asia-south1",
			"GATEHOUSE_FORWARDING_TIMEOUT", "2s")
	}
	file := filepath.Join(t.TempDir(), "regions.yaml")
	if err := os.WriteFile(file, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := regions.Parse([]byte(yaml.String()))
	if err != nil {
		t.Fatal(err)
	}
	c.topo = topo
	for _, name := range regionNames {
		c.env[name]["GATEHOUSE_REGIONS_FILE"] = file
		c.servers[name] = startServer(t, c.env[name])
	}
	return c
}

func wantRegions(t *testing.T, resp *http.Response, executed, entry string) {
	t.Helper()
	if got := resp.Header.Get("Gatehouse-Region"); got != executed {
		t.Errorf("Gatehouse-Region = %q, want %q", got, executed)
	}
	if got := resp.Header.Get("Gatehouse-Entry-Region"); got != entry {
		t.Errorf("Gatehouse-Entry-Region = %q, want %q", got, entry)
	}
}

func metricValue(t *testing.T, base, series string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}

func TestThreeRegions(t *testing.T) {
	c := startCluster(t, 10*time.Millisecond)
	us, eu, asia := c.public["us-east1"], c.public["europe-west1"], c.public["asia-south1"]
	const email, pw = "eu-user@example.org", "a passphrase from europe"

	// A residency rule: a sign-up at us-east1 from Germany (the hint comes
	// from a trusted proxy) is executed in, and homed in, europe-west1.
	// Without the trusted proxy the hint is ignored.
	trustedUS := startServer(t, with(c.env["us-east1"], "GATEHOUSE_HTTP_ADDR", "127.0.0.1:0", "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32"))
	req, _ := http.NewRequest("POST", trustedUS.URL+"/v1/users", jsonBody(`{"email":"berlin@example.org","password":"a passphrase from berlin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gatehouse-Country", "de")
	resp, body := callReq(t, req)
	if resp.StatusCode != 201 || body["home_region"] != "europe-west1" {
		t.Fatalf("sign-up with a residency rule: %d %v", resp.StatusCode, body)
	}
	wantRegions(t, resp, "europe-west1", "us-east1")
	req, _ = http.NewRequest("POST", us+"/v1/users", jsonBody(`{"email":"not-berlin@example.org","password":"a passphrase not from berlin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gatehouse-Country", "DE")
	if resp, body := callReq(t, req); resp.StatusCode != 201 || body["home_region"] != "us-east1" {
		t.Fatalf("a country hint from an untrusted peer must be ignored: %d %v", resp.StatusCode, body)
	}

	// Signed up in europe-west1: homed there.
	resp, body = call(t, "POST", eu+"/v1/users", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 201 || body["home_region"] != "europe-west1" {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, body)
	}
	uid := body["user_id"].(string)

	// Login through us-east1 runs in europe-west1.
	resp, tok := call(t, "POST", us+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("login via us-east1: %d %v", resp.StatusCode, tok)
	}
	wantRegions(t, resp, "europe-west1", "us-east1")
	if !strings.HasPrefix(tok["refresh_token"].(string), "ghr_europe-west1_") {
		t.Fatalf("refresh token %v", tok["refresh_token"])
	}

	// Refresh through asia-south1, routed by the token's prefix.
	resp, tok2 := form(t, asia, "/oauth2/token", urlValues("grant_type", "refresh_token", "refresh_token", tok["refresh_token"].(string)))
	if resp.StatusCode != 200 {
		t.Fatalf("refresh via asia-south1: %d %v", resp.StatusCode, tok2)
	}
	wantRegions(t, resp, "europe-west1", "asia-south1")

	// Sessions listed from anywhere; the rows carry europe-west1.
	for _, region := range regionNames {
		resp, list := call(t, "GET", c.public[region]+"/v1/sessions", nil, bearer(tok2["access_token"].(string))...)
		if resp.StatusCode != 200 || len(list["sessions"].([]any)) != 1 {
			t.Fatalf("sessions via %s: %d %v", region, resp.StatusCode, list)
		}
		if s := list["sessions"].([]any)[0].(map[string]any); s["home_region"] != "europe-west1" {
			t.Fatalf("session via %s: %v", region, s)
		}
	}
	db, err := store.Open(context.Background(), c.env["us-east1"]["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sess, err := db.Session(context.Background(), uuid.MustParse(tok["session_id"].(string)))
	if err != nil || sess.HomeRegion != "europe-west1" || sess.UserID.String() != uid {
		t.Fatalf("session row: %+v %v", sess, err)
	}

	// A forged forwarding header from outside is refused, never served
	// (issue 14; regions_forwarding_test.go tries every kind of bad header).
	req, _ = http.NewRequest("POST", eu+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Gatehouse-Forwarded", "v=1; kid=k1; entry=us-east1; to=europe-west1; client=6.6.6.6; ts=1; nonce=x; sig=AAAA")
	resp, forged := callReq(t, req)
	if resp.StatusCode != 401 || forged["error"] != "invalid_forwarding" {
		t.Fatalf("forged header: %d %v", resp.StatusCode, forged)
	}

	// A request forwarded once is never forwarded again: a genuine forward
	// from us-east1 to europe-west1 for a user homed in asia-south1 runs in
	// europe-west1.
	signUpVia(t, asia, "asia-user@example.org", "a passphrase from asia")
	keys, _ := router.ParseKeys(c.keys)
	fwd, err := router.NewForwarder(router.ForwarderConfig{Self: "us-east1", Topology: c.topo, Keys: keys, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	body2 := []byte(`{"email":"asia-user@example.org","password":"a passphrase from asia"}`)
	r2 := httptest.NewRequest("POST", "/v1/login", strings.NewReader(string(body2)))
	r2.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	if handled, err := fwd.Forward(rec, r2, "europe-west1", "198.51.100.7", body2); !handled || err != nil {
		t.Fatalf("forward: %v %v", handled, err)
	}
	if rec.Code != 200 || rec.Header().Get("Gatehouse-Region") != "europe-west1" {
		t.Fatalf("forwarded login for an asia user: %d region %q (must run where it was forwarded, not hop again)", rec.Code, rec.Header().Get("Gatehouse-Region"))
	}

	// europe-west1 dies: its users still log in and refresh through us-east1,
	// served there against the database; the metric shows the failover.
	c.servers["europe-west1"].stop(t)
	resp, local := call(t, "POST", us+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("login during the outage: %d %v", resp.StatusCode, local)
	}
	// Email-routed answers always name the entry region (issue 14), so
	// where an address lives changes no header's presence.
	wantRegions(t, resp, "us-east1", "us-east1")
	resp, refreshed := form(t, us, "/oauth2/token", urlValues("grant_type", "refresh_token", "refresh_token", local["refresh_token"].(string)))
	if resp.StatusCode != 200 {
		t.Fatalf("refresh during the outage: %d %v", resp.StatusCode, refreshed)
	}
	if n := metricValue(t, us, `gatehouse_forwarded_requests_total{result="failover",to_region="europe-west1"}`); n == "" || n == "0" {
		t.Fatalf("failover metric = %q", n)
	}

	// europe-west1 is back: forwarding resumes.
	c.servers["europe-west1"] = startServer(t, c.env["europe-west1"])
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ = call(t, "POST", us+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.Header.Get("Gatehouse-Region") == "europe-west1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("forwarding did not resume after europe-west1 came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantRegions(t, resp, "europe-west1", "us-east1")
}

func signUpVia(t *testing.T, base, email, pw string) {
	t.Helper()
	if resp, body := call(t, "POST", base+"/v1/users", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`)); resp.StatusCode != 201 {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, body)
	}
}

func urlValues(kv ...string) map[string][]string {
	out := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = append(out[kv[i]], kv[i+1])
	}
	return out
}
