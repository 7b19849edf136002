package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

type echoBody struct {
	Name string `json:"name"`
}

func testServer(t *testing.T, trusted ...string) *Server {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	s := New(Config{Region: "us-east1", TrustedProxies: prefixes}, Deps{})
	e := s.Echo()
	e.POST("/echo", func(c echo.Context) error {
		var b echoBody
		if err := decodeJSON(c, &b); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, b)
	})
	e.GET("/panic", func(c echo.Context) error { panic("boom") })
	e.GET("/ip", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	e.GET("/limited", func(c echo.Context) error {
		return &errs.Error{Kind: errs.KindRateLimited, Code: "rate_limited", Message: "slow down", RetryAfter: 1500e6}
	})
	return s
}

func do(t *testing.T, s *Server, method, path string, body []byte, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.RemoteAddr = "192.0.2.10:5555"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec, m
}

func wantError(t *testing.T, rec *httptest.ResponseRecorder, body map[string]any, status int, code string) {
	t.Helper()
	if rec.Code != status || body["error"] != code {
		t.Fatalf("got %d %v, want %d %s", rec.Code, body, status, code)
	}
	if d, _ := body["error_description"].(string); d == "" {
		t.Fatalf("error without a description: %v", body)
	}
	if rec.Header().Get("Gatehouse-Region") != "us-east1" {
		t.Fatal("error response without Gatehouse-Region")
	}
}

func TestErrorsInContractFormat(t *testing.T) {
	s := testServer(t)

	rec, body := do(t, s, "POST", "/echo", []byte(`{"name":"`+strings.Repeat("a", BodyLimit)+`"}`))
	wantError(t, rec, body, 413, "request_too_large")

	rec, body = do(t, s, "POST", "/echo", []byte(`{"name": "x"`))
	wantError(t, rec, body, 400, "invalid_request")

	rec, body = do(t, s, "POST", "/echo", []byte(`{"name": "x", "admin": true}`))
	wantError(t, rec, body, 400, "invalid_request")
	if !strings.Contains(body["error_description"].(string), "admin") {
		t.Errorf("unknown-field error does not name the field: %v", body)
	}

	rec, body = do(t, s, "POST", "/echo", []byte(`{"name": "x"} {"name": "y"}`))
	wantError(t, rec, body, 400, "invalid_request")

	rec, body = do(t, s, "POST", "/echo", []byte(`{"name": 5}`))
	wantError(t, rec, body, 400, "invalid_request")

	rec, body = do(t, s, "POST", "/echo", []byte(``))
	wantError(t, rec, body, 400, "invalid_request")

	rec, body = do(t, s, "GET", "/nowhere", nil)
	wantError(t, rec, body, 404, "not_found")

	rec, body = do(t, s, "GET", "/limited", nil)
	wantError(t, rec, body, 429, "rate_limited")
	if rec.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5 s rounded up)", rec.Header().Get("Retry-After"))
	}

	rec, body = do(t, s, "POST", "/echo", []byte(`{"name": "ok"}`))
	if rec.Code != 200 || body["name"] != "ok" {
		t.Fatalf("valid body: %d %v", rec.Code, body)
	}
	for _, h := range []string{"X-Content-Type-Options", "Strict-Transport-Security", "Cache-Control", "X-Request-Id"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("response lacks %s", h)
		}
	}
}

func TestPanicGives500AndServerKeepsServing(t *testing.T) {
	s := testServer(t)
	rec, body := do(t, s, "GET", "/panic", nil)
	wantError(t, rec, body, 500, "internal_error")
	if strings.Contains(rec.Body.String(), "boom") {
		t.Fatal("the panic value leaked to the client")
	}
	rec, _ = do(t, s, "POST", "/echo", []byte(`{"name": "still here"}`))
	if rec.Code != 200 {
		t.Fatalf("after a panic: %d", rec.Code)
	}
}

func TestClientAddressTrustsOnlyConfiguredProxies(t *testing.T) {
	// No trusted proxies: X-Forwarded-For is ignored, whatever it says.
	s := testServer(t)
	rec, _ := do(t, s, "GET", "/ip", nil, "X-Forwarded-For", "203.0.113.7")
	if got := rec.Body.String(); got != "192.0.2.10" {
		t.Fatalf("untrusted peer: client ip %q, want the peer", got)
	}
	// The peer is a trusted proxy: the right-most untrusted hop is the client;
	// a spoofed left-most entry changes nothing.
	s = testServer(t, "192.0.2.0/24", "10.0.0.0/8")
	rec, _ = do(t, s, "GET", "/ip", nil, "X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.1.1.1")
	if got := rec.Body.String(); got != "203.0.113.7" {
		t.Fatalf("trusted chain: client ip %q, want 203.0.113.7", got)
	}
	rec, _ = do(t, s, "GET", "/ip", nil, "X-Forwarded-For", "not-an-ip")
	if got := rec.Body.String(); got != "192.0.2.10" {
		t.Fatalf("garbage XFF: client ip %q, want the peer", got)
	}
}

func TestRequestIDIsEchoedOrMinted(t *testing.T) {
	s := testServer(t)
	rec, _ := do(t, s, "GET", "/healthz", nil, "X-Request-Id", "abc-123")
	if rec.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatal("caller's request id not echoed")
	}
	rec, _ = do(t, s, "GET", "/healthz", nil, "X-Request-Id", "bad id\nwith newline")
	if id := rec.Header().Get("X-Request-Id"); id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"name":"x"}`))
	f.Add([]byte(`{"name":"x","other":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"name":"\u0000"}`))
	s := New(Config{Region: "r"}, Deps{})
	s.Echo().POST("/echo", func(c echo.Context) error {
		var b echoBody
		if err := decodeJSON(c, &b); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, b)
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/echo", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("non-JSON answer %q", rec.Body.String())
		}
		if rec.Code != 200 && m["error"] == nil {
			t.Fatalf("error answer without error code: %v", m)
		}
	})
}
