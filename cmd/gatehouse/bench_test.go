package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkRefreshHTTP rotates refresh tokens over HTTP against the real
// run (PostgreSQL, Redis), many sessions in parallel; with -cpuprofile it
// shows where a rotation's time goes on the Go side.
func BenchmarkRefreshHTTP(b *testing.B) {
	s := startServer(b, with(testEnv(b), "GATEHOUSE_LOG_LEVEL", "info", "GATEHOUSE_DEFENSE_ENABLED", "false"))
	const sessions = 64
	tokens := make(chan string, sessions)
	signUp(b, s.URL, "bench@example.org", "a passphrase for the bench")
	for range sessions {
		tokens <- login(b, s.URL, "bench@example.org", "a passphrase for the bench")["refresh_token"].(string)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rt := <-tokens
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			resp, err := client.Post(s.URL+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				b.Error(err)
				return
			}
			var tr struct {
				RefreshToken string `json:"refresh_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil {
				b.Errorf("refresh: %d %v", resp.StatusCode, err)
				return
			}
			tokens <- tr.RefreshToken
		}
	})
}

// BenchmarkIntrospectHTTP introspects access tokens over HTTP.
func BenchmarkIntrospectHTTP(b *testing.B) {
	env := with(testEnv(b), "GATEHOUSE_LOG_LEVEL", "info", "GATEHOUSE_DEFENSE_ENABLED", "false")
	s := startServer(b, env)
	signUp(b, s.URL, "bench@example.org", "a passphrase for the bench")
	at := login(b, s.URL, "bench@example.org", "a passphrase for the bench")["access_token"].(string)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := url.Values{"token": {at}}.Encode()
	b.ResetTimer()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", s.URL+"/oauth2/introspect", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+env["GATEHOUSE_ADMIN_TOKEN"])
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var r struct {
				Active bool `json:"active"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if !r.Active || err != nil {
				b.Errorf("introspect: %d %v", resp.StatusCode, err)
				return
			}
		}
	})
}
