package main

// The attack of the stuffing phase runs in a process of its own, as an
// attacker's bots do: in the harness's own process, its 2,048 connections
// opening at once queued the legit users' requests behind them in the
// harness's Go scheduler, and the legit latency measured the harness, not
// the server. The harness starts itself again with -stuffing-attacker,
// writes the job as JSON on the child's stdin, and reads the tally as JSON
// from its stdout. The attack process runs at a lower CPU priority
// (attackerNice): in production an attacker's CPU is not the server's, and
// on this two-core machine the bots' own work (opening 2,048 connections,
// encoding requests) would otherwise take the server's CPU at the burst's
// onset. The report prints the rate the attack achieved, so a nice that
// starved it would show.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// attackJob is what the attack process is told.
type attackJob struct {
	Base        string        `json:"base"`
	Rate        float64       `json:"rate"`
	MaxInflight int           `json:"max_inflight"`
	SolveEvery  int           `json:"solve_every"`
	Emails      []string      `json:"emails"`
	Passwords   []string      `json:"passwords"`
	Valid       []bool        `json:"valid"`
	Addrs       []string      `json:"addrs"`
	Timeout     time.Duration `json:"timeout"`
}

// attackReport is what it answers.
type attackReport struct {
	Ran, Dropped int
	Took         time.Duration
	Requests     int
	Answers      map[string]int
	Reached      int
	Takeovers    int
	ValidSent    int
	Solved       int
	Errors       int
	Latency      []time.Duration
}

// attackInProcess runs the attack in this process instead (the harness's
// own test, whose binary is not the harness).
var attackInProcess = false

// newAttackJob packs the leaked list and the addresses.
func newAttackJob(base string, plan stuffingPlan, leaked []leakedPair, addrs []string, solveEvery int, timeout time.Duration) attackJob {
	j := attackJob{Base: base, Rate: plan.attackRate, MaxInflight: plan.maxInflight, SolveEvery: solveEvery, Addrs: addrs, Timeout: timeout}
	for _, p := range leaked {
		j.Emails, j.Passwords, j.Valid = append(j.Emails, p.email), append(j.Passwords, p.password), append(j.Valid, p.valid)
	}
	return j
}

// runAttack sends the job's attack from a child process (or in-process
// when attackInProcess) and returns its tally.
func runAttack(ctx context.Context, job attackJob) (attackReport, error) {
	if attackInProcess {
		return attack(ctx, job), nil
	}
	self, err := os.Executable()
	if err != nil {
		return attackReport{}, fmt.Errorf("stuffing: find the harness binary: %w", err)
	}
	in, err := json.Marshal(job)
	if err != nil {
		return attackReport{}, err
	}
	cmd := lowPriorityCommand(ctx, self, "-stuffing-attacker")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return attackReport{}, fmt.Errorf("stuffing: attack process: %w: %s", err, tail(stderr.String(), 2000))
	}
	var rep attackReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return attackReport{}, fmt.Errorf("stuffing: attack process answered %d bytes that are not a report: %w", out.Len(), err)
	}
	return rep, nil
}

// attackerNice is the niceness of the attack process (0 normal, 19 lowest).
const attackerNice = 10

// lowPriorityCommand runs name with args under nice(1) when it is
// installed, so that every thread of the process starts at the lower
// priority (setpriority on a running Go process reaches only one of its
// threads); without nice it runs at normal priority.
func lowPriorityCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	if nice, err := exec.LookPath("nice"); err == nil {
		return exec.CommandContext(ctx, nice, append([]string{"-n", strconv.Itoa(attackerNice), name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// attackerMain is the attack process: job on stdin, report on stdout.
func attackerMain() int {
	raw, err := io.ReadAll(os.Stdin)
	var job attackJob
	if err == nil {
		err = json.Unmarshal(raw, &job)
	}
	if err == nil && (len(job.Emails) != len(job.Passwords) || len(job.Emails) != len(job.Valid) || len(job.Addrs) == 0 || job.Rate <= 0) {
		err = errors.New("inconsistent job")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: -stuffing-attacker: bad job on stdin:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), job.Timeout)
	defer cancel()
	if err := json.NewEncoder(os.Stdout).Encode(attack(ctx, job)); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -stuffing-attacker:", err)
		return 1
	}
	return 0
}

// attack replays the leaked list at the job's rate, each pair from its
// address, solving a challenge for every SolveEvery-th pair when asked.
func attack(ctx context.Context, job attackJob) attackReport {
	client := newStuffingClient(job.Base, job.MaxInflight)
	defer client.close()
	tally := &attackTally{answers: map[string]int{}}
	ran, dropped, took := arrivals(ctx, job.Rate, len(job.Emails), job.MaxInflight, func(i int) {
		xff := job.Addrs[i%len(job.Addrs)]
		body := loginBody{Email: job.Emails[i], Password: job.Passwords[i]}
		for round := 0; round < 3; round++ {
			t0 := time.Now()
			a, err := client.post(ctx, "/v1/login", xff, body)
			tally.record(a, err, time.Since(t0), job.Valid[i], round == 0)
			if err != nil || a.status != http.StatusForbidden || a.challenge == nil || job.SolveEvery == 0 || i%job.SolveEvery != 0 || round == 2 {
				return
			}
			sol, serr := defense.SolveChallenge(ctx, a.challenge)
			if serr != nil {
				return
			}
			tally.mu.Lock()
			tally.solved++
			tally.mu.Unlock()
			body.ChallengeSolution = &sol
		}
	})
	return attackReport{Ran: ran, Dropped: dropped, Took: took, Requests: tally.requests, Answers: tally.answers,
		Reached: tally.reached, Takeovers: tally.takeovers, ValidSent: tally.validSent, Solved: tally.solved,
		Errors: tally.errors, Latency: tally.latency}
}

// tally turns a report back into the phase's tally.
func (r attackReport) tally() *attackTally {
	answers := r.Answers
	if answers == nil {
		answers = map[string]int{}
	}
	return &attackTally{requests: r.Requests, answers: answers, reached: r.Reached, takeovers: r.Takeovers,
		validSent: r.ValidSent, solved: r.Solved, errors: r.Errors, latency: r.Latency}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
