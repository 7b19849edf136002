package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promtool is Prometheus's rule checker (Debian's prometheus package;
// .ci/services installs it). Its absence fails the test.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is required (apt-get install prometheus; .ci/services installs it): %v", err)
	}
	return p
}

// TestAlertRulesPassPromtool: the rule file is valid and its unit tests
// fire every alert from synthetic series (k8s/monitoring/tests).
func TestAlertRulesPassPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "gatehouse-rules.yaml"}, {"test", "rules", "tests/gatehouse-rules-test.yaml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../k8s/monitoring"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}
	// Every alert the runbooks (issue 18) name exists.
	raw, err := os.ReadFile("../../k8s/monitoring/gatehouse-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"GatehouseLoginAvailabilityBurnFast", "GatehouseLoginAvailabilityBurnSlow", "GatehouseLoginLatencyBurnFast",
		"GatehouseLoginLatencyBurnSlow", "GatehouseRefreshAvailabilityBurnFast", "GatehouseRefreshAvailabilityBurnSlow",
		"GatehouseRevocationPropagationSlow", "GatehouseHashingSaturated", "GatehouseRateLimiterUnavailable", "GatehouseKeyRefreshFailing",
		"GatehouseEventBacklogOld", "GatehouseStuffingDetected", "GatehouseDefenseModeChanged"} {
		if !strings.Contains(string(raw), "alert: "+a+"\n") {
			t.Errorf("no alert %s", a)
		}
	}
}

var metricName = regexp.MustCompile(`\bgatehouse_[a-z0-9_]+`)

// referencedMetrics lists the gatehouse_ series the rules and the
// dashboard query (recording rules are named gatehouse:…, which the
// pattern does not match), with histogram suffixes removed.
func referencedMetrics(t *testing.T) []string {
	t.Helper()
	var text strings.Builder
	rules, err := os.ReadFile("../../k8s/monitoring/gatehouse-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if !strings.Contains(line, "record:") && !strings.Contains(line, "runbook_url") {
			text.WriteString(line + "\n")
		}
	}
	raw, err := os.ReadFile("../../k8s/monitoring/gatehouse-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct{ Expr string } `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			text.WriteString(tg.Expr + "\n")
		}
	}
	for _, a := range dash.Annotations.List {
		text.WriteString(a.Expr + "\n")
	}
	var out []string
	for _, m := range metricName.FindAllString(text.String(), -1) {
		for _, suf := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(m, suf); ok && strings.HasSuffix(base, "_seconds") {
				m = base // a histogram's series
			}
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// TestRulesAndDashboardUseExportedMetrics scrapes /metrics after a short
// scripted session (sign-up, logins good and bad, a refresh, a ban) and finds
// every series the rules and the dashboard query.
func TestRulesAndDashboardUseExportedMetrics(t *testing.T) {
	want := referencedMetrics(t)
	if len(want) < 10 {
		t.Fatalf("only %d metrics referenced: %v", len(want), want)
	}
	s := startServer(t, testEnv(t))
	const email, pw = "metrics@example.org", "a passphrase for the scrape"
	signUp(t, s.URL, email, pw)
	call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"not the passphrase"}`))
	tok := login(t, s.URL, email, pw)
	if resp, b := refresh(t, s.URL, tok["refresh_token"].(string)); resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", resp.StatusCode, b)
	}
	uid := claimsOf(t, tok["access_token"].(string))["sub"].(string)
	if resp, b := call(t, "POST", s.URL+"/admin/v1/users/"+uid+"/ban", nil, bearer("test-admin-token-0123456789abcdef")...); resp.StatusCode != 200 {
		t.Fatalf("ban: %d %v", resp.StatusCode, b)
	}
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	exported := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			exported[strings.Fields(line)[2]] = true
		}
	}
	for _, m := range want {
		if !exported[m] {
			t.Errorf("the rules or the dashboard use %s, which the server does not export", m)
		}
	}
	t.Logf("%d metrics referenced, all exported: %v", len(want), want)
}
