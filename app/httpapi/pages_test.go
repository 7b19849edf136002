package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// stubForwarding accepts a request as forwarded when it carries
// X-Test-Forwarded, and records where others are forwarded.
type stubForwarding struct{ sentTo string }

func (s *stubForwarding) Inbound(r *http.Request, _ []byte) (string, string, bool, error) {
	if r.Header.Get("X-Test-Forwarded") == "" {
		return "", "", false, nil
	}
	return "europe-west1", "203.0.113.9", true, nil
}

func (s *stubForwarding) Forward(w http.ResponseWriter, _ *http.Request, region, _ string, _ []byte) (bool, bool, error) {
	s.sentTo = region
	w.WriteHeader(http.StatusTeapot)
	return true, false, nil
}

func (s *stubForwarding) PseudoHome(string) string { return "asia-south1" }
func (s *stubForwarding) Regions() int             { return 3 }

// RoutePage hands the resolver the raw body and restores it, so that the
// page handler reads its form with c.FormValue whether or not the
// resolver parsed it; a forwarded request is served with the vouched
// client address; without Forwarding everything is served here.
func TestRoutePage(t *testing.T) {
	const form = "email=a%40example.org&password=pw"
	echoForm := func(c echo.Context) error {
		return c.String(http.StatusOK, c.FormValue("email")+"|"+c.FormValue("password"))
	}
	run := func(a *API, home func(echo.Context, []byte) string, h echo.HandlerFunc, forwarded bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if forwarded {
			req.Header.Set("X-Test-Forwarded", "1")
		}
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(req, rec)
		if err := a.RoutePage(home, h)(c); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	for name, a := range map[string]*API{"one region": {Region: "us-east1"}, "regions": {Region: "us-east1", Forwarding: &stubForwarding{}}} {
		var raw string
		rawOnly := func(_ echo.Context, body []byte) string { raw = string(body); return "" }
		parses := func(c echo.Context, _ []byte) string { _ = c.FormValue("email"); return "us-east1" }
		for _, home := range []func(echo.Context, []byte) string{rawOnly, parses} {
			if rec := run(a, home, echoForm, false); rec.Code != 200 || rec.Body.String() != "a@example.org|pw" {
				t.Fatalf("%s: %d %q", name, rec.Code, rec.Body.String())
			}
		}
		if a.Forwarding != nil && raw != form {
			t.Fatalf("%s: the resolver got %q", name, raw)
		}
	}

	fwd := &stubForwarding{}
	a := &API{Region: "us-east1", Forwarding: fwd}
	if rec := run(a, func(echo.Context, []byte) string { return "asia-south1" }, echoForm, false); rec.Code != http.StatusTeapot || fwd.sentTo != "asia-south1" {
		t.Fatalf("not forwarded: %d to %q", rec.Code, fwd.sentTo)
	}
	called := false
	rec := run(a, func(echo.Context, []byte) string { called = true; return "asia-south1" }, func(c echo.Context) error {
		return c.String(http.StatusOK, a.ClientAddr(c)+" "+map[bool]string{true: "forwarded", false: "direct"}[a.Forwarded(c)])
	}, true)
	if called || rec.Body.String() != "203.0.113.9 forwarded" || rec.Header().Get(headerEntryRegion) != "europe-west1" {
		t.Fatalf("forwarded request: resolver called %v, %q %v", called, rec.Body.String(), rec.Header())
	}

	// One region: the resolvers say "here" without a lookup (Auth is nil).
	one := &API{Region: "us-east1"}
	c := echo.New().NewContext(httptest.NewRequest("POST", "/signup", nil), httptest.NewRecorder())
	if one.HomeOfEmail(c, "a@example.org") != "" || one.HomeOfSignUp(c, "a@example.org") != "" || one.Forwarded(c) {
		t.Fatal("a single region must serve here")
	}
}
