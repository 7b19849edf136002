package web

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// fakeRegions routes like httpapi.API.RoutePage: the resolver gets the
// raw body, a request for another region is "forwarded" (418 here), any
// other is served with the body restored.
type fakeRegions struct {
	homes     map[string]string // email -> region
	forwarded bool              // every request arrives forwarded
	asked     []string          // emails looked up
	sentTo    string
}

func (f *fakeRegions) RoutePage(home func(echo.Context, []byte) string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, _ := io.ReadAll(c.Request().Body)
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		if f.forwarded {
			return next(c)
		}
		region := home(c, body)
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		if region == "" {
			return next(c)
		}
		f.sentTo = region
		return c.String(http.StatusTeapot, "forwarded")
	}
}

func (f *fakeRegions) HomeOfEmail(_ echo.Context, email string) string {
	f.asked = append(f.asked, email)
	return f.homes[email]
}

func (f *fakeRegions) HomeOfSignUp(c echo.Context, email string) string {
	return f.HomeOfEmail(c, email)
}
func (f *fakeRegions) ClientAddr(echo.Context) string { return "203.0.113.9" }
func (f *fakeRegions) Forwarded(echo.Context) bool    { return f.forwarded }

// loginRecorder is an account service that only knows Login.
type loginRecorder struct {
	Accounts
	got *auth.LoginRequest
}

func (l loginRecorder) Login(_ context.Context, req auth.LoginRequest) (auth.LoginResult, error) {
	*l.got = req
	return auth.LoginResult{}, nil
}

const testCSRF = "tttttttttttttttttttttttttttttttttttttttttt"

func pagePost(target, contentType string, body io.Reader, origin string) *http.Request {
	req := httptest.NewRequest("POST", target, body)
	req.Header.Set("Content-Type", contentType)
	req.AddCookie(&http.Cookie{Name: "gh_csrf", Value: testCSRF})
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}

// A sign-in is routed by the email the handler reads, wherever the form
// put it (body, query string, multipart), and a forged form is refused
// here without a lookup. Served here, the handler reads the restored form
// and gives the account service the client address Regions vouches for.
func TestPagesRouteByTheFieldsTheHandlerReads(t *testing.T) {
	const victim = "victim@example.org"
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	_ = w.WriteField("email", victim)
	_ = w.WriteField("password", "guess")
	_ = w.WriteField("csrf_token", testCSRF)
	_ = w.Close()
	urlencoded := "application/x-www-form-urlencoded"
	for name, req := range map[string]*http.Request{
		"body":      pagePost("/login", urlencoded, strings.NewReader(url.Values{"email": {victim}, "password": {"guess"}, "csrf_token": {testCSRF}}.Encode()), ""),
		"query":     pagePost("/login?email="+url.QueryEscape(victim), urlencoded, strings.NewReader(url.Values{"password": {"guess"}, "csrf_token": {testCSRF}}.Encode()), ""),
		"multipart": pagePost("/login", w.FormDataContentType(), &mp, ""),
	} {
		f := &fakeRegions{homes: map[string]string{victim: "us-east1"}}
		rec := serve(&Pages{Issuer: "http://localhost:8080", Regions: f}, req)
		if rec.Code != http.StatusTeapot || f.sentTo != "us-east1" {
			t.Errorf("%s: %d, sent to %q (asked %q)", name, rec.Code, f.sentTo, f.asked)
		}
	}

	// A forged form: refused here, no lookup, no hop.
	f := &fakeRegions{homes: map[string]string{victim: "us-east1"}}
	req := pagePost("/login", urlencoded, strings.NewReader(url.Values{"email": {victim}, "password": {"guess"}, "csrf_token": {"forged"}}.Encode()), "")
	if rec := serve(&Pages{Issuer: "http://localhost:8080", Regions: f}, req); rec.Code != http.StatusForbidden || len(f.asked) != 0 || f.sentTo != "" {
		t.Fatalf("forged form: %d, asked %q, sent to %q", rec.Code, f.asked, f.sentTo)
	}

	// Served here: the form survives the routing, the address is Regions'.
	var got auth.LoginRequest
	p := &Pages{Issuer: "http://localhost:8080", Regions: &fakeRegions{}, Accounts: loginRecorder{got: &got}}
	req = pagePost("/login", urlencoded, strings.NewReader(url.Values{"email": {"here@example.org"}, "password": {"pw here"}, "csrf_token": {testCSRF}}.Encode()), "")
	if rec := serve(p, req); rec.Code != http.StatusUnauthorized || got.Email != "here@example.org" || got.Password != "pw here" || got.IP != "203.0.113.9" {
		t.Fatalf("served here: %d %+v", rec.Code, got)
	}
}

// Session pages go to the session's region; without a session, here.
func TestPagesRouteBySession(t *testing.T) {
	f := &fakeRegions{}
	req := httptest.NewRequest("GET", "/account", nil)
	req.AddCookie(&http.Cookie{Name: "gh_session", Value: "ghr_asia-south1_" + strings.Repeat("A", 43)})
	if rec := serve(&Pages{Issuer: "http://localhost:8080", Regions: f}, req); rec.Code != http.StatusTeapot || f.sentTo != "asia-south1" {
		t.Fatalf("GET /account with a session: %d to %q", rec.Code, f.sentTo)
	}
	f = &fakeRegions{}
	if rec := serve(&Pages{Issuer: "http://localhost:8080", Regions: f}, httptest.NewRequest("GET", "/account", nil)); rec.Code != http.StatusSeeOther || f.sentTo != "" {
		t.Fatalf("GET /account without a session: %d to %q", rec.Code, f.sentTo)
	}
}

// On a development issuer (http), a forwarded form's Host is the home
// region's internal address: the Origin was checked by the entry region.
// A request that was not forwarded must still match its own Host.
func TestPagesForwardedOriginOnDevelopmentIssuer(t *testing.T) {
	form := url.Values{"email": {"a@example.org"}, "password": {"pw"}, "csrf_token": {testCSRF}}.Encode()
	for forwarded, want := range map[bool]int{true: http.StatusUnauthorized, false: http.StatusForbidden} {
		var got auth.LoginRequest
		p := &Pages{Issuer: "http://localhost:8080", Regions: &fakeRegions{forwarded: forwarded}, Accounts: loginRecorder{got: &got}}
		req := pagePost("/login", "application/x-www-form-urlencoded", strings.NewReader(form), "http://127.0.0.1:8081")
		req.Host = "127.0.0.1:9080"
		if rec := serve(p, req); rec.Code != want {
			t.Errorf("forwarded %v: %d, want %d", forwarded, rec.Code, want)
		}
	}
}
