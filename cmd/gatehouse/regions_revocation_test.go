package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// revokedToken is an access token whose session a test has revoked.
type revokedToken struct {
	way, access, session string
}

// Issue 14: a session revoked in one region, in any of the ways a session
// ends, is refused by every region within a second, also after a region's
// Redis lost its data.
func TestRevocationReachesEveryRegion(t *testing.T) {
	euRedis := startRedis(t)
	c := startClusterWith(t, 20*time.Millisecond, clusterOptions{redis: map[string]string{"europe-west1": euRedis}})
	us, eu := c.public["us-east1"], c.public["europe-west1"]
	admin := c.env["us-east1"]["GATEHOUSE_ADMIN_TOKEN"]
	db, err := store.Open(context.Background(), c.env["us-east1"]["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	redisOf := map[string]redis.UniversalClient{}
	for _, name := range regionNames {
		rdb, err := cache.NewClient(c.env[name]["GATEHOUSE_REDIS_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		redisOf[name] = rdb
	}

	// Every user is homed in europe-west1; every revocation is sent to
	// us-east1 (forwarded home, or executed there for the admin API).
	n := 0
	user := func() (email, pw, id string) {
		n++
		email, pw = fmt.Sprintf("revoked-%d@example.org", n), fmt.Sprintf("passphrase number %d of the test", n)
		resp, body := call(t, "POST", eu+"/v1/users", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.StatusCode != 201 || body["home_region"] != "europe-west1" {
			t.Fatalf("sign-up: %d %v", resp.StatusCode, body)
		}
		return email, pw, body["user_id"].(string)
	}
	loginEU := func(email, pw string) map[string]any {
		resp, body := call(t, "POST", eu+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.StatusCode != 200 {
			t.Fatalf("login: %d %v", resp.StatusCode, body)
		}
		return body
	}
	ok2xx := func(what string, code int, body map[string]any) {
		if code < 200 || code > 299 {
			t.Fatalf("%s: %d %v", what, code, body)
		}
	}
	tokenOf := func(way string, s map[string]any) revokedToken {
		return revokedToken{way: way, access: s["access_token"].(string), session: s["session_id"].(string)}
	}
	ways := []func() revokedToken{
		func() revokedToken {
			email, pw, _ := user()
			s := loginEU(email, pw)
			resp, b := call(t, "POST", us+"/v1/logout", nil, bearer(s["access_token"].(string))...)
			ok2xx("logout", resp.StatusCode, b)
			return tokenOf("logout", s)
		},
		func() revokedToken {
			email, pw, _ := user()
			s1, s2 := loginEU(email, pw), loginEU(email, pw)
			resp, b := call(t, "POST", us+"/v1/logout/all", nil, bearer(s1["access_token"].(string))...)
			ok2xx("logout everywhere", resp.StatusCode, b)
			return tokenOf("logout everywhere", s2)
		},
		func() revokedToken {
			email, pw, _ := user()
			s1, s2 := loginEU(email, pw), loginEU(email, pw)
			resp, b := call(t, "DELETE", us+"/v1/sessions/"+s2["session_id"].(string), nil, bearer(s1["access_token"].(string))...)
			ok2xx("session delete", resp.StatusCode, b)
			return tokenOf("session delete", s2)
		},
		func() revokedToken {
			email, pw, id := user()
			s := loginEU(email, pw)
			resp, b := call(t, "POST", us+"/admin/v1/users/"+id+"/ban", nil, bearer(admin)...)
			ok2xx("ban", resp.StatusCode, b)
			return tokenOf("ban", s)
		},
		func() revokedToken {
			email, pw, _ := user()
			s1, s2 := loginEU(email, pw), loginEU(email, pw)
			resp, b := call(t, "POST", us+"/v1/password/change",
				jsonBody(`{"current_password":"`+pw+`","new_password":"an entirely new passphrase"}`), bearer(s1["access_token"].(string))...)
			ok2xx("password change", resp.StatusCode, b)
			return tokenOf("password change", s2)
		},
		func() revokedToken {
			email, pw, _ := user()
			s := loginEU(email, pw)
			resp, b := call(t, "POST", us+"/v1/password/reset", jsonBody(`{"email":"`+email+`"}`))
			ok2xx("reset request", resp.StatusCode, b)
			var tok string
			for deadline := time.Now().Add(5 * time.Second); tok == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				msgs, err := db.ClaimOutbox(context.Background(), "europe-west1", 100, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					if m.Recipient == email && m.Kind == "password_reset" {
						tok, _ = m.Payload["token"].(string)
					}
				}
			}
			if tok == "" {
				t.Fatal("no reset mail")
			}
			resp, b = call(t, "POST", us+"/v1/password/reset/confirm", jsonBody(`{"token":"`+tok+`","new_password":"a passphrase after the reset"}`))
			ok2xx("reset confirm", resp.StatusCode, b)
			return tokenOf("password reset", s)
		},
		func() revokedToken {
			email, pw, _ := user()
			s := loginEU(email, pw)
			rt := s["refresh_token"].(string)
			resp, b := form(t, us, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			ok2xx("refresh", resp.StatusCode, b)
			resp, b = form(t, us, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if resp.StatusCode != 400 {
				t.Fatalf("reused refresh token: %d %v", resp.StatusCode, b)
			}
			return tokenOf("refresh reuse", s)
		},
		func() revokedToken {
			email, pw, id := user()
			s := loginEU(email, pw)
			resp, b := call(t, "POST", us+"/admin/v1/users/"+id+"/sessions/revoke", nil, bearer(admin)...)
			ok2xx("admin revoke", resp.StatusCode, b)
			return tokenOf("admin revoke", s)
		},
	}
	// accepted lists where a revoked token still works: Bearer endpoints
	// and introspection in every region, and each region's Redis mark.
	accepted := func(r revokedToken, checkMarks bool) []string {
		var out []string
		for _, name := range regionNames {
			base := c.public[name]
			if resp, _ := call(t, "GET", base+"/v1/me", nil, bearer(r.access)...); resp.StatusCode != 401 {
				out = append(out, fmt.Sprintf("GET /v1/me at %s: %d", name, resp.StatusCode))
			}
			if body := introspect(t, base, admin, r.access); body["active"] != false {
				out = append(out, "introspection at "+name+" says active")
			}
			if checkMarks {
				if n, err := redisOf[name].Exists(context.Background(), "gh:rev:"+r.session).Result(); err != nil || n != 1 {
					out = append(out, fmt.Sprintf("no mark in %s's Redis (%v)", name, err))
				}
			}
		}
		return out
	}
	var revoked []revokedToken
	for _, way := range ways {
		r := way()
		done := time.Now()
		for {
			left := accepted(r, true)
			if len(left) == 0 {
				t.Logf("%s: refused everywhere %v after the revocation answered", r.way, time.Since(done).Round(time.Millisecond))
				break
			}
			if time.Since(done) > time.Second {
				t.Fatalf("%s: still accepted a second after the revocation: %s", r.way, strings.Join(left, "; "))
			}
			time.Sleep(20 * time.Millisecond)
		}
		revoked = append(revoked, r)
	}

	// europe-west1's Redis loses everything (a restart without
	// persistence): its "not revoked" is not believed meanwhile, and its
	// marks are back within a second.
	port := strings.TrimSuffix(strings.TrimPrefix(euRedis, "redis://127.0.0.1:"), "/0")
	if out, err := exec.Command("redis-cli", "-p", port, "FLUSHALL").CombinedOutput(); err != nil {
		t.Fatalf("flush: %v %s", err, out)
	}
	for _, r := range revoked {
		if left := accepted(r, false); len(left) > 0 {
			t.Fatalf("%s after europe-west1's Redis was flushed: %s", r.way, strings.Join(left, "; "))
		}
	}
	deadline := time.Now().Add(time.Second)
	for _, r := range revoked {
		for {
			if n, _ := redisOf["europe-west1"].Exists(context.Background(), "gh:rev:"+r.session).Result(); n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: europe-west1's Redis did not get its mark back within a second of the flush", r.way)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := metricValue(t, us, "gatehouse_revocation_propagation_seconds_count"); got == "" || got == "0" {
		t.Fatalf("gatehouse_revocation_propagation_seconds_count = %q", got)
	}
}
