package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertNames are the alert rules issue 17 defines (k8s/monitoring/); a
// runbook may name only these.
var alertNames = []string{
	"GatehouseLoginAvailabilityBurnFast", "GatehouseLoginAvailabilityBurnSlow",
	"GatehouseLoginLatencyBurnFast", "GatehouseLoginLatencyBurnSlow",
	"GatehouseRefreshAvailabilityBurnFast", "GatehouseRefreshAvailabilityBurnSlow",
	"GatehouseRevocationPropagationSlow", "GatehouseHashingSaturated",
	"GatehouseRateLimiterUnavailable", "GatehouseKeyRefreshFailing",
	"GatehouseEventBacklogOld", "GatehouseStuffingDetected", "GatehouseDefenseModeChanged",
}

// wantRunbooks are the procedures issue 18 asks for.
var wantRunbooks = []string{
	"credential-stuffing.md", "pepper-rotation.md", "signing-key-rotation.md", "key-compromise.md",
	"region-evacuation.md", "redis-loss.md", "vault-outage.md", "database-failover.md",
	"backup-restore-drill.md", "adding-a-region.md",
}

// runbookRefs is what one runbook names.
type runbookRefs struct {
	commands  [][]string // `gatehouse keys rotate pepper` → [keys rotate pepper]
	endpoints [][2]string
	metrics   []string
	alerts    []string
	targets   []string // `make k6-stuffing`
}

var (
	codeSpan    = regexp.MustCompile("`([^`]+)`")
	commandRe   = regexp.MustCompile(`^(?:[A-Z_]+=\S*\s+)*gatehouse((?:\s+[a-z][a-z0-9-]*)+)`)
	endpointRe  = regexp.MustCompile(`^(GET|POST|PUT|DELETE|PATCH) (/[A-Za-z0-9_./{}:-]*)`)
	metricRe    = regexp.MustCompile(`\bgatehouse_[a-z0-9_]+`)
	alertRe     = regexp.MustCompile(`\bGatehouse[A-Z][A-Za-z]+\b`)
	makeRe      = regexp.MustCompile(`(?:^|\s)make ([a-z0-9][a-z0-9%-]*)`)
	urlPathRe   = regexp.MustCompile(`\$REGION_URL(/[A-Za-z0-9_./-]+)`)
	placeholder = regexp.MustCompile(`\{[a-z_]+\}`)
)

// parseRunbook finds what a runbook names: commands, endpoints, metrics and
// make targets in code spans, alerts anywhere.
func parseRunbook(text string) runbookRefs {
	var r runbookRefs
	for _, m := range codeSpan.FindAllStringSubmatch(text, -1) {
		span := m[1]
		for _, c := range commandRe.FindAllStringSubmatch(span, -1) {
			r.commands = append(r.commands, strings.Fields(c[1]))
		}
		if e := endpointRe.FindStringSubmatch(span); e != nil {
			r.endpoints = append(r.endpoints, [2]string{e[1], e[2]})
		}
		for _, u := range urlPathRe.FindAllStringSubmatch(span, -1) {
			method := "GET"
			if strings.Contains(span, "-X PUT") {
				method = "PUT"
			}
			r.endpoints = append(r.endpoints, [2]string{method, u[1]})
		}
		r.metrics = append(r.metrics, metricRe.FindAllString(span, -1)...)
		for _, t := range makeRe.FindAllStringSubmatch(span, -1) {
			r.targets = append(r.targets, t[1])
		}
	}
	r.alerts = alertRe.FindAllString(text, -1)
	return r
}

// rulesAlerts reads every alert name from Prometheus rule files
// (groups: → rules: → alert:) under dir; none when there are no rule files.
func rulesAlerts(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	alerts := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var doc any
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			collectAlerts(doc, alerts)
		}
	}
	return alerts
}

// collectAlerts finds groups: → rules: → alert: anywhere in a YAML document
// (a plain rule file, or a PrometheusRule object's spec).
func collectAlerts(node any, alerts map[string]bool) {
	switch n := node.(type) {
	case map[string]any:
		if groups, ok := n["groups"].([]any); ok {
			for _, g := range groups {
				gm, _ := g.(map[string]any)
				rules, _ := gm["rules"].([]any)
				for _, r := range rules {
					if rm, ok := r.(map[string]any); ok {
						if name, ok := rm["alert"].(string); ok && name != "" {
							alerts[name] = true
						}
					}
				}
			}
		}
		for _, v := range n {
			collectAlerts(v, alerts)
		}
	case []any:
		for _, v := range n {
			collectAlerts(v, alerts)
		}
	}
}

func TestRunbookParsing(t *testing.T) {
	r := parseRunbook("Run `gatehouse keys rotate pepper --config x` then `PUT /admin/v1/defense` and " +
		"`rate(gatehouse_password_hash_seconds_count[1m])`, `make k6-stuffing`, " +
		"`curl -X PUT $REGION_URL/admin/v1/defense`; alert GatehouseHashingSaturated.")
	if len(r.commands) != 1 || strings.Join(r.commands[0], " ") != "keys rotate pepper" {
		t.Errorf("commands %v", r.commands)
	}
	if len(r.endpoints) != 2 || r.endpoints[0] != [2]string{"PUT", "/admin/v1/defense"} || r.endpoints[1] != [2]string{"PUT", "/admin/v1/defense"} {
		t.Errorf("endpoints %v", r.endpoints)
	}
	if !slices.Equal(r.metrics, []string{"gatehouse_password_hash_seconds_count"}) || !slices.Equal(r.targets, []string{"k6-stuffing"}) ||
		!slices.Equal(r.alerts, []string{"GatehouseHashingSaturated"}) {
		t.Errorf("metrics %v targets %v alerts %v", r.metrics, r.targets, r.alerts)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("groups:\n- name: g\n  rules:\n  - alert: GatehouseX\n    expr: up == 0\n  - record: x:y\n    expr: up\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "operator.yml"), []byte("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n  - name: h\n    rules:\n    - alert: GatehouseY\n---\n- a list\n"), 0o644)
	if got := rulesAlerts(t, dir); !got["GatehouseX"] || !got["GatehouseY"] || len(got) != 2 {
		t.Errorf("rules: %v", got)
	}
}

// TestRunbooks: everything a runbook names exists.
func TestRunbooks(t *testing.T) {
	root := filepath.Join("..", "..")
	dir := filepath.Join(root, "docs", "runbooks")
	for _, want := range wantRunbooks {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("missing runbook %s", want)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	refs := map[string]runbookRefs{}
	for _, p := range pages {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		refs[filepath.Base(p)] = parseRunbook(string(raw))
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	rules := rulesAlerts(t, filepath.Join(root, "k8s", "monitoring"))
	t.Logf("alert rules found in k8s/monitoring: %d", len(rules))

	// A running server, exercised so that every labelled metric has a series.
	env := testEnv(t)
	srv := startServer(t, env)
	call(t, "POST", srv.URL+"/v1/users", strings.NewReader(`{"email":"runbook@example.com","password":"correct horse battery staple"}`))
	call(t, "POST", srv.URL+"/v1/login", strings.NewReader(`{"email":"runbook@example.com","password":"correct horse battery staple"}`))
	call(t, "POST", srv.URL+"/v1/login", strings.NewReader(`{"email":"runbook@example.com","password":"wrong horse battery staple"}`))
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scraped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string]bool{}
	for _, line := range strings.Split(string(scraped), "\n") {
		if name := metricRe.FindString(line); name != "" && strings.HasPrefix(line, name) {
			exported[name] = true
		}
	}

	for page, r := range refs {
		for _, words := range r.commands {
			var out, errb bytes.Buffer
			args := append(slices.Clone(words), "--help")
			if code := exitCode(run(context.Background(), args, lookup(env), nil, &out, &errb), io.Discard); code != exitOK {
				t.Errorf("%s: `gatehouse %s --help` exits %d\n%s", page, strings.Join(words, " "), code, errb.String())
			}
		}
		for _, e := range r.endpoints {
			path := placeholder.ReplaceAllString(e[1], "7d2e3179-f69b-450c-8179-ac8ee8bd8ca9")
			req, _ := http.NewRequest(e[0], srv.URL+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				t.Errorf("%s: %s %s answers 404", page, e[0], e[1])
			}
		}
		for _, m := range r.metrics {
			base := m
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(m, suffix); ok && exported[m] {
					base = b
				}
			}
			if !exported[m] && !exported[base] && !exported[m+"_count"] {
				t.Errorf("%s: metric %s is not exported by the server", page, m)
			}
		}
		for _, a := range r.alerts {
			if !slices.Contains(alertNames, a) {
				t.Errorf("%s: alert %s is not one of issue 17's alerts", page, a)
			}
			if len(rules) > 0 && !rules[a] {
				t.Errorf("%s: alert %s is not in the rules of k8s/monitoring", page, a)
			}
		}
		for _, target := range r.targets {
			ok := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile)
			if !ok && strings.HasPrefix(target, "k6-") {
				ok = bytes.Contains(makefile, []byte("\nk6-%:")) && fileExists(filepath.Join(root, "loadtest", strings.TrimPrefix(target, "k6-")+".js"))
			}
			if !ok {
				t.Errorf("%s: `make %s` is not a Makefile target", page, target)
			}
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
