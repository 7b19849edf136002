package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mfaLogin(t *testing.T, base, body string) (int, map[string]any) {
	t.Helper()
	resp, m := call(t, "POST", base+"/v1/login/mfa", jsonBody(body))
	return resp.StatusCode, m
}

func TestTOTPAndRecoveryCodes(t *testing.T) {
	// Stay inside one 30 s step for the whole test, so that "the current
	// step", "one step ahead" and "two steps old" mean the same throughout.
	if into := time.Now().Unix() % 30; into > 12 {
		time.Sleep(time.Duration(31-into) * time.Second)
	}
	now := time.Now()
	s := startServer(t, testEnv(t))
	const email, pw = "mfa@example.org", "a passphrase with a second factor"
	signUp(t, s.URL, email, pw)
	plain := login(t, s.URL, email, pw)
	if c := claimsOf(t, plain["access_token"].(string)); c["acr"] != "aal1" {
		t.Fatalf("password-only claims: %v", c)
	}

	// Enrol: secret, otpauth URI and a QR PNG; a first code confirms it.
	resp, en := call(t, "POST", s.URL+"/v1/mfa/totp", nil, bearer(plain["access_token"].(string))...)
	if resp.StatusCode != 200 {
		t.Fatalf("enrol: %d %v", resp.StatusCode, en)
	}
	secret := en["secret"].(string)
	png, _ := base64.StdEncoding.DecodeString(en["qr_png"].(string))
	if !strings.HasPrefix(en["otpauth_uri"].(string), "otpauth://totp/") || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("enrolment: %v", en)
	}
	resp, body := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"000000x"}`), bearer(plain["access_token"].(string))...)
	if resp.StatusCode != 400 {
		t.Fatalf("confirm with garbage: %d %v", resp.StatusCode, body)
	}
	confirmCode := totpCode(t, secret, now.Add(-30*time.Second))
	if resp, body := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+confirmCode+`"}`), bearer(plain["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("confirm: %d %v", resp.StatusCode, body)
	}
	// With a factor enrolled, the password-only session may no longer
	// change factors: new recovery codes need a login with the factor.
	if resp, b := call(t, "POST", s.URL+"/v1/mfa/recovery-codes", nil, bearer(plain["access_token"].(string))...); resp.StatusCode != 403 || b["error"] != "step_up_required" {
		t.Fatalf("recovery codes from an aal1 session: %d %v", resp.StatusCode, b)
	}

	// The password alone now gets 401 mfa_required with a single-use token.
	startMFA := func() string {
		t.Helper()
		resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.StatusCode != 401 || body["error"] != "mfa_required" {
			t.Fatalf("login with a factor: %d %v", resp.StatusCode, body)
		}
		methods, _ := json.Marshal(body["methods"])
		if !strings.Contains(string(methods), `"totp"`) {
			t.Fatalf("methods: %s", methods)
		}
		tok := body["mfa_token"].(string)
		if !strings.HasPrefix(tok, "ghm_us-east1_") {
			t.Fatalf("mfa_token %q", tok)
		}
		return tok
	}
	tok := startMFA()
	if code, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok+`","totp_code":"`+totpCode(t, secret, now.Add(-60*time.Second))+`"}`); code != 401 || b["error"] != "invalid_code" {
		t.Fatalf("a code two steps old: %d %v", code, b)
	}
	current := totpCode(t, secret, now)
	code, tokens := mfaLogin(t, s.URL, `{"mfa_token":"`+tok+`","totp_code":"`+current+`"}`)
	if code != 200 {
		t.Fatalf("TOTP login: %d %v", code, tokens)
	}
	c := claimsOf(t, tokens["access_token"].(string))
	if amr, _ := json.Marshal(c["amr"]); c["acr"] != "aal2" || string(amr) != `["pwd","otp","mfa"]` {
		t.Fatalf("claims after TOTP: acr %v amr %s", c["acr"], amr)
	}
	if code, _ := mfaLogin(t, s.URL, `{"mfa_token":"`+tok+`","totp_code":"`+current+`"}`); code != 401 {
		t.Fatalf("a used mfa_token: %d", code)
	}
	resp, rc := call(t, "POST", s.URL+"/v1/mfa/recovery-codes", nil, bearer(tokens["access_token"].(string))...)
	codes, _ := rc["codes"].([]any)
	if resp.StatusCode != 200 || len(codes) != 10 {
		t.Fatalf("recovery codes: %d %v", resp.StatusCode, rc)
	}

	// The same code again is a replay, even with a fresh mfa_token.
	tok2 := startMFA()
	if code, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok2+`","totp_code":"`+current+`"}`); code != 401 || b["error"] != "invalid_code" {
		t.Fatalf("replayed code: %d %v", code, b)
	}
	// Recovery codes work once each (typed in any case).
	first := strings.ToUpper(codes[0].(string))
	if code, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok2+`","recovery_code":"`+first+`"}`); code != 200 {
		t.Fatalf("recovery code: %d %v", code, b)
	}
	tok3 := startMFA()
	if code, _ := mfaLogin(t, s.URL, `{"mfa_token":"`+tok3+`","recovery_code":"`+first+`"}`); code != 401 {
		t.Fatalf("a used recovery code: %d", code)
	}
	if code, _ := mfaLogin(t, s.URL, `{"mfa_token":"`+tok3+`","recovery_code":"`+codes[1].(string)+`"}`); code != 200 {
		t.Fatalf("second recovery code: %d", code)
	}
	// The next step's code still works (±1 step).
	tok4 := startMFA()
	if code, b := mfaLogin(t, s.URL, `{"mfa_token":"`+tok4+`","totp_code":"`+totpCode(t, secret, now.Add(30*time.Second))+`"}`); code != 200 {
		t.Fatalf("next step's code: %d %v", code, b)
	}

	// Removing the factor needs a recent second factor: the password-only
	// session is refused; the aal2 one may, and the other sessions end.
	resp, body = call(t, "DELETE", s.URL+"/v1/mfa/totp", nil, bearer(plain["access_token"].(string))...)
	if resp.StatusCode != 403 || body["error"] != "step_up_required" {
		t.Fatalf("remove without step-up: %d %v", resp.StatusCode, body)
	}
	if resp, body := call(t, "DELETE", s.URL+"/v1/mfa/totp", nil, bearer(tokens["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("remove with step-up: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(plain["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("other sessions must end when a factor is removed: %d", resp.StatusCode)
	}
	if time.Since(now) > 17*time.Second {
		t.Logf("note: the test took %v; its step arithmetic assumes it stays within one step", time.Since(now))
	}
}
