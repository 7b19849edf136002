package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// The test plays the mailer: it claims the region's outbox like the
// dispatcher does.
func readOutbox(t *testing.T, db *store.DB, wait time.Duration) []auth.OutboxMessage {
	t.Helper()
	deadline := time.Now().Add(wait)
	var all []auth.OutboxMessage
	for {
		msgs, err := db.ClaimOutbox(context.Background(), "us-east1", 100, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
		if time.Now().After(deadline) {
			return all
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPasswordResetFlow(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const email, oldPw, newPw = "reset@example.org", "the old passphrase", "the brand new passphrase"
	signUp(t, s.URL, email, oldPw)
	live := login(t, s.URL, email, oldPw)

	// Known and unknown addresses get the same answer.
	for _, addr := range []string{email, "nobody-here@example.org"} {
		resp, body := call(t, "POST", s.URL+"/v1/password/reset", jsonBody(`{"email":"`+addr+`"}`))
		if resp.StatusCode != 202 || body["status"] == "" {
			t.Fatalf("reset request for %s: %d %v", addr, resp.StatusCode, body)
		}
	}
	msgs := readOutbox(t, db, time.Second)
	if len(msgs) != 1 || msgs[0].Recipient != email || msgs[0].Kind != "password_reset" {
		t.Fatalf("outbox: %+v", msgs)
	}
	tok, _ := msgs[0].Payload["token"].(string)

	// A weak new password is refused and the token stays usable.
	resp, body := call(t, "POST", s.URL+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"password"}`))
	if resp.StatusCode != 400 || body["error"] != "password_blocklisted" {
		t.Fatalf("weak reset: %d %v", resp.StatusCode, body)
	}
	if resp, body := call(t, "POST", s.URL+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"`+newPw+`"}`)); resp.StatusCode != 204 {
		t.Fatalf("reset confirm: %d %v", resp.StatusCode, body)
	}
	// Single use; every session ended; the old password is gone.
	if resp, _ := call(t, "POST", s.URL+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"yet another passphrase"}`)); resp.StatusCode != 400 {
		t.Fatalf("reused reset token: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(live["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("session survived the reset: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+oldPw+`"}`)); resp.StatusCode != 401 {
		t.Fatalf("old password after reset: %d", resp.StatusCode)
	}
	fresh := login(t, s.URL, email, newPw)

	// Password change needs the current password and ends the other sessions.
	other := login(t, s.URL, email, newPw)
	resp, body = call(t, "POST", s.URL+"/v1/password/change", jsonBody(`{"current_password":"wrong one","new_password":"a third passphrase"}`), bearer(fresh["access_token"].(string))...)
	if resp.StatusCode != 403 {
		t.Fatalf("change with a wrong current password: %d %v", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", s.URL+"/v1/password/change", jsonBody(`{"current_password":"`+newPw+`","new_password":"a third passphrase"}`), bearer(fresh["access_token"].(string))...)
	if resp.StatusCode != 204 {
		t.Fatalf("change: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(fresh["access_token"].(string))...); resp.StatusCode != 200 {
		t.Fatalf("the changing session must survive: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(other["access_token"].(string))...); resp.StatusCode != 401 {
		t.Fatalf("other sessions must end on a password change: %d", resp.StatusCode)
	}

	// Admin force-reset: sessions end, the password no longer logs in, and a
	// reset mail goes out.
	uid := func() string {
		_, me := call(t, "GET", s.URL+"/v1/me", nil, bearer(fresh["access_token"].(string))...)
		return me["user_id"].(string)
	}()
	if resp, _ := call(t, "POST", s.URL+"/admin/v1/users/"+uid+"/password/force-reset", nil, bearer(env["GATEHOUSE_ADMIN_TOKEN"])...); resp.StatusCode != 200 {
		t.Fatalf("force reset: %d", resp.StatusCode)
	}
	resp, body = call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"a third passphrase"}`))
	if resp.StatusCode != 403 || body["error"] != "password_reset_required" {
		t.Fatalf("login after force reset: %d %v", resp.StatusCode, body)
	}
	// The outbox also holds the earlier reset's "password reset completed"
	// mail (with the factors still enrolled).
	kinds := map[string]int{}
	msgs = readOutbox(t, db, 200*time.Millisecond)
	for _, m := range msgs {
		kinds[m.Kind]++
	}
	if kinds["password_reset_forced"] != 1 || kinds["password_reset_completed"] != 1 || len(msgs) != 2 {
		t.Fatalf("force-reset mail: %+v", msgs)
	}
}
