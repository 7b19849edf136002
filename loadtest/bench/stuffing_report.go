package main

// The stuffing phase's measurements from the server's /metrics, and its
// report.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric names read from GET /metrics.
const (
	hashCountMetric     = "gatehouse_password_hash_seconds_count"
	loginAttemptsMetric = "gatehouse_login_attempts_total"
	decisionsMetric     = "gatehouse_ratelimit_decisions_total"
)

// promSample is one scrape: series (name with its labels, as printed) to
// value.
type promSample map[string]float64

// sum adds up every series of metric name.
func (s promSample) sum(name string) float64 {
	total := 0.0
	for series, v := range s {
		if series == name || strings.HasPrefix(series, name+"{") {
			total += v
		}
	}
	return total
}

// scrapeMetrics reads GET /metrics.
func scrapeMetrics(ctx context.Context, c *apiClient) (promSample, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stuffing: GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stuffing: GET /metrics: HTTP %d", resp.StatusCode)
	}
	return parseMetrics(string(data)), nil
}

// parseMetrics reads the Prometheus text format's samples (a timestamp
// after the value, if any, is ignored).
func parseMetrics(text string) promSample {
	out := promSample{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		cut := strings.LastIndexByte(line, '}')
		if cut < 0 {
			cut = strings.IndexByte(line, ' ')
		} else {
			cut++
		}
		if cut <= 0 || cut >= len(line) {
			continue
		}
		fields := strings.Fields(line[cut:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSpace(line[:cut])] = v
	}
	return out
}

// deltas lists the series of name that changed between two scrapes, as
// "labels +delta".
func deltas(before, after promSample, name string) string {
	var parts []string
	for _, series := range slices.Sorted(maps.Keys(after)) {
		if !strings.HasPrefix(series, name+"{") {
			continue
		}
		if d := after[series] - before[series]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s +%s", strings.TrimPrefix(series, name), strconv.FormatFloat(d, 'f', -1, 64)))
		}
	}
	if len(parts) == 0 {
		return "(none changed)"
	}
	return strings.Join(parts, ", ")
}

// attackHashes is the Argon2id computations the attack caused: the
// server's count over the attack less the legit logins' that answered
// 200 or 401 in the same interval (legit traffic was stopped and drained
// at both scrapes).
func (r *stuffingResult) attackHashes() float64 {
	_, legitHashes, _ := r.during.successes()
	return max(r.hashDelta-float64(legitHashes), 0)
}

// attackFellShort reports whether an attack planned at the required
// multiple of the capacity or more achieved less than that multiple.
// achieved is the attempts sent over the time until the last was sent.
func attackFellShort(achieved float64, plan stuffingPlan) bool {
	required := requiredAttackMultiple * plan.capacity
	return plan.attackRate >= required && achieved < required
}

// report prints the phase's comments and figures.
func (r *stuffingResult) report(rep *reporter, plan stuffingPlan) {
	a := r.attack
	rep.comment("stuffing: own server with GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32, argon2id %s (cheaper than the figures above, to keep the phase short), Redis %s, defense keys %s* (fresh)", plan.argon2, redactURL(plan.redisURL), plan.keyPrefix)
	rep.comment("stuffing: argon2id capacity at these parameters %s hashes/s (Argon2id, all cores, no service); attack rate %s req/s = %s × capacity",
		plainNumber(plan.capacity), plainNumber(plan.attackRate), plainNumber(plan.attackRate/plan.capacity))
	achieved := float64(r.attempts) / r.attackWindow.Seconds()
	rep.comment("stuffing: attack %d attempts planned over %.1fs, %d sent (%s/s achieved, %s × capacity), %d dropped at %d in flight; %d HTTP requests with solved retries",
		plan.attempts, plan.attackFor.Seconds(), r.attempts, plainNumber(achieved), plainNumber(achieved/plan.capacity), r.dropped, plan.maxInflight, a.requests)
	rep.comment("stuffing: %d distinct attack addresses (%d IPv6) in %d subnets (/24, /56), %s attempts per address; valid pairs %d of %d sent (%s), %s of pairs with an account here, %d victim accounts",
		r.distinctAddrs, r.v6Addrs, r.subnets, plainNumber(float64(r.attempts)/float64(max(r.distinctAddrs, 1))),
		a.validSent, r.attempts, pct(float64(a.validSent), float64(r.attempts)), pct(plan.knownShare, 1), plan.victims)
	rep.comment("stuffing: attack answers: %s; %d challenges solved (solve share %s); %d valid pairs got a token", answerSummary(a.answers), a.solved, plainNumber(plan.solveShare), a.takeovers)
	if len(a.latency) > 0 {
		rep.comment("stuffing: attack latency median %s, p95 %s", roundDuration(median(slices.Clone(a.latency))), roundDuration(percentile(slices.Clone(a.latency), 0.95)))
	}
	bOK, _, bSolved := r.baseline.successes()
	dOK, dHashes, dSolved := r.during.successes()
	rep.comment("stuffing: legit %d users, %d with a device token from their warm-up login, each its own address; %s logins/s (%s × capacity)",
		r.legitUsers, r.withDevice, plainNumber(plan.legitRate), plainNumber(plan.legitRate/plan.capacity))
	rep.comment("stuffing: legit baseline %d logins in %.1fs, %d ok, %d challenges solved, p95 %s (%s before the attack, %s after), %d dropped%s",
		len(r.baseline.outcomes), r.baseline.window.Seconds(), bOK, bSolved, roundDuration(r.baseline.p95()),
		roundDuration(r.baselineBefore.p95()), roundDuration(r.baselineAfter.p95()), r.baseline.dropped, failureNote(r.baseline.failures()))
	rep.comment("stuffing: legit during attack %d logins in %.1fs, %d ok, %d challenges solved, p95 %s, %d dropped%s",
		len(r.during.outcomes), r.during.window.Seconds(), dOK, dSolved, roundDuration(r.during.p95()), r.during.dropped, failureNote(r.during.failures()))
	rep.comment("stuffing: legit p95 by when the login started in the attack: %s", r.during.p95BySlice(5*time.Second))
	rep.comment("stuffing: %s over the attack +%s, less %d by legit logins = %s by the attack; answers implying a hash (200, 401): %d",
		hashCountMetric, strconv.FormatFloat(r.hashDelta, 'f', -1, 64), dHashes, strconv.FormatFloat(r.attackHashes(), 'f', -1, 64), a.reached)
	rep.comment("stuffing: %s over the attack: %s", loginAttemptsMetric, deltas(r.before, r.after, loginAttemptsMetric))
	rep.comment("stuffing: %s over the attack: %s", decisionsMetric, deltas(r.before, r.after, decisionsMetric))
	rep.comment("stuffing: failed legit logins count as %s in the p95s", failedLoginLatency)

	successRatio := 0.0
	if n := len(r.during.outcomes) + r.during.dropped; n > 0 {
		successRatio = float64(dOK) / float64(n) // a dropped arrival (none expected) counts as a failure
	}
	if plan.shared != nil {
		plan.shared.report(rep, r, successRatio)
	} else {
		rep.figure("stuffing_legit_success_ratio", successRatio, "ratio")
		rep.figure("stuffing_legit_p95_ratio", r.during.p95().Seconds()/r.baseline.p95().Seconds(), "ratio")
		rep.figure("stuffing_attack_hash_ratio", r.attackHashes()/float64(max(a.requests, 1)), "ratio")
		// The attack's achieved rate, as its own lines: the attack process
		// runs at a lower CPU priority, and the burst must still reach 20 ×
		// the hashing capacity for the figures above to count.
		rep.figure("stuffing_attack_rate_per_s", achieved, "/s")
		rep.figure("stuffing_attack_vs_capacity_ratio", achieved/plan.capacity, "ratio")
	}
	if attackFellShort(achieved, plan) {
		rep.problems = append(rep.problems, fmt.Sprintf("stuffing: the attack achieved %s/s, under %d × the hashing capacity (%s/s)",
			plainNumber(achieved), requiredAttackMultiple, plainNumber(requiredAttackMultiple*plan.capacity)))
	}
	if r.dropped > r.attempts/100 {
		rep.problems = append(rep.problems, fmt.Sprintf("stuffing: %d of %d attack arrivals dropped: %d requests were in flight (the server answered slower than %d / attack rate); the attack rate was not reached",
			r.dropped, r.attempts+r.dropped, plan.maxInflight, plan.maxInflight))
	}
	if a.errors > a.requests/100 {
		rep.problems = append(rep.problems, fmt.Sprintf("stuffing: %d of %d attack requests failed in transport", a.errors, a.requests))
	}
}

func pct(part, whole float64) string {
	if whole == 0 {
		return "0%"
	}
	return plainNumber(100*part/whole) + "%"
}

func answerSummary(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] == 0 {
			parts = append(parts, k) // a note
			continue
		}
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func failureNote(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	return "; failures: " + answerSummary(map[string]int(m))
}
