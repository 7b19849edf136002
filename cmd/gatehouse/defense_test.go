package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/regions/latency"
)

// loginFrom logs in as if from the given client address (through the
// trusted proxy at 127.0.0.1).
func loginFrom(t *testing.T, base, ip, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	return callReq(t, req)
}

func TestLockoutCannotBeTurnedAgainstTheUser(t *testing.T) {
	// The region's limit for unknown devices is otherwise sized from the
	// hashing capacity measured at start: on a busy CI machine that can be
	// 10/s, which the guesses below outrun (then every guess is a 429 and
	// none counts towards the lock). This test is about the lock.
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	const email, pw = "victim@example.org", "the victim's own passphrase"
	signUp(t, s.URL, email, pw)

	// The user's usual device: a first login trusts it.
	resp, first := loginFrom(t, s.URL, "198.51.100.10", `{"email":"`+email+`","password":"`+pw+`"}`)
	device, _ := first["device_token"].(string)
	if resp.StatusCode != 200 || !strings.HasPrefix(device, "ghd_") {
		t.Fatalf("first login: %d %v", resp.StatusCode, first)
	}
	resp, devs := call(t, "GET", s.URL+"/v1/devices", nil, bearer(first["access_token"].(string))...)
	if resp.StatusCode != 200 || len(devs["devices"].([]any)) != 1 {
		t.Fatalf("devices: %d %v", resp.StatusCode, devs)
	}

	// An attacker guesses from many addresses. After 5 failures every
	// attempt needs a proof of work; solving it still leads to 401.
	wrong := `{"email":"` + email + `","password":"guess %d"}`
	var challenged map[string]any
	for i := 0; i < 5; i++ {
		if resp, b := loginFrom(t, s.URL, fmt.Sprintf("203.0.%d.7", i), fmt.Sprintf(wrong, i)); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d %v", i, resp.StatusCode, b)
		}
	}
	resp, challenged = loginFrom(t, s.URL, "203.0.50.7", fmt.Sprintf(wrong, 5))
	if resp.StatusCode != 403 || challenged["error"] != "challenge_required" {
		t.Fatalf("sixth guess: %d %v", resp.StatusCode, challenged)
	}
	raw, _ := json.Marshal(challenged["challenge"])
	var ch defense.Challenge
	if err := json.Unmarshal(raw, &ch); err != nil || ch.Type != "pow" || ch.Token == "" {
		t.Fatalf("challenge %s: %v", raw, err)
	}
	sol, err := defense.SolveChallenge(context.Background(), &ch)
	if err != nil {
		t.Fatal(err)
	}
	solved, _ := json.Marshal(sol)
	body := fmt.Sprintf(`{"email":"%s","password":"guess 6","challenge_solution":%s}`, email, solved)
	if resp, b := loginFrom(t, s.URL, "203.0.50.7", body); resp.StatusCode != 401 || b["error"] != "invalid_credentials" {
		t.Fatalf("guess with a solved challenge: %d %v", resp.StatusCode, b)
	}
	// The same solution again is refused (single use).
	if resp, b := loginFrom(t, s.URL, "203.0.50.7", body); resp.StatusCode != 403 {
		t.Fatalf("replayed solution: %d %v", resp.StatusCode, b)
	}
	// Keep guessing with solved challenges until the account locks.
	locked := false
	var answers []string // what each guess got, for the failure message
	for i := 7; i < 40 && !locked; i++ {
		resp, b := loginFrom(t, s.URL, fmt.Sprintf("203.0.%d.9", i), fmt.Sprintf(wrong, i))
		if resp.StatusCode == 403 {
			raw, _ := json.Marshal(b["challenge"])
			var c defense.Challenge
			_ = json.Unmarshal(raw, &c)
			sol, err := defense.SolveChallenge(context.Background(), &c)
			if err != nil {
				t.Fatal(err)
			}
			solved, _ := json.Marshal(sol)
			resp, b = loginFrom(t, s.URL, fmt.Sprintf("203.0.%d.9", i), fmt.Sprintf(`{"email":"%s","password":"guess %d","challenge_solution":%s}`, email, i, solved))
		}
		answers = append(answers, fmt.Sprintf("%d %v", resp.StatusCode, b["error"]))
		if resp.StatusCode != 401 && resp.StatusCode != 423 {
			t.Fatalf("guess %d: %d %v (the guesses so far got %q)", i, resp.StatusCode, b, answers)
		}
		if resp.StatusCode == 423 {
			locked = true
			if resp.Header.Get("Retry-After") == "" || b["error"] != "account_locked" {
				t.Fatalf("lock answer: %v %v", resp.Header, b)
			}
		}
	}
	if !locked {
		t.Fatalf("the account never locked for unknown devices; the guesses got %q", answers)
	}
	// Locked for everyone else, even with the right password...
	if resp, b := loginFrom(t, s.URL, "192.0.2.99", `{"email":"`+email+`","password":"`+pw+`"}`); resp.StatusCode != 423 {
		t.Fatalf("unknown device with the right password while locked: %d %v", resp.StatusCode, b)
	}
	// ...but the user's own device still logs in.
	if resp, b := loginFrom(t, s.URL, "198.51.100.10", `{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`); resp.StatusCode != 200 {
		t.Fatalf("trusted device while the account is locked: %d %v", resp.StatusCode, b)
	}

	// Operators see and switch the defense mode.
	admin := bearer(env["GATEHOUSE_ADMIN_TOKEN"])
	if resp, b := call(t, "PUT", s.URL+"/admin/v1/defense", jsonBody(`{"mode":"elevated"}`), admin...); resp.StatusCode != 200 || b["mode"] != "elevated" {
		t.Fatalf("set mode: %d %v", resp.StatusCode, b)
	}
	if resp, b := call(t, "PUT", s.URL+"/admin/v1/defense", jsonBody(`{"mode":"panic"}`), admin...); resp.StatusCode != 400 {
		t.Fatalf("bad mode: %d %v", resp.StatusCode, b)
	}
	if resp, b := call(t, "GET", s.URL+"/admin/v1/defense", nil, admin...); resp.StatusCode != 200 || b["mode"] != "elevated" {
		t.Fatalf("get mode: %d %v", resp.StatusCode, b)
	}
	// Forgetting the device takes its exemption away.
	id := devs["devices"].([]any)[0].(map[string]any)["id"].(string)
	if resp, _ := call(t, "DELETE", s.URL+"/v1/devices/"+id, nil, bearer(first["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("forget device: %d", resp.StatusCode)
	}
	if resp, _ := loginFrom(t, s.URL, "198.51.100.10", `{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`); resp.StatusCode != 423 {
		t.Fatalf("a forgotten device must lose its exemption: %d", resp.StatusCode)
	}
	if got := metricValue(t, s.URL, `gatehouse_login_attempts_total{result="locked"}`); got == "" || got == "0" {
		t.Fatalf("locked logins not counted: %q", got)
	}
}

// Redis goes away: logins go on, with the limits applied in-process, and
// the gauge says so; Redis comes back: shared limits resume.
func TestLoginsSurviveARedisOutage(t *testing.T) {
	env := testEnv(t)
	proxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:6379", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	env = with(env, "GATEHOUSE_REDIS_URL", strings.Replace(testRedisURL(), "127.0.0.1:6379", proxy.Addr(), 1))
	s := startServer(t, env)
	const email, pw = "outage@example.org", "a passphrase through an outage"
	signUp(t, s.URL, email, pw)
	tok := login(t, s.URL, email, pw)

	proxy.Cut()
	got := login(t, s.URL, email, pw)
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(got["access_token"].(string))...); resp.StatusCode != 200 {
		t.Fatalf("/v1/me during the outage: %d", resp.StatusCode)
	}
	// Revocation still works (the database answers for the cache).
	if resp, _ := call(t, "POST", s.URL+"/v1/logout", nil, bearer(tok["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("logout during the outage: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("a logged-out token during the outage: %d", resp.StatusCode)
	}
	// Failures still count in-process: the sixth wrong guess is challenged.
	for i := 0; i < 5; i++ {
		call(t, "POST", s.URL+"/v1/login", jsonBody(fmt.Sprintf(`{"email":"%s","password":"wrong %d"}`, email, i)))
	}
	if resp, b := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"wrong again"}`)); resp.StatusCode != 403 {
		t.Fatalf("limits during the outage: %d %v", resp.StatusCode, b)
	}
	if v := metricValue(t, s.URL, "gatehouse_defense_fallback"); v != "1" {
		t.Fatalf("fallback gauge during the outage = %q", v)
	}
	proxy.Restore()
}
