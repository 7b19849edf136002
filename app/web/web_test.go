package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestPickLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"":                          "en",
		"id":                        "id",
		"id-ID,id;q=0.9,en;q=0.8":   "id",
		"vi-VN":                     "vi",
		"fr-FR, vi;q=0.5, id;q=0.7": "id",
		"de, fr":                    "en",
		"en;q=0.1, vi;q=0.9":        "vi",
		"vi;q=0, id;q=0.2":          "id",
		"vi;q=abc":                  "en",
	} {
		if got := pickLanguage(header); got != want {
			t.Errorf("pickLanguage(%q) = %q, want %q", header, got, want)
		}
	}
}

// FuzzPickLanguage: any header picks one of the three languages.
func FuzzPickLanguage(f *testing.F) {
	for _, s := range []string{"", "id-ID,id;q=0.9", "vi;q=0.5,en;q=0.6", ";;;q=,", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if _, ok := messages[pickLanguage(h)]; !ok {
			t.Fatalf("pickLanguage(%q) = %q", h, pickLanguage(h))
		}
	})
}

func serve(p *Pages, req *http.Request) *httptest.ResponseRecorder {
	e := echo.New()
	p.Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// Every page carries a CSP whose nonce is the one its inline style and
// scripts use, refuses framing, and labels every input.
func TestPageHeadersAndMarkup(t *testing.T) {
	p := &Pages{Issuer: "https://auth.example"}
	rec := serve(p, httptest.NewRequest("GET", "/login", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /login: %d", rec.Code)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	body := rec.Body.String()
	if strings.Count(body, `nonce="`+m[1]+`"`) < 2 || strings.Contains(body, "<script>") {
		t.Fatalf("inline code without the nonce:\n%s", body)
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatal("no X-Frame-Options")
	}
	for _, want := range []string{`autocomplete="username webauthn"`, `autocomplete="current-password"`, `<label for="email">`, `<label for="password">`, `lang="en"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	// The CSRF cookie: __Host- prefixed, Secure, HttpOnly, SameSite=Lax on https.
	ck := rec.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != "__Host-gh_csrf" || !ck[0].Secure || !ck[0].HttpOnly || ck[0].Path != "/" || ck[0].Domain != "" || ck[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookies %+v", ck)
	}
	// On a plain-http development issuer the cookie cannot be __Host-.
	rec = serve(&Pages{Issuer: "http://localhost:8080"}, httptest.NewRequest("GET", "/signup", nil))
	if ck := rec.Result().Cookies(); len(ck) != 1 || ck[0].Name != "gh_csrf" || ck[0].Secure {
		t.Fatalf("dev cookies %+v", ck)
	}
	if body := rec.Body.String(); !strings.Contains(body, `autocomplete="new-password"`) {
		t.Error("sign-up page lacks autocomplete=new-password")
	}
	// Indonesian and Vietnamese.
	req := httptest.NewRequest("GET", "/login", nil)
	req.Header.Set("Accept-Language", "vi-VN,vi;q=0.9")
	rec = serve(p, req)
	if !strings.Contains(rec.Body.String(), `lang="vi"`) || !strings.Contains(rec.Body.String(), "Đăng nhập") {
		t.Error("no Vietnamese page")
	}
}

// A form without the CSRF token, or from another origin, is refused
// before anything runs (Accounts is nil here: any call would panic).
func TestCSRF(t *testing.T) {
	p := &Pages{Issuer: "https://auth.example"}
	post := func(token, cookie, origin string) int {
		form := url.Values{"email": {"a@example.org"}, "password": {"x"}, "csrf_token": {token}}
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "__Host-gh_csrf", Value: cookie})
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return serve(p, req).Code
	}
	tok := strings.Repeat("t", 43)
	for name, code := range map[string]int{
		"no token":       post("", tok, ""),
		"no cookie":      post(tok, "", ""),
		"other token":    post(strings.Repeat("u", 43), tok, ""),
		"short token":    post("t", "t", ""),
		"foreign origin": post(tok, tok, "https://evil.example"),
	} {
		if code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, code)
		}
	}
}
