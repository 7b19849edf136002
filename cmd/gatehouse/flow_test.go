package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// jsonBody renders a JSON request body.
func jsonBody(s string) *strings.Reader { return strings.NewReader(s) }

func signUp(t testing.TB, base, email, pw string) string {
	t.Helper()
	resp, body := call(t, "POST", base+"/v1/users", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 201 || body["user_id"] == "" || body["home_region"] != "us-east1" {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, body)
	}
	return body["user_id"].(string)
}

func login(t testing.TB, base, email, pw string) map[string]any {
	t.Helper()
	resp, body := call(t, "POST", base+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, body)
	}
	for _, k := range []string{"access_token", "refresh_token", "session_id"} {
		if s, _ := body[k].(string); s == "" {
			t.Fatalf("token response lacks %s: %v", k, body)
		}
	}
	if body["token_type"] != "Bearer" || body["expires_in"].(float64) != 900 {
		t.Fatalf("token response: %v", body)
	}
	return body
}

func form(t testing.TB, base, path string, values url.Values, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return callReq(t, req)
}

func refresh(t testing.TB, base, rt string) (*http.Response, map[string]any) {
	t.Helper()
	return form(t, base, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func introspect(t testing.TB, base, adminToken, tok string) map[string]any {
	t.Helper()
	resp, body := form(t, base, "/oauth2/introspect", url.Values{"token": {tok}}, "Authorization", "Bearer "+adminToken)
	if resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %v", resp.StatusCode, body)
	}
	return body
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestAccountLifecycle(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	admin := env["GATEHOUSE_ADMIN_TOKEN"]
	const email, pw = "Ada.Lovelace@Example.org", "correct horse battery staple"
	uid := signUp(t, s.URL, email, pw)

	// Login (the email is case-insensitive), then /v1/me with the token.
	t1 := login(t, s.URL, "ada.lovelace@example.org", pw)
	resp, me := call(t, "GET", s.URL+"/v1/me", nil, bearer(t1["access_token"].(string))...)
	if resp.StatusCode != 200 || me["user_id"] != uid || me["email"] != "ada.lovelace@example.org" {
		t.Fatalf("/v1/me: %d %v", resp.StatusCode, me)
	}

	// Refresh rotates: the new pair works, the old refresh token is refused.
	resp, t2 := refresh(t, s.URL, t1["refresh_token"].(string))
	if resp.StatusCode != 200 || t2["refresh_token"] == t1["refresh_token"] || t2["session_id"] != t1["session_id"] {
		t.Fatalf("refresh: %d %v", resp.StatusCode, t2)
	}
	if !strings.HasPrefix(t2["refresh_token"].(string), "ghr_us-east1_") {
		t.Fatalf("refresh token not region-prefixed: %v", t2["refresh_token"])
	}
	// Reuse of the old token: refused, and the whole family dies (RT2 too)
	// and the session's access tokens stop working.
	resp, body := refresh(t, s.URL, t1["refresh_token"].(string))
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", resp.StatusCode, body)
	}
	resp, body = refresh(t, s.URL, t2["refresh_token"].(string))
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("successor after reuse: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(t2["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("access token of a revoked family: %d", resp.StatusCode)
	}
	if got := introspect(t, s.URL, admin, t2["access_token"].(string)); got["active"] != false {
		t.Fatalf("introspection of a revoked family: %v", got)
	}

	// Logout ends this session only.
	a := login(t, s.URL, email, pw)
	b := login(t, s.URL, email, pw)
	if got := introspect(t, s.URL, admin, a["access_token"].(string)); got["active"] != true || got["sub"] != uid || got["sid"] != a["session_id"] {
		t.Fatalf("introspection of a live token: %v", got)
	}
	resp, list := call(t, "GET", s.URL+"/v1/sessions", nil, bearer(b["access_token"].(string))...)
	if resp.StatusCode != 200 || len(list["sessions"].([]any)) != 2 {
		t.Fatalf("sessions: %d %v", resp.StatusCode, list)
	}
	if resp, _ := call(t, "POST", s.URL+"/v1/logout", nil, bearer(a["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if got := introspect(t, s.URL, admin, a["access_token"].(string)); got["active"] != false {
		t.Fatalf("introspection right after logout: %v", got)
	}
	if resp, _ := refresh(t, s.URL, a["refresh_token"].(string)); resp.StatusCode != 400 {
		t.Fatalf("refresh after logout: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(b["access_token"].(string))...); resp.StatusCode != 200 {
		t.Fatalf("the other session died with logout: %d", resp.StatusCode)
	}

	// Logout everywhere.
	c := login(t, s.URL, email, pw)
	if resp, _ := call(t, "POST", s.URL+"/v1/logout/all", nil, bearer(c["access_token"].(string))...); resp.StatusCode != 204 {
		t.Fatalf("logout all: %d", resp.StatusCode)
	}
	for _, tok := range []map[string]any{b, c} {
		if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(tok["access_token"].(string))...); resp.StatusCode != 401 {
			t.Fatalf("session alive after logout-all: %d", resp.StatusCode)
		}
		if resp, _ := refresh(t, s.URL, tok["refresh_token"].(string)); resp.StatusCode != 400 {
			t.Fatalf("refresh alive after logout-all: %d", resp.StatusCode)
		}
	}

	// Ban: sessions end, login and refresh are refused; unban restores login.
	d := login(t, s.URL, email, pw)
	if resp, body := call(t, "POST", s.URL+"/admin/v1/users/"+uid+"/ban", nil, bearer(admin)...); resp.StatusCode != 200 {
		t.Fatalf("ban: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(d["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("banned user's token still works: %d", resp.StatusCode)
	}
	if resp, _ := refresh(t, s.URL, d["refresh_token"].(string)); resp.StatusCode != 400 {
		t.Fatalf("banned user refreshed: %d", resp.StatusCode)
	}
	resp, body = call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
	if resp.StatusCode != 403 || body["error"] != "account_disabled" {
		t.Fatalf("banned login: %d %v", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"wrong password!"}`))
	if resp.StatusCode != 401 || body["error"] != "invalid_credentials" {
		t.Fatalf("banned account, wrong password must look like any wrong password: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", s.URL+"/admin/v1/users/"+uid+"/unban", nil, bearer(admin)...); resp.StatusCode != 200 {
		t.Fatalf("unban: %d", resp.StatusCode)
	}
	login(t, s.URL, email, pw)

	// The admin API refuses callers without the admin token.
	if resp, _ := call(t, "POST", s.URL+"/admin/v1/users/"+uid+"/ban", nil, bearer("not-the-admin-token")...); resp.StatusCode != 401 {
		t.Fatalf("admin without token: %d", resp.StatusCode)
	}
	// Introspection needs authorization (RFC 7662 §2.1).
	if resp, _ := form(t, s.URL, "/oauth2/introspect", url.Values{"token": {d["access_token"].(string)}}); resp.StatusCode != 401 {
		t.Fatalf("anonymous introspection: %d", resp.StatusCode)
	}
	// Revoking garbage is fine (RFC 7009 §2.2).
	if resp, _ := form(t, s.URL, "/oauth2/revoke", url.Values{"token": {"garbage"}}); resp.StatusCode != 200 {
		t.Fatalf("revoke garbage: %d", resp.StatusCode)
	}
}

func TestLoginDoesNotRevealWhichPartWasWrong(t *testing.T) {
	s := startServer(t, testEnv(t))
	signUp(t, s.URL, "known@example.org", "a long enough passphrase")
	var answers []string
	for _, creds := range [][2]string{
		{"known@example.org", "the wrong passphrase"},
		{"unknown@example.org", "the wrong passphrase"},
		{"not-an-email", "x"},
		{"known@example.org", ""},
	} {
		resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+creds[0]+`","password":"`+creds[1]+`"}`))
		answers = append(answers, resp.Status+" "+body["error"].(string)+" "+body["error_description"].(string))
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("answers differ:\n%s", strings.Join(answers, "\n"))
		}
	}
	if !strings.HasPrefix(answers[0], "401 ") {
		t.Fatalf("wrong credentials: %s", answers[0])
	}
	// Sign-up with a taken email looks like a fresh sign-up (enumeration guard).
	resp, body := call(t, "POST", s.URL+"/v1/users", jsonBody(`{"email":"known@example.org","password":"another long passphrase"}`))
	if resp.StatusCode != 201 || body["user_id"] == "" {
		t.Fatalf("taken email: %d %v", resp.StatusCode, body)
	}
	// ... and the real owner's password is untouched.
	login(t, s.URL, "known@example.org", "a long enough passphrase")
}

func TestSignUpRefusesWeakPasswords(t *testing.T) {
	s := startServer(t, testEnv(t))
	for pw, code := range map[string]string{
		"short":                   "password_too_short",
		"password":                "password_blocklisted",
		strings.Repeat("x", 1025): "password_too_long",
	} {
		resp, body := call(t, "POST", s.URL+"/v1/users", jsonBody(`{"email":"weak@example.org","password":"`+pw+`"}`))
		if resp.StatusCode != 400 || body["error"] != code {
			t.Errorf("password %.10q: %d %v, want 400 %s", pw, resp.StatusCode, body, code)
		}
	}
	resp, body := call(t, "POST", s.URL+"/v1/users", jsonBody(`{"email":"nope","password":"a fine passphrase"}`))
	if resp.StatusCode != 400 || body["error"] != "invalid_email" {
		t.Errorf("bad email: %d %v", resp.StatusCode, body)
	}
}
