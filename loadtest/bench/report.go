package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxFailureShare is the share of failed operations above which a figure
// is reported but the run fails.
const maxFailureShare = 0.01

// reporter prints the contract's output: `BENCH <name> <value> <unit>`
// lines and `#` comments, on one writer (stdout).
type reporter struct {
	w io.Writer
	// problems are figures that were printed but are not trustworthy.
	problems []string
}

// comment prints a `# ...` line.
func (r *reporter) comment(format string, args ...any) {
	fmt.Fprintf(r.w, "# "+format+"\n", args...)
}

// figure prints one BENCH line.
func (r *reporter) figure(name string, value float64, unit string) {
	fmt.Fprintf(r.w, "BENCH %s %s %s\n", name, plainNumber(value), unit)
}

// load prints a comment describing a load result and notes it as a
// problem when too many of its operations failed.
func (r *reporter) load(name string, workers int, res loadResult) {
	r.comment("%s: %d clients, %d ok in %.2fs, mean latency %s", name, workers, res.ok, res.window.Seconds(), roundDuration(res.meanLatency()))
	if res.failed == 0 {
		return
	}
	r.comment("%s: %s", name, res.failureSummary())
	if float64(res.failed) > maxFailureShare*float64(res.ok+res.failed) {
		r.problems = append(r.problems, fmt.Sprintf("%s: %s", name, res.failureSummary()))
	}
}

// problem reports the run's untrustworthy figures, if any, as one error.
func (r *reporter) problem() error {
	if len(r.problems) == 0 {
		return nil
	}
	return fmt.Errorf("figures printed but with more than %.0f%% failed operations:\n  %s", 100*maxFailureShare, strings.Join(r.problems, "\n  "))
}

// plainNumber formats v with about four significant digits and never an
// exponent, e.g. 12345.6 → "12346", 0.98765 → "0.9877".
func plainNumber(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	decimals := max(0, 3-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// roundDuration rounds d to three significant digits for display.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(10 * time.Nanosecond)
	}
}
