// Package k6report turns a k6 run into Gatehouse's load-test report: a
// summary JSON (thresholds and their verdicts, request counts, per-second
// series) and PNG plots of the legitimate users' p95 latency and of the
// attack's outcomes over time. It reads k6's `--out json=FILE` stream of
// points and, when given, the end-of-test summary a suite's handleSummary
// writes (SUMMARY_JSON); `make k6-<suite>` and the stuffing suite's test use it.
package k6report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Outcome names an attack answer by what it cost the server.
const (
	OutcomeHashed     = "reached_hash" // 200 or 401: an Argon2id verification ran
	OutcomeChallenged = "challenged"   // 403 challenge_required
	OutcomeLimited    = "rate_limited" // 429
	OutcomeLocked     = "locked"       // 423
	OutcomeOverloaded = "overloaded"   // 503
	OutcomeOther      = "other"
)

// outcomeOf maps an HTTP status to an Outcome.
func outcomeOf(status string) string {
	switch status {
	case "200", "401":
		return OutcomeHashed
	case "403":
		return OutcomeChallenged
	case "429":
		return OutcomeLimited
	case "423":
		return OutcomeLocked
	case "503":
		return OutcomeOverloaded
	}
	return OutcomeOther
}

// Bucket is one interval of the run.
type Bucket struct {
	// Second is the bucket's start, in seconds since the first point.
	Second float64 `json:"t"`
	// LegitP95Ms is the nearest-rank p95 of legitimate logins that ended in
	// the bucket (NaN-free: -1 when none did); LegitCount how many.
	LegitP95Ms float64 `json:"legit_p95_ms"`
	LegitCount int     `json:"legit_count"`
	// Attack counts attack requests by Outcome.
	Attack map[string]int `json:"attack"`
}

// Threshold is one k6 threshold and its verdict.
type Threshold struct {
	Metric string `json:"metric"`
	Expr   string `json:"expr"`
	OK     bool   `json:"ok"`
}

// Report is the summary JSON.
type Report struct {
	Suite        string         `json:"suite"`
	Start        time.Time      `json:"start"`
	DurationS    float64        `json:"duration_s"`
	BucketS      float64        `json:"bucket_s"`
	Points       int            `json:"points"`
	HTTPRequests int            `json:"http_requests"`
	AttackTotal  map[string]int `json:"attack_total"`
	LegitCount   int            `json:"legit_count"`
	Thresholds   []Threshold    `json:"thresholds"`
	ThresholdsOK bool           `json:"thresholds_ok"`
	SummaryLines []string       `json:"summary_lines,omitempty"`
	Series       []Bucket       `json:"series"`
	LegitP95Plot string         `json:"legit_p95_png,omitempty"`
	AttackPlot   string         `json:"attack_outcomes_png,omitempty"`
	Files        []string       `json:"-"`
}

// point is one line of k6's JSON output.
type point struct {
	Type   string `json:"type"`
	Metric string `json:"metric"`
	Data   struct {
		Time  time.Time         `json:"time"`
		Value float64           `json:"value"`
		Tags  map[string]string `json:"tags"`
	} `json:"data"`
}

// sample is what the report keeps of a point.
type sample struct {
	at     time.Time
	value  float64
	status string
}

// maxBuckets bounds the series.
const maxBuckets = 10000

// Options name the inputs.
type Options struct {
	Suite string
	// LegitMetric is the Trend of legitimate logins (ms); default
	// "legit_login_duration". AttackScenario is the scenario whose
	// http_reqs are the attack; default "attack".
	LegitMetric, AttackScenario string
	// Bucket is the series' interval; default: the run's length / 60,
	// at least one second.
	Bucket time.Duration
}

// Read parses k6's JSON output.
func Read(r io.Reader, opt Options) (*Report, error) {
	if opt.LegitMetric == "" {
		opt.LegitMetric = "legit_login_duration"
	}
	if opt.AttackScenario == "" {
		opt.AttackScenario = "attack"
	}
	var legit, attack []sample
	rep := &Report{Suite: opt.Suite, AttackTotal: map[string]int{}}
	var first, last time.Time
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		var p point
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("k6report: line %d is not k6 JSON output: %w", line, err)
		}
		if p.Type != "Point" {
			continue
		}
		rep.Points++
		at := p.Data.Time
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
		switch {
		case p.Metric == opt.LegitMetric:
			legit = append(legit, sample{at: at, value: p.Data.Value})
		case p.Metric == "http_reqs":
			rep.HTTPRequests += int(p.Data.Value)
			if p.Data.Tags["scenario"] == opt.AttackScenario {
				attack = append(attack, sample{at: at, status: p.Data.Tags["status"]})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("k6report: %w", err)
	}
	if rep.Points == 0 {
		return nil, errors.New("k6report: no points in the k6 output")
	}
	rep.Start = first
	rep.DurationS = last.Sub(first).Seconds()
	bucket := opt.Bucket
	if bucket <= 0 {
		bucket = max(time.Second, last.Sub(first)/60).Round(time.Second)
	}
	// At most maxBuckets buckets, whatever the times in the input say.
	if span := last.Sub(first); span/bucket >= maxBuckets {
		bucket = span/maxBuckets + 1
	}
	rep.BucketS = bucket.Seconds()
	n := int(last.Sub(first)/bucket) + 1
	rep.Series = make([]Bucket, n)
	durations := make([][]float64, n)
	for i := range rep.Series {
		rep.Series[i] = Bucket{Second: float64(i) * rep.BucketS, LegitP95Ms: -1, Attack: map[string]int{}}
	}
	for _, s := range legit {
		i := int(s.at.Sub(first) / bucket)
		durations[i] = append(durations[i], s.value)
		rep.LegitCount++
	}
	for _, s := range attack {
		i := int(s.at.Sub(first) / bucket)
		o := outcomeOf(s.status)
		rep.Series[i].Attack[o]++
		rep.AttackTotal[o]++
	}
	for i, d := range durations {
		rep.Series[i].LegitCount = len(d)
		if len(d) > 0 {
			rep.Series[i].LegitP95Ms = p95(d)
		}
	}
	return rep, nil
}

// p95 is the nearest-rank 95th percentile.
func p95(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[int(math.Ceil(0.95*float64(len(s))))-1]
}

// AddSummary reads k6's end-of-test summary (the data handleSummary gets,
// as a suite writes it to SUMMARY_JSON) for the thresholds' verdicts.
func (rep *Report) AddSummary(r io.Reader) error {
	var sum struct {
		Metrics map[string]struct {
			Thresholds map[string]struct {
				OK bool `json:"ok"`
			} `json:"thresholds"`
		} `json:"metrics"`
	}
	if err := json.NewDecoder(r).Decode(&sum); err != nil {
		return fmt.Errorf("k6report: the k6 summary: %w", err)
	}
	rep.Thresholds = nil
	for metric, m := range sum.Metrics {
		for expr, th := range m.Thresholds {
			rep.Thresholds = append(rep.Thresholds, Threshold{Metric: metric, Expr: expr, OK: th.OK})
		}
	}
	sort.Slice(rep.Thresholds, func(i, j int) bool {
		a, b := rep.Thresholds[i], rep.Thresholds[j]
		return a.Metric < b.Metric || a.Metric == b.Metric && a.Expr < b.Expr
	})
	rep.ThresholdsOK = len(rep.Thresholds) > 0
	for _, th := range rep.Thresholds {
		rep.ThresholdsOK = rep.ThresholdsOK && th.OK
	}
	return nil
}

// Write writes summary.json and the plots into dir.
func (rep *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rep.LegitP95Plot, rep.AttackPlot = "", ""
	if rep.LegitCount > 0 {
		rep.LegitP95Plot = "legit_p95.png"
		if err := plotLegit(rep, filepath.Join(dir, rep.LegitP95Plot)); err != nil {
			return err
		}
	}
	if len(rep.AttackTotal) > 0 {
		rep.AttackPlot = "attack_outcomes.png"
		if err := plotAttack(rep, filepath.Join(dir, rep.AttackPlot)); err != nil {
			return err
		}
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "summary.json"), append(raw, '\n'), 0o644)
}

// ReadFiles is Read, AddSummary (when summaryFile is not "") and Write.
func ReadFiles(pointsFile, summaryFile, outDir string, opt Options) (*Report, error) {
	f, err := os.Open(pointsFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rep, err := Read(f, opt)
	if err != nil {
		return nil, err
	}
	if summaryFile != "" {
		s, err := os.Open(summaryFile)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		if err := rep.AddSummary(s); err != nil {
			return nil, err
		}
	}
	return rep, rep.Write(outDir)
}
