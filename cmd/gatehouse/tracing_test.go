package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// spanRecord is one span as an OTLP receiver got it.
type spanRecord struct {
	Trace, ID, Parent string
	Name, Region      string
}

// spanSink is an in-memory OTLP/HTTP trace receiver: the servers export
// to it as they would to a collector (OTEL_EXPORTER_OTLP_ENDPOINT), and the
// test reads the spans from memory.
type spanSink struct {
	mu    sync.Mutex
	spans []spanRecord
}

func (s *spanSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		region := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "cloud.region" {
				region = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.spans = append(s.spans, spanRecord{Trace: hex.EncodeToString(sp.TraceId), ID: hex.EncodeToString(sp.SpanId),
					Parent: hex.EncodeToString(sp.ParentSpanId), Name: sp.Name, Region: region})
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestForwardedLoginIsOneTrace: a login that lands in us-east1 for a user
// homed in europe-west1 is forwarded there; the spans of both regions (the
// entry's request, the home region's request, its login steps, its
// database statements and its hash) form one trace.
func TestForwardedLoginIsOneTrace(t *testing.T) {
	sink := &spanSink{}
	collector := httptest.NewServer(sink)
	defer collector.Close()
	base := with(testEnv(t), "OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL, "OTEL_SERVICE_NAME", "gatehouse-test")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	names := []string{"us-east1", "europe-west1"}
	var yaml strings.Builder
	yaml.WriteString("primary: us-east1\nregions:\n")
	envs := map[string]map[string]string{}
	for i, name := range names {
		port := freePort(t)
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		fmt.Fprintf(&yaml, "  - {name: %s, public_url: %q, internal_url: %q, redis_url: \"redis://127.0.0.1:6379/%d\"}\n", name, url, url, 11+i)
		envs[name] = with(base, "GATEHOUSE_REGION", name, "GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port),
			"GATEHOUSE_REDIS_URL", fmt.Sprintf("redis://127.0.0.1:6379/%d", 11+i),
			"GATEHOUSE_FORWARDING_KEYS", "k1:"+base64.StdEncoding.EncodeToString(secret))
	}
	file := filepath.Join(t.TempDir(), "regions.yaml")
	if err := os.WriteFile(file, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	servers := map[string]*testServer{}
	for _, name := range names {
		envs[name]["GATEHOUSE_REGIONS_FILE"] = file
		servers[name] = startServer(t, envs[name])
	}
	const email, pw = "traced@example.org", "a passphrase worth tracing"
	signUpVia(t, servers["europe-west1"].URL, email, pw)
	resp, body := call(t, "POST", servers["us-east1"].URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, body)
	}
	wantRegions(t, resp, "europe-west1", "us-east1")
	for _, name := range names { // stopping flushes the exporters
		servers[name].stop(t)
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	var entry *spanRecord
	for i, s := range sink.spans {
		if s.Region == "us-east1" && s.Name == "POST /v1/login" && s.Parent == "" {
			entry = &sink.spans[i]
		}
	}
	if entry == nil {
		t.Fatalf("no root span of the login in us-east1 among %d spans: %+v", len(sink.spans), sink.spans)
	}
	found := map[string]bool{}
	for _, s := range sink.spans {
		if s.Trace != entry.Trace {
			continue
		}
		switch {
		case s.Region == "europe-west1" && s.Name == "POST /v1/login":
			found["home region request"] = s.Parent == entry.ID
		case s.Region == "europe-west1" && s.Name == "login":
			found["login"] = true
		case s.Region == "europe-west1" && (s.Name == "login.limits" || s.Name == "login.admission"):
			found["limits and admission"] = true
		case s.Region == "europe-west1" && strings.HasPrefix(s.Name, "db"):
			found["database"] = true
		case s.Region == "europe-west1" && strings.HasPrefix(s.Name, "redis"):
			found["redis"] = true
		case s.Region == "europe-west1" && s.Name == "password.verify":
			found["hash"] = true
		case s.Region == "europe-west1" && s.Name == "login.token":
			found["token"] = true
		}
	}
	for _, want := range []string{"home region request", "login", "limits and admission", "database", "redis", "hash", "token"} {
		if !found[want] {
			var names []string
			for _, s := range sink.spans {
				if s.Trace == entry.Trace {
					names = append(names, s.Region+":"+s.Name)
				}
			}
			t.Errorf("the trace lacks the %s span (a child of the entry's span for the request); it has %v", want, names)
		}
	}
}
