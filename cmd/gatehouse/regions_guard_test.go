package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/regions/router"
)

// loginVia logs in at base as if from ip (through the trusted proxy at
// 127.0.0.1), with extra headers.
func loginVia(t *testing.T, base, ip, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return callReq(t, req)
}

func counter(t *testing.T, base, series string) int {
	t.Helper()
	v := metricValue(t, base, series)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s = %q", series, v)
	}
	return int(f)
}

// Issue 14: guesses for one account spread over every region count
// against the one budget of its home region.
func TestGuessesOverAllRegionsShareOneBudget(t *testing.T) {
	c := startClusterWith(t, 5*time.Millisecond, clusterOptions{env: []string{
		"GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000"}})
	us := c.public["us-east1"]
	const email, pw = "guessed@example.org", "the owner's own passphrase"
	signUpVia(t, us, email, pw) // homed in us-east1
	resp, first := loginVia(t, us, "198.51.100.10", `{"email":"`+email+`","password":"`+pw+`"}`)
	device, _ := first["device_token"].(string)
	if resp.StatusCode != 200 || device == "" {
		t.Fatalf("first login: %d %v", resp.StatusCode, first)
	}
	checked := func() int {
		n := 0
		for _, name := range regionNames {
			n += counter(t, c.public[name], `gatehouse_login_attempts_total{result="invalid_credentials"}`)
		}
		return n
	}
	before := checked()

	// 300 wrong guesses in parallel, spread over the three regions, each
	// from an address of its own; every tenth carries a junk forwarding
	// header (the old way to be served by the region of one's choice).
	answers := guessInParallel(300, 24, func(i int) string {
		base := c.public[regionNames[i%3]]
		var extra []string
		if i%10 == 0 {
			extra = []string{"Gatehouse-Forwarded", "v=1; kid=k1; entry=europe-west1; to=us-east1; client=6.6.6.6; ts=1; nonce=x; sig=AAAA"}
		}
		resp, b := loginVia(t, base, fmt.Sprintf("198.18.%d.%d", i, 1+i%200), fmt.Sprintf(`{"email":"%s","password":"guess %d"}`, email, i), extra...)
		key := fmt.Sprintf("%d %v", resp.StatusCode, b["error"])
		if i%10 == 0 && key != "401 invalid_forwarding" {
			key = "forged header answered " + key
		}
		return key
	})
	mustSpendOneBudget(t, "300 guesses over three regions", answers, checked()-before,
		"401 invalid_credentials", "403 challenge_required", "423 account_locked", "429 rate_limited", "503 overloaded", "401 invalid_forwarding")
	for _, name := range []string{"europe-west1", "asia-south1"} {
		if n := counter(t, c.public[name], `gatehouse_login_attempts_total{result="invalid_credentials"}`); n != 0 {
			t.Fatalf("%s checked the password %d times: the account lives in us-east1", name, n)
		}
	}

	// Guesses with solved challenges at us-east1 lock the account there...
	locked := false
	for i := 0; i < 40 && !locked; i++ {
		ip := fmt.Sprintf("198.19.%d.9", i)
		body := fmt.Sprintf(`{"email":"%s","password":"solved guess %d"}`, email, i)
		resp, b := loginVia(t, us, ip, body)
		if resp.StatusCode == 403 {
			raw, _ := json.Marshal(b["challenge"])
			var ch defense.Challenge
			_ = json.Unmarshal(raw, &ch)
			sol, err := defense.SolveChallenge(context.Background(), &ch)
			if err != nil {
				t.Fatal(err)
			}
			solved, _ := json.Marshal(sol)
			resp, b = loginVia(t, us, ip, fmt.Sprintf(`{"email":"%s","password":"solved guess %d","challenge_solution":%s}`, email, i, solved))
		}
		locked = resp.StatusCode == 423
	}
	if !locked {
		t.Fatal("the account never locked")
	}
	if got := checked() - before; got > 20 {
		t.Fatalf("the password was checked %d times in all; the single-region lock threshold is 20", got)
	}
	// ...and the lock holds in every region, for everyone but the owner's
	// trusted device, which logs in everywhere.
	for _, name := range regionNames {
		if resp, b := loginVia(t, c.public[name], "192.0.2.99", `{"email":"`+email+`","password":"`+pw+`"}`); resp.StatusCode != 423 {
			t.Fatalf("right password from an unknown device at %s while locked: %d %v", name, resp.StatusCode, b)
		}
		if resp, b := loginVia(t, c.public[name], "198.51.100.10", `{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`); resp.StatusCode != 200 {
			t.Fatalf("the owner's trusted device at %s: %d %v", name, resp.StatusCode, b)
		}
	}
}

// Issue 14: region A answers an unknown email exactly as an email homed in
// another region; the answers never say whether an address exists.
func TestUnknownEmailIsAnsweredLikeOneHomedElsewhere(t *testing.T) {
	c := startClusterWith(t, 5*time.Millisecond, clusterOptions{})
	us, eu := c.public["us-east1"], c.public["europe-west1"]
	keys, err := router.ParseKeys(c.keys)
	if err != nil {
		t.Fatal(err)
	}
	unknownIn := func(region string) string {
		for i := 0; ; i++ {
			e := fmt.Sprintf("nobody-%d@example.org", i)
			if router.PseudoHome(keys, c.topo, e) == region {
				return e
			}
		}
	}
	homedEU, homedUS := "lives-in-eu@example.org", "lives-in-us@example.org"
	signUpVia(t, eu, homedEU, "a passphrase in europe")
	signUpVia(t, us, homedUS, "a passphrase in america")
	type answer struct {
		status  int
		headers string
		region  string
		body    string
		hops    int
	}
	ask := func(path, email string) answer {
		series := `gatehouse_forwarded_requests_total{result="ok",to_region="%s"}`
		hops := func() int {
			return counter(t, us, fmt.Sprintf(series, "europe-west1")) + counter(t, us, fmt.Sprintf(series, "asia-south1"))
		}
		before := hops()
		body := `{"email":"` + email + `","password":"not the passphrase"}`
		if path == "/v1/password/reset" {
			body = `{"email":"` + email + `"}`
		}
		resp, b := call(t, "POST", us+path, jsonBody(body))
		var names []string
		for k := range resp.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		var keys []string
		for k := range b {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return answer{resp.StatusCode, strings.Join(names, ","), resp.Header.Get("Gatehouse-Region"), strings.Join(keys, ","), hops() - before}
	}
	for _, path := range []string{"/v1/login", "/v1/password/reset"} {
		elsewhere, unknownElsewhere := ask(path, homedEU), ask(path, unknownIn("europe-west1"))
		here, unknownHere := ask(path, homedUS), ask(path, unknownIn("us-east1"))
		if elsewhere != unknownElsewhere || here != unknownHere {
			t.Fatalf("%s: homed in europe-west1 %+v, unknown routed there %+v; homed here %+v, unknown kept here %+v",
				path, elsewhere, unknownElsewhere, here, unknownHere)
		}
		if elsewhere.hops != 1 || here.hops != 0 || elsewhere.region != "europe-west1" {
			t.Fatalf("%s: hops %d and %d, executed in %q", path, elsewhere.hops, here.hops, elsewhere.region)
		}
		if elsewhere.status != here.status || elsewhere.headers != here.headers || elsewhere.body != here.body {
			t.Fatalf("%s: an address homed elsewhere %+v and one homed here %+v differ in more than where they ran", path, elsewhere, here)
		}
	}
}

// guessInParallel runs guess(i) for every i < n, at most par at once, and
// counts the answers' keys.
func guessInParallel(n, par int, guess func(i int) string) map[string]int {
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			key := guess(i)
			mu.Lock()
			answers[key]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return answers
}

// mustSpendOneBudget fails unless every answer is one of allowed and the
// guesses checked the password 1 to 5 times: the one budget of the home
// region, whose threshold allows 5 before a challenge.
func mustSpendOneBudget(t *testing.T, what string, answers map[string]int, checked int, allowed ...string) {
	t.Helper()
	for k := range answers {
		if !slices.Contains(allowed, k) {
			t.Fatalf("%s: unexpected answers %v", what, answers)
		}
	}
	t.Logf("%s: %v; passwords checked %d", what, answers, checked)
	if checked < 1 || checked > 5 {
		t.Fatalf("%s: the password was checked %d times; the single-region threshold allows 5 before a challenge", what, checked)
	}
}
