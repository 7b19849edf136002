package k6report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func pointLine(metric string, at time.Time, value float64, tags map[string]string) string {
	b, _ := json.Marshal(map[string]any{"type": "Point", "metric": metric,
		"data": map[string]any{"time": at.Format(time.RFC3339Nano), "value": value, "tags": tags}})
	return string(b)
}

func TestReportSeriesAndFiles(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)
	var lines []string
	lines = append(lines, `{"type":"Metric","data":{"name":"http_reqs","type":"counter"},"metric":"http_reqs"}`)
	// Second 0: 20 legit logins of 10..200 ms; second 1: 1 of 500 ms.
	for i := 1; i <= 20; i++ {
		lines = append(lines, pointLine("legit_login_duration", t0.Add(time.Duration(i-1)*time.Millisecond), float64(10*i), map[string]string{"phase": "baseline"}))
	}
	lines = append(lines, pointLine("legit_login_duration", t0.Add(1500*time.Millisecond), 500, map[string]string{"phase": "attack"}))
	for i, status := range []string{"401", "403", "403", "429", "503", "200", "423", "0"} {
		lines = append(lines, pointLine("http_reqs", t0.Add(1*time.Second+time.Duration(i)*time.Millisecond), 1, map[string]string{"scenario": "attack", "status": status}))
	}
	lines = append(lines, pointLine("http_reqs", t0.Add(2*time.Second), 1, map[string]string{"scenario": "legit_attack", "status": "200"}))
	rep, err := Read(strings.NewReader(strings.Join(lines, "\n")), Options{Suite: "test", Bucket: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HTTPRequests != 9 || rep.LegitCount != 21 {
		t.Errorf("requests %d legit %d, want 9 and 21", rep.HTTPRequests, rep.LegitCount)
	}
	if got := rep.Series[0].LegitP95Ms; got != 190 {
		t.Errorf("p95 of second 0 = %v, want 190 (nearest rank of 20)", got)
	}
	if got := rep.Series[1].LegitP95Ms; got != 500 {
		t.Errorf("p95 of second 1 = %v, want 500", got)
	}
	want := map[string]int{OutcomeHashed: 2, OutcomeChallenged: 2, OutcomeLimited: 1, OutcomeOverloaded: 1, OutcomeLocked: 1, OutcomeOther: 1}
	if fmt.Sprint(rep.AttackTotal) != fmt.Sprint(want) || fmt.Sprint(rep.Series[1].Attack) != fmt.Sprint(want) {
		t.Errorf("attack %v / %v, want %v", rep.AttackTotal, rep.Series[1].Attack, want)
	}
	summary := `{"metrics":{"attack_reached_hash":{"thresholds":{"rate<=0.05":{"ok":false}}},"legit_login_success{phase:attack}":{"thresholds":{"rate>=0.99":{"ok":true}}}}}`
	if err := rep.AddSummary(strings.NewReader(summary)); err != nil {
		t.Fatal(err)
	}
	if rep.ThresholdsOK || len(rep.Thresholds) != 2 {
		t.Errorf("thresholds %+v ok=%v, want two, one failed", rep.Thresholds, rep.ThresholdsOK)
	}
	dir := t.TempDir()
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"legit_p95.png", "attack_outcomes.png"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() < 200 {
			t.Errorf("%s: not a plot: %v", f, err)
		}
	}
	var back Report
	raw, _ := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err := json.Unmarshal(raw, &back); err != nil || back.HTTPRequests != 9 || back.LegitP95Plot != "legit_p95.png" {
		t.Errorf("summary.json: %v %+v", err, back)
	}
}

func TestReadRefusesGarbage(t *testing.T) {
	for _, in := range []string{"", "not json", `{"type":"Metric"}`} {
		if _, err := Read(strings.NewReader(in), Options{}); err == nil {
			t.Errorf("Read(%q) succeeded", in)
		}
	}
}

// FuzzRead: any input gives a report or an error, never a panic, and a
// report's series covers every point.
func FuzzRead(f *testing.F) {
	t0 := time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)
	f.Add(pointLine("legit_login_duration", t0, 12, nil) + "\n" + pointLine("http_reqs", t0.Add(3*time.Second), 1, map[string]string{"scenario": "attack", "status": "429"}))
	f.Add(`{"type":"Point","metric":"http_reqs","data":{"time":"2026-12-06T16:00:00Z","value":1e300}}`)
	f.Add("{}\n{}")
	f.Add(`{"type":"Point","data":{"time":"0001-01-01T00:00:01Z"}}` + "\n" + `{"type":"Point","data":{"time":"9999-01-01T00:00:00Z"}}`)
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := Read(strings.NewReader(in), Options{Bucket: time.Second})
		if err != nil {
			return
		}
		if len(rep.Series) == 0 {
			t.Fatal("a report without a series")
		}
	})
}
