package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/mfa"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// End-to-end tests of the account flows an attacker used to bend (issue
// 15). Each fails on the code before it.

func callFrom(t *testing.T, method, url, ip, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return callReq(t, req)
}

func hashesDone(t *testing.T, base string) int {
	t.Helper()
	n, _ := strconv.Atoi(metricValue(t, base, "gatehouse_password_hash_seconds_count"))
	return n
}

func openDB(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler), Region: "us-east1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// A thief holding an aal1 access token of an account with a second factor
// can add none of their own: no TOTP, no recovery codes, no passkey. The
// owner is mailed when a factor is added.
func TestThiefWithAnAAL1TokenCannotAddFactors(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	db := openDB(t, env)
	const email, pw = "owner@example.org", "the owner's long passphrase"
	signUp(t, s.URL, email, pw)
	stolen := login(t, s.URL, email, pw)["access_token"].(string)
	owner := login(t, s.URL, email, pw)["access_token"].(string)
	// The owner (fresh password login, no factor yet) enrols TOTP.
	resp, en := call(t, "POST", s.URL+"/v1/mfa/totp", nil, bearer(owner)...)
	if resp.StatusCode != 200 {
		t.Fatalf("owner enrols: %d %v", resp.StatusCode, en)
	}
	code := totpCode(t, en["secret"].(string), time.Now())
	if resp, b := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+code+`"}`), bearer(owner)...); resp.StatusCode != 204 {
		t.Fatalf("owner confirms: %d %v", resp.StatusCode, b)
	}
	// The thief's aal1 token is still a live access token...
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(stolen)...); resp.StatusCode != 200 {
		t.Fatalf("the stolen token should still be live: %d", resp.StatusCode)
	}
	// ...but adds no factor.
	for _, path := range []string{"/v1/mfa/webauthn/register/begin", "/v1/mfa/totp", "/v1/mfa/recovery-codes"} {
		resp, b := call(t, "POST", s.URL+path, nil, bearer(stolen)...)
		if resp.StatusCode != 403 || b["error"] != "step_up_required" {
			t.Fatalf("thief %s: %d %v", path, resp.StatusCode, b)
		}
	}
	msgs := readOutbox(t, db, time.Second)
	added := 0
	for _, m := range msgs {
		if m.Kind == "factor_added" && m.Recipient == email {
			added++
		}
	}
	if added != 1 {
		t.Fatalf("the owner must be mailed once for the TOTP added: %+v", msgs)
	}
}

// 200 reset-confirms with made-up tokens and 200 sign-ups from one address
// spend at most the address limit in hashes (counted by the hasher's own
// histogram), and a trusted-device login in the same second succeeds.
func TestHashingEndpointsPassTheLimitsFirst(t *testing.T) {
	const perMinute = 10 // burst 20
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32",
		"GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE", strconv.Itoa(perMinute), "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	const email, pw = "regular@example.org", "the regular user's passphrase"
	signUp(t, s.URL, email, pw)
	resp, first := callFrom(t, "POST", s.URL+"/v1/login", "198.51.100.20", `{"email":"`+email+`","password":"`+pw+`"}`)
	device, _ := first["device_token"].(string)
	if resp.StatusCode != 200 || device == "" {
		t.Fatalf("first login: %d %v", resp.StatusCode, first)
	}

	before := hashesDone(t, s.URL)
	const flood = "203.0.113.66"
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for i := range 200 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			tok := fmt.Sprintf("ghp_us-east1_%043d", i)
			resp, _ := callFrom(t, "POST", s.URL+"/v1/password/reset/confirm", flood, `{"token":"`+tok+`","new_password":"a new long passphrase `+strconv.Itoa(i)+`"}`)
			mu.Lock()
			answers["confirm "+strconv.Itoa(resp.StatusCode)]++
			mu.Unlock()
		}()
		go func() {
			defer wg.Done()
			resp, _ := callFrom(t, "POST", s.URL+"/v1/users", flood, fmt.Sprintf(`{"email":"flood%d@example.org","password":"a flood passphrase %d"}`, i, i))
			mu.Lock()
			answers["signup "+strconv.Itoa(resp.StatusCode)]++
			mu.Unlock()
		}()
		if i == 100 {
			// The user's own device logs in in the middle of the flood.
			resp, b := callFrom(t, "POST", s.URL+"/v1/login", "198.51.100.20", `{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`)
			if resp.StatusCode != 200 {
				t.Errorf("trusted-device login during the flood: %d %v", resp.StatusCode, b)
			}
		}
	}
	wg.Wait()
	spent := hashesDone(t, s.URL) - before
	// Refused by the address limit (429) or, when the flood arrives all
	// at once, shed by the full login lane first (503): either way no
	// more sign-ups than the address's burst were served.
	if spent > 2*perMinute+2 || answers["signup 201"] > 2*perMinute || answers["signup 429"]+answers["signup 503"] == 0 {
		t.Fatalf("the flood spent %d hashes (address limit: burst %d); answers %v", spent, 2*perMinute, answers)
	}
	t.Logf("flood answers %v, hashes %d", answers, spent)
	if resp, b := callFrom(t, "POST", s.URL+"/v1/login", "198.51.100.20", `{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`); resp.StatusCode != 200 {
		t.Fatalf("trusted-device login right after the flood: %d %v", resp.StatusCode, b)
	}
}

// Password change counts wrong current passwords on the account's lane and
// is refused while the account is locked.
func TestPasswordChangeGuessesLockTheAccount(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "50",
		"GATEHOUSE_DEFENSE_LOCK_AFTER", "4", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	const email, pw = "changer@example.org", "the changer's own passphrase"
	signUp(t, s.URL, email, pw)
	at := login(t, s.URL, email, pw)["access_token"].(string)
	var got []int
	locked := false
	for i := range 10 {
		resp, _ := callFrom(t, "POST", s.URL+"/v1/password/change", "192.0.2.50",
			fmt.Sprintf(`{"current_password":"guess number %d","new_password":"a brand new passphrase"}`, i), bearer(at)...)
		got = append(got, resp.StatusCode)
		if resp.StatusCode == 423 {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatalf("wrong current passwords never locked the account: %v", got)
	}
	// Even the right current password is refused while locked.
	if resp, b := callFrom(t, "POST", s.URL+"/v1/password/change", "192.0.2.50",
		`{"current_password":"`+pw+`","new_password":"a brand new passphrase"}`, bearer(at)...); resp.StatusCode != 423 {
		t.Fatalf("change while locked: %d %v", resp.StatusCode, b)
	}
}

// A completed password reset lifts the account's lock.
func TestResetUnlocksALockedAccount(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "50",
		"GATEHOUSE_DEFENSE_LOCK_AFTER", "3", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	db := openDB(t, env)
	const email, pw, newPw = "locked@example.org", "the locked user's passphrase", "the fresh passphrase after reset"
	userID := signUp(t, s.URL, email, pw)
	locked := false
	for i := 0; i < 10 && !locked; i++ {
		resp, _ := loginFrom(t, s.URL, fmt.Sprintf("203.0.%d.3", i), fmt.Sprintf(`{"email":"%s","password":"guess %d"}`, email, i))
		locked = resp.StatusCode == 423
	}
	if !locked {
		t.Fatal("the account never locked")
	}
	if resp, _ := call(t, "POST", s.URL+"/v1/password/reset", jsonBody(`{"email":"`+email+`"}`)); resp.StatusCode != 202 {
		t.Fatalf("reset request: %d", resp.StatusCode)
	}
	var tok string
	for _, m := range readOutbox(t, db, time.Second) {
		if m.Kind == "password_reset" {
			tok, _ = m.Payload["token"].(string)
		}
	}
	if resp, b := call(t, "POST", s.URL+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"`+newPw+`"}`)); resp.StatusCode != 204 {
		t.Fatalf("reset confirm: %d %v", resp.StatusCode, b)
	}
	if resp, b := loginFrom(t, s.URL, "192.0.2.77", `{"email":"`+email+`","password":"`+newPw+`"}`); resp.StatusCode != 200 {
		t.Fatalf("login after the reset: %d %v", resp.StatusCode, b)
	}
	// The owner was told which factors remain (none here).
	found := false
	for _, m := range readOutbox(t, db, 500*time.Millisecond) {
		found = found || (m.Kind == "password_reset_completed" && m.Recipient == email)
	}
	if !found {
		t.Fatal("no password_reset_completed mail")
	}
	// The lifted lock is in the audit trail (appended in batches, so it
	// may take a moment).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, page := call(t, "GET", s.URL+"/admin/v1/users/"+userID+"/events?limit=200", nil, bearer(env["GATEHOUSE_ADMIN_TOKEN"])...)
		evs, _ := page["events"].([]any)
		unlocked := false
		for _, e := range evs {
			ev, _ := e.(map[string]any)
			unlocked = unlocked || ev["type"] == "id.gatehouse.account.unlocked.v1"
		}
		if unlocked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no account.unlocked event after the reset lifted the lock; the user's events: %v", evs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Device tokens: trusted only for their own account, and no longer after
// logout-everywhere, a password change, a reset, or the lifetime unused.
func TestDeviceTokensAreBoundAndEnd(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_DEFENSE_DEVICE_TTL", "2s")
	s := startServer(t, env)
	const a, b, pw = "device-a@example.org", "device-b@example.org", "a device owner's passphrase"
	signUp(t, s.URL, a, pw)
	signUp(t, s.URL, b, pw)
	loginWith := func(email, device string) map[string]any {
		t.Helper()
		resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`","device_token":"`+device+`"}`))
		if resp.StatusCode != 200 {
			t.Fatalf("login %s: %d %v", email, resp.StatusCode, body)
		}
		return body
	}
	trusted := func(body map[string]any) bool { _, minted := body["device_token"]; return !minted }
	first := loginWith(a, "")
	dev := first["device_token"].(string)
	if !trusted(loginWith(a, dev)) {
		t.Fatal("a's own device must be trusted")
	}
	if trusted(loginWith(b, dev)) {
		t.Fatal("a's device token must not count for b")
	}
	// Logout everywhere ends the device.
	if resp, _ := call(t, "POST", s.URL+"/v1/logout/all", nil, bearer(loginWith(a, dev)["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("logout all: %d", resp.StatusCode)
	}
	fresh := loginWith(a, dev)
	if trusted(fresh) {
		t.Fatal("a device survived logout-everywhere")
	}
	// A password change ends it too.
	dev = fresh["device_token"].(string)
	const pw2 = "a device owner's second passphrase"
	if resp, b := call(t, "POST", s.URL+"/v1/password/change", jsonBody(`{"current_password":"`+pw+`","new_password":"`+pw2+`"}`), bearer(fresh["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("change: %d %v", resp.StatusCode, b)
	}
	resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+a+`","password":"`+pw2+`","device_token":"`+dev+`"}`))
	if _, minted := body["device_token"]; resp.StatusCode != 200 || !minted {
		t.Fatalf("a device survived the password change: %d %v", resp.StatusCode, body)
	}
	// Unused for longer than its lifetime, a device is not trusted.
	dev = loginWith(b, "")["device_token"].(string)
	time.Sleep(2500 * time.Millisecond)
	if trusted(loginWith(b, dev)) {
		t.Fatal("a device unused for longer than GATEHOUSE_DEFENSE_DEVICE_TTL was trusted")
	}
}

// After repeated second-factor failures the MFA step asks for a challenge;
// a solution sent with the code is accepted, as on /v1/login.
func TestMFAStepAcceptsAChallengeSolution(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "2", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	const email, pw = "mfa-challenge@example.org", "a passphrase and a second factor"
	signUp(t, s.URL, email, pw)
	at := login(t, s.URL, email, pw)["access_token"].(string)
	_, en := call(t, "POST", s.URL+"/v1/mfa/totp", nil, bearer(at)...)
	secret := en["secret"].(string)
	if resp, b := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+totpCode(t, secret, time.Now())+`"}`), bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("confirm: %d %v", resp.StatusCode, b)
	}
	startMFA := func() string {
		resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.StatusCode != 401 || body["error"] != "mfa_required" {
			t.Fatalf("login: %d %v", resp.StatusCode, body)
		}
		return body["mfa_token"].(string)
	}
	var challenge map[string]any
	tok := startMFA()
	for i := range 6 {
		code, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok+`","totp_code":"00000`+strconv.Itoa(i)+`"}`)
		if code == 403 && b["error"] == "challenge_required" {
			challenge = b
			break
		}
	}
	if challenge == nil {
		t.Fatal("the MFA step never asked for a challenge")
	}
	raw, _ := json.Marshal(challenge["challenge"])
	var ch defense.Challenge
	if err := json.Unmarshal(raw, &ch); err != nil {
		t.Fatal(err)
	}
	sol, err := defense.SolveChallenge(context.Background(), &ch)
	if err != nil {
		t.Fatal(err)
	}
	solved, _ := json.Marshal(sol)
	code := totpCode(t, secret, time.Now().Add(30*time.Second))
	if got, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok+`","totp_code":"`+code+`","challenge_solution":`+string(solved)+`}`); got != 200 {
		t.Fatalf("MFA with a solved challenge: %d %v", got, b)
	}
}

// Reset requests and "someone signed up with your address" mails are
// limited per email; sent outbox rows keep no raw token.
func TestMailLimitsAndNoTokenKept(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")
	s := startServer(t, env)
	db := openDB(t, env)
	const email, pw = "mailbox@example.org", "the mailbox owner's passphrase"
	signUp(t, s.URL, email, pw)
	for i := range 10 {
		if resp, _ := callFrom(t, "POST", s.URL+"/v1/password/reset", fmt.Sprintf("198.51.100.%d", i), `{"email":"`+email+`"}`); resp.StatusCode != 202 {
			t.Fatalf("reset request %d: %d", i, resp.StatusCode)
		}
		if resp, _ := callFrom(t, "POST", s.URL+"/v1/users", fmt.Sprintf("198.51.101.%d", i), `{"email":"`+email+`","password":"another long passphrase"}`); resp.StatusCode != 201 {
			t.Fatalf("sign-up with a taken address %d: %d", i, resp.StatusCode)
		}
	}
	kinds := map[string]int{}
	for _, m := range readOutbox(t, db, 1500*time.Millisecond) {
		kinds[m.Kind]++
	}
	if kinds["password_reset"] < 1 || kinds["password_reset"] > 3 || kinds["signup_existing_account"] < 1 || kinds["signup_existing_account"] > 3 {
		t.Fatalf("10 requests each for one mailbox mailed %v; want 1 to 3 of each", kinds)
	}
	left, err := db.OutboxPayloadsWithKey(context.Background(), "token")
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d sent outbox rows still hold a raw token", left)
	}
}

// 1,000 passkey-begins from one address leave at most the address limit
// of ceremony rows.
func TestPasskeyBeginIsLimitedPerAddress(t *testing.T) {
	const perMinute = 10
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE", strconv.Itoa(perMinute),
		"GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	db := openDB(t, env)
	statuses := map[int]int{}
	for range 1000 {
		resp, _ := callFrom(t, "POST", s.URL+"/v1/login/passkey/begin", "203.0.113.99", "")
		statuses[resp.StatusCode]++
	}
	rows, err := db.CountRows(context.Background(), "webauthn_ceremonies")
	if err != nil {
		t.Fatal(err)
	}
	if rows > 2*perMinute+2 || statuses[429] == 0 {
		t.Fatalf("1000 passkey-begins left %d ceremony rows (answers %v)", rows, statuses)
	}
}

// Sign-up refuses an email that arrived as invalid UTF-8 (decoded to
// U+FFFD) or that holds a non-printing character.
func TestSignUpRefusesUndecodableEmails(t *testing.T) {
	s := startServer(t, testEnv(t))
	for _, e := range []string{"a\uFFFDb@example.org", "ab\u200d@example.org", "a\u00adb@example.org"} {
		body, _ := json.Marshal(map[string]string{"email": e, "password": "a perfectly long passphrase"})
		resp, b := call(t, "POST", s.URL+"/v1/users", strings.NewReader(string(body)))
		if resp.StatusCode != 400 || b["error"] != "invalid_email" {
			t.Fatalf("%q: %d %v", e, resp.StatusCode, b)
		}
	}
}

// `gatehouse purge` leaves every table it looks after with live rows only:
// expired ceremonies and pending MFA logins, sessions past their absolute
// expiry, refresh tokens of ended sessions, sent outbox rows older than 7
// days, used and expired resets all go; live rows stay.
func TestPurgeLeavesOnlyLiveRows(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	db := openDB(t, env)
	ctx := context.Background()
	const email, pw = "purge@example.org", "a passphrase that stays"
	uid := uuid.MustParse(signUp(t, s.URL, email, pw))
	live := login(t, s.URL, email, pw)
	now := time.Now()
	past := now.Add(-time.Hour)
	// Dead rows of every kind, written as the server would have.
	if err := db.SaveWebAuthnCeremony(ctx, mfa.WebAuthnCeremony{ID: "expired-ceremony", UserID: uid, Purpose: "mfa_login", Data: []byte("{}"), ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	old := auth.Session{ID: uuid.New(), UserID: uid, HomeRegion: "us-east1", ClientID: "first-party", AuthTime: past.Add(-time.Hour),
		CreatedAt: past.Add(-time.Hour), LastSeenAt: past, ExpiresAt: past}
	if err := db.CreateSession(ctx, old, auth.RefreshToken{Hash: []byte("an expired session's token hash"), CreatedAt: old.CreatedAt, ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	revoked := login(t, s.URL, email, pw) // then logged out: its refresh tokens are dead
	if resp, _ := call(t, "POST", s.URL+"/v1/logout", nil, bearer(revoked["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	for i, exp := range []time.Time{past, now.Add(time.Hour)} {
		r := auth.PasswordReset{Hash: []byte(fmt.Sprintf("reset hash %d", i)), UserID: uid, HomeRegion: "us-east1", CreatedAt: past, ExpiresAt: exp}
		if err := db.CreatePasswordReset(ctx, r, auth.OutboxMessage{ID: uuid.New(), HomeRegion: "us-east1", Kind: "password_reset", Recipient: email, CreatedAt: past}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ClaimOutbox(ctx, "us-east1", 100, now.Add(-8*24*time.Hour)); err != nil { // sent 8 days ago
		t.Fatal(err)
	}
	before, err := db.RetentionCounts(ctx, "us-east1", time.Now(), store.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"webauthn_ceremonies", "sessions", "refresh_tokens", "outbox", "password_resets"} {
		if before[table] == 0 {
			t.Fatalf("the test made no dead row in %s: %v", table, before)
		}
	}
	out := runCmd(t, env, "purge")
	if !strings.Contains(out, "purged sessions 1") {
		t.Fatalf("purge output:\n%s", out)
	}
	after, err := db.RetentionCounts(ctx, "us-east1", time.Now(), store.PurgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range after {
		if n != 0 {
			t.Fatalf("after purge %s still holds %d dead rows (all: %v)", table, n, after)
		}
	}
	// Live rows stay: the live session refreshes, the unexpired reset is there.
	if resp, b := refresh(t, s.URL, live["refresh_token"].(string)); resp.StatusCode != 200 {
		t.Fatalf("a live session's refresh after purge: %d %v", resp.StatusCode, b)
	}
	if n, err := db.CountRows(ctx, "password_resets"); err != nil || n != 1 {
		t.Fatalf("the live reset must stay: %d %v", n, err)
	}
}

// When the defense decides step_up for an account without a second factor
// (here: many recent failures on it), the right password answers 401
// verification_required and mails a 6-digit code; POST /v1/login/verify
// with it completes the login, once. Wrong codes end the token after 5.
func TestRiskStepUpMailsAOneTimeCode(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_CHALLENGE_AFTER", "40",
		"GATEHOUSE_DEFENSE_LOCK_AFTER", "80", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "1000")
	s := startServer(t, env)
	db := openDB(t, env)
	const email, pw = "stepup@example.org", "the step-up user's passphrase"
	signUp(t, s.URL, email, pw)
	for i := range 12 { // past the step-up threshold (10 failures)
		if resp, b := loginFrom(t, s.URL, fmt.Sprintf("203.0.%d.44", i), fmt.Sprintf(`{"email":"%s","password":"guess %d"}`, email, i)); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d %v", i, resp.StatusCode, b)
		}
	}
	stepUp := func() string {
		t.Helper()
		resp, b := loginFrom(t, s.URL, "192.0.2.44", `{"email":"`+email+`","password":"`+pw+`"}`)
		if resp.StatusCode != 401 || b["error"] != "verification_required" {
			t.Fatalf("the right password after many failures: %d %v", resp.StatusCode, b)
		}
		return b["verification_token"].(string)
	}
	codeFor := func() string {
		t.Helper()
		for _, m := range readOutbox(t, db, time.Second) {
			if m.Kind == "login_code" && m.Recipient == email {
				return m.Payload["code"].(string)
			}
		}
		t.Fatal("no login_code mail")
		return ""
	}
	verify := func(tok, code string) (*http.Response, map[string]any) {
		return call(t, "POST", s.URL+"/v1/login/verify", jsonBody(`{"verification_token":"`+tok+`","code":"`+code+`"}`))
	}
	tok := stepUp()
	code := codeFor()
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if resp, b := verify(tok, wrong); resp.StatusCode != 401 || b["error"] != "invalid_code" {
		t.Fatalf("wrong code: %d %v", resp.StatusCode, b)
	}
	resp, tokens := verify(tok, code)
	if resp.StatusCode != 200 || tokens["access_token"] == nil {
		t.Fatalf("right code: %d %v", resp.StatusCode, tokens)
	}
	if resp, _ := verify(tok, code); resp.StatusCode != 401 {
		t.Fatalf("a used verification token: %d", resp.StatusCode)
	}
	if n, err := db.OutboxPayloadsWithKey(context.Background(), "code"); err != nil || n != 0 {
		t.Fatalf("sent outbox rows holding a code: %d %v", n, err)
	}
	// The code ended the step-up: the account's failures are forgiven.
	if resp, b := loginFrom(t, s.URL, "192.0.2.44", `{"email":"`+email+`","password":"`+pw+`"}`); resp.StatusCode != 200 {
		t.Fatalf("login after a completed step-up: %d %v", resp.StatusCode, b)
	}
	for i := range 12 {
		loginFrom(t, s.URL, fmt.Sprintf("203.1.%d.44", i), fmt.Sprintf(`{"email":"%s","password":"guess %d"}`, email, i))
	}
	// Asking again without the code does not get around it.
	stepUp()
	codeFor() // that mail's code is not the next one's
	// Five wrong codes end a token: the right one no longer works.
	tok = stepUp()
	code = codeFor()
	for i := range 5 {
		if resp, b := verify(tok, wrong); resp.StatusCode != 401 || b["error"] != "invalid_code" {
			t.Fatalf("wrong code %d: %d %v", i, resp.StatusCode, b)
		}
	}
	if resp, b := verify(tok, code); resp.StatusCode != 401 {
		t.Fatalf("the right code after 5 wrong ones: %d %v", resp.StatusCode, b)
	}
}

// GATEHOUSE_BREACH_ON_LOGIN=force_reset: a login with a breached password
// answers 403 password_reset_required and mails a reset link; the reset
// then logs in with a new password.
func TestBreachedPasswordAtLoginForcesAReset(t *testing.T) {
	fake := &fakePwned{breached: map[string]int{}}
	hibp := httptest.NewServer(fake)
	defer hibp.Close()
	base := testEnv(t)
	old := startServer(t, base)
	const email, leaked, fresh = "leaked@example.org", "a passphrase that leaked later", "a passphrase nobody has seen"
	signUp(t, old.URL, email, leaked)
	old.stop(t)
	fake.add(leaked, 7)
	env := with(base, "GATEHOUSE_BREACH_MODE", "range", "GATEHOUSE_BREACH_URL", hibp.URL, "GATEHOUSE_BREACH_ON_LOGIN", "force_reset")
	s := startServer(t, env)
	db := openDB(t, env)
	resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+leaked+`"}`))
	if resp.StatusCode != 403 || body["error"] != "password_reset_required" {
		t.Fatalf("login with a breached password: %d %v", resp.StatusCode, body)
	}
	var tok string
	for _, m := range readOutbox(t, db, time.Second) {
		if m.Kind == "password_reset_breached" && m.Recipient == email {
			tok, _ = m.Payload["token"].(string)
		}
	}
	if tok == "" {
		t.Fatal("no reset mail for the breached password")
	}
	if resp, b := call(t, "POST", s.URL+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"`+fresh+`"}`)); resp.StatusCode != 204 {
		t.Fatalf("reset: %d %v", resp.StatusCode, b)
	}
	login(t, s.URL, email, fresh)
	// A bad value stops the process at start, naming the key.
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"serve"}, lookup(with(env, "GATEHOUSE_BREACH_ON_LOGIN", "shrug")), nil, &out, &errb); err == nil ||
		!strings.Contains(errb.String()+err.Error(), "breach.on_login") && !strings.Contains(errb.String()+err.Error(), "GATEHOUSE_BREACH_ON_LOGIN") {
		t.Fatalf("a bad GATEHOUSE_BREACH_ON_LOGIN: %v %s", err, errb.String())
	}
}

// A flood above the global limit does not tip the region into emergency
// mode: only attempts that reached a password check count toward the
// automatic mode, and the limit refused these before any.
func TestFloodAboveTheGlobalLimitLeavesTheModeNormal(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32", "GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "2")
	s := startServer(t, env)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := loginFrom(t, s.URL, fmt.Sprintf("203.%d.%d.1", i/250, i%250), fmt.Sprintf(`{"email":"nobody%d@example.org","password":"a guess %d"}`, i, i))
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
		if i%50 == 49 {
			wg.Wait()
		}
	}
	wg.Wait()
	if statuses[429] < 300 {
		t.Fatalf("the flood was not held off by the global limit: %v", statuses)
	}
	time.Sleep(1100 * time.Millisecond) // past the mode cache
	resp, b := call(t, "GET", s.URL+"/admin/v1/defense", nil, bearer(env["GATEHOUSE_ADMIN_TOKEN"])...)
	if resp.StatusCode != 200 || b["mode"] != "normal" || b["auto"] != "normal" {
		t.Fatalf("after a flood of %v the mode is %d %v; want normal", statuses, resp.StatusCode, b)
	}
}
