// Command k6report writes a k6 run's report: summary.json and PNG plots of
// the legitimate users' p95 and of the attack's outcomes over time.
//
//	k6 run --out json=points.json -e SUMMARY_JSON=summary-k6.json loadtest/stuffing.js
//	go run ./loadtest/k6report/cmd/k6report -suite stuffing -points points.json -summary summary-k6.json -out loadtest/reports/stuffing
//
// It exits 1 when the summary says a threshold failed, 2 on bad usage.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gatehouse-id/gatehouse/loadtest/k6report"
)

func main() {
	fs := flag.NewFlagSet("k6report", flag.ContinueOnError)
	suite := fs.String("suite", "k6", "suite name, shown in the plots")
	points := fs.String("points", "", "k6 --out json file (required)")
	summary := fs.String("summary", "", "k6 end-of-test summary JSON (handleSummary's data), for the thresholds")
	out := fs.String("out", "", "report directory (required)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *points == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "k6report: want -points FILE -out DIR [-summary FILE] [-suite NAME]")
		os.Exit(2)
	}
	rep, err := k6report.ReadFiles(*points, *summary, *out, k6report.Options{Suite: *suite})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("k6report: %s: %d requests, %d legit logins, attack %v; report in %s\n", *suite, rep.HTTPRequests, rep.LegitCount, rep.AttackTotal, *out)
	for _, th := range rep.Thresholds {
		verdict := "ok"
		if !th.OK {
			verdict = "FAILED"
		}
		fmt.Printf("  threshold %s %s: %s\n", th.Metric, th.Expr, verdict)
	}
	if *summary != "" && !rep.ThresholdsOK {
		os.Exit(1)
	}
}
