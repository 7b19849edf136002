package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse-id/gatehouse/app/store"
)

// delivered is one event as a broker handed it to a consumer.
type delivered struct {
	Stream string // Kafka topic/partition or RabbitMQ queue: order holds within one
	Body   []byte
	Event  struct {
		ID           string         `json:"id"`
		Type         string         `json:"type"`
		Time         time.Time      `json:"time"`
		Subject      string         `json:"subject"`
		PartitionKey string         `json:"partitionkey"`
		Data         map[string]any `json:"data"`
	}
}

func parseDelivered(t *testing.T, stream string, body []byte) delivered {
	t.Helper()
	d := delivered{Stream: stream, Body: body}
	if err := json.Unmarshal(body, &d.Event); err != nil {
		t.Fatalf("a delivered event is not JSON: %v: %s", err, body)
	}
	return d
}

// eventSchemas compiles docs/events/*.json, by the CloudEvents type each
// one fixes.
func eventSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob("../../docs/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in docs/events: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		typ := doc["properties"].(map[string]any)["type"].(map[string]any)["const"].(string)
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(f, v); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[typ] = s
	}
	return out
}

// sessionScript is what scriptedSession did: the user it acted as and
// the event types it must have caused, for that user.
type sessionScript struct {
	UserID    string
	Email, Pw string
	Want      []string
}

// scriptedSession drives one account through sign-up, a failed and a
// successful login, refresh-token reuse, TOTP enrolment and an MFA login (a
// wrong code, then the right one), the factor removed, a device forgotten,
// a password change, a reset, logout everywhere, a ban and an unban.
func scriptedSession(t *testing.T, base string, env map[string]string) sessionScript {
	t.Helper()
	if into := time.Now().Unix() % 30; into > 20 {
		time.Sleep(time.Duration(31-into) * time.Second) // one TOTP step for the MFA part
	}
	sc := sessionScript{Email: "events-" + strings.ToLower(env["GATEHOUSE_DEFENSE_KEY_PREFIX"][7:15]) + "@example.org", Pw: "a passphrase for the event stream"}
	sc.UserID = signUp(t, base, sc.Email, sc.Pw)
	admin := bearer(env["GATEHOUSE_ADMIN_TOKEN"])

	if resp, b := call(t, "POST", base+"/v1/login", jsonBody(`{"email":"`+sc.Email+`","password":"wrong passphrase entirely"}`), "User-Agent", "events-test/1"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d %v", resp.StatusCode, b)
	}
	first := login(t, base, sc.Email, sc.Pw)

	// Refresh-token reuse: the first login's token, rotated, then again.
	rt := first["refresh_token"].(string)
	if resp, b := refresh(t, base, rt); resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", resp.StatusCode, b)
	}
	if resp, b := refresh(t, base, rt); resp.StatusCode != 400 {
		t.Fatalf("reuse: %d %v", resp.StatusCode, b)
	}
	at := login(t, base, sc.Email, sc.Pw)["access_token"].(string)

	// TOTP enrolment, then an MFA login: a wrong code, then the right one.
	resp, en := call(t, "POST", base+"/v1/mfa/totp", nil, bearer(at)...)
	if resp.StatusCode != 200 {
		t.Fatalf("enrol: %d %v", resp.StatusCode, en)
	}
	secret := en["secret"].(string)
	if resp, b := call(t, "POST", base+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+totpCode(t, secret, time.Now().Add(-30*time.Second))+`"}`), bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("confirm: %d %v", resp.StatusCode, b)
	}
	resp, ch := call(t, "POST", base+"/v1/login", jsonBody(`{"email":"`+sc.Email+`","password":"`+sc.Pw+`"}`))
	if resp.StatusCode != 401 || ch["error"] != "mfa_required" {
		t.Fatalf("login with TOTP: %d %v", resp.StatusCode, ch)
	}
	tok := ch["mfa_token"].(string)
	if code, b := mfaLogin(t, base, `{"mfa_token":"`+tok+`","totp_code":"`+totpCode(t, secret, time.Now().Add(-5*time.Minute))+`"}`); code != 401 {
		t.Fatalf("wrong code: %d %v", code, b)
	}
	code, mfaTokens := mfaLogin(t, base, `{"mfa_token":"`+tok+`","totp_code":"`+totpCode(t, secret, time.Now())+`"}`)
	if code != 200 {
		t.Fatalf("MFA login: %d %v", code, mfaTokens)
	}
	at = mfaTokens["access_token"].(string)

	// Forget a device a login trusted.
	resp, devs := call(t, "GET", base+"/v1/devices", nil, bearer(at)...)
	list, _ := devs["devices"].([]any)
	if resp.StatusCode != 200 || len(list) == 0 {
		t.Fatalf("devices: %d %v", resp.StatusCode, devs)
	}
	devID := list[0].(map[string]any)["id"].(string)
	if resp, b := call(t, "DELETE", base+"/v1/devices/"+devID, nil, bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("forget device: %d %v", resp.StatusCode, b)
	}
	// Then remove TOTP (it also ends the user's other sessions and trusted
	// devices, so the device above is forgotten first).
	if resp, b := call(t, "DELETE", base+"/v1/mfa/totp", nil, bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("remove TOTP: %d %v", resp.StatusCode, b)
	}

	// Password change, then a reset through the mail the outbox carries.
	newPw := "another passphrase for events"
	if resp, b := call(t, "POST", base+"/v1/password/change", jsonBody(`{"current_password":"`+sc.Pw+`","new_password":"`+newPw+`"}`), bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("change: %d %v", resp.StatusCode, b)
	}
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if resp, _ := call(t, "POST", base+"/v1/password/reset", jsonBody(`{"email":"`+sc.Email+`"}`)); resp.StatusCode != 202 {
		t.Fatalf("reset request: %d", resp.StatusCode)
	}
	msgs := readOutbox(t, db, time.Second)
	var resetTok string
	for _, m := range msgs {
		if m.Kind == "password_reset" {
			resetTok, _ = m.Payload["token"].(string)
		}
	}
	if resetTok == "" {
		t.Fatalf("no reset mail: %+v", msgs)
	}
	sc.Pw = "the reset passphrase for events"
	if resp, b := call(t, "POST", base+"/v1/password/reset/confirm", jsonBody(`{"token":"`+resetTok+`","new_password":"`+sc.Pw+`"}`)); resp.StatusCode != 204 {
		t.Fatalf("reset confirm: %d %v", resp.StatusCode, b)
	}

	// Logout everywhere, then a ban and an unban.
	at = login(t, base, sc.Email, sc.Pw)["access_token"].(string)
	if resp, b := call(t, "POST", base+"/v1/logout/all", nil, bearer(at)...); resp.StatusCode/100 != 2 {
		t.Fatalf("logout all: %d %v", resp.StatusCode, b)
	}
	// Ban and unban.
	for _, op := range []string{"ban", "unban"} {
		if resp, b := call(t, "POST", base+"/admin/v1/users/"+sc.UserID+"/"+op, nil, admin...); resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %v", op, resp.StatusCode, b)
		}
	}
	sc.Want = []string{"user.registered", "login.failed", "login.succeeded", "session.started", "device.trusted",
		"mfa.enrolled", "mfa.challenged", "mfa.failed", "mfa.removed", "device.revoked", "refresh.reuse_detected", "session.revoked",
		"password.changed", "password.reset_requested", "password.reset_completed", "user.banned", "user.unbanned"}
	for i, w := range sc.Want {
		sc.Want[i] = "id.gatehouse." + w + ".v1"
	}
	return sc
}

// checkDelivered asserts that every wanted type of the user arrived, that
// every event is valid against its schema and carries no secret, and that
// within each stream one user's events arrive in the order they occurred.
// Duplicates are allowed only as the same event id with the same body.
func checkDelivered(t *testing.T, sc sessionScript, got []delivered) {
	t.Helper()
	schemas := eventSchemas(t)
	t.Logf("%d events delivered", len(got))
	seen := map[string]bool{}
	bodies := map[string]string{}
	last := map[string]time.Time{} // stream + partition key → last time
	for _, d := range got {
		s := schemas[d.Event.Type]
		if s == nil {
			t.Errorf("no schema for type %q: %s", d.Event.Type, d.Body)
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(d.Body)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(inst); err != nil {
			t.Errorf("%s does not match its schema: %v\n%s", d.Event.Type, err, d.Body)
		}
		for _, secret := range []string{sc.Email, sc.Pw, "a passphrase for the event stream", "another passphrase for events", "ghr_", "ghm_", "ghp_"} {
			if strings.Contains(string(d.Body), secret) {
				t.Errorf("%s carries a secret or the email (%q): %s", d.Event.Type, secret, d.Body)
			}
		}
		if prev, ok := bodies[d.Event.ID]; ok {
			// At least once: a duplicate is the same event again, which
			// a consumer drops by id; order is judged on first copies.
			if prev != string(d.Body) {
				t.Errorf("event %s delivered twice with different bodies", d.Event.ID)
			}
			continue
		}
		bodies[d.Event.ID] = string(d.Body)
		k := d.Stream + "|" + d.Event.PartitionKey
		if d.Event.Time.Before(last[k]) {
			t.Errorf("out of order in %s for %s: %s at %s after %s", d.Stream, d.Event.PartitionKey, d.Event.Type, d.Event.Time, last[k])
		}
		last[k] = d.Event.Time
		if d.Event.Subject == sc.UserID {
			seen[d.Event.Type] = true
		}
	}
	for _, w := range sc.Want {
		if !seen[w] {
			var have []string
			for k := range seen {
				have = append(have, k)
			}
			slices.Sort(have)
			t.Errorf("no %s for the user; got %v", w, have)
		}
	}
}
