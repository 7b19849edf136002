package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// stepUpAccounts answers every password with verification_required and
// checks codes with verify; any other call panics (the embedded nil).
type stepUpAccounts struct {
	Accounts
	verify func(tok, code string, ch *defense.Solution) (auth.TokenResponse, error)
}

func (a *stepUpAccounts) Login(context.Context, auth.LoginRequest) (auth.LoginResult, error) {
	return auth.LoginResult{Outcome: auth.LoginVerificationRequired, Verification: &auth.Verification{Token: "ghv_us-east1_tok", ExpiresIn: 600}}, nil
}

func (a *stepUpAccounts) VerifyLogin(_ context.Context, tok, code string, ch *defense.Solution) (auth.TokenResponse, error) {
	return a.verify(tok, code, ch)
}

// postForm posts a CSRF-protected form to the pages.
func postForm(p *Pages, path, lang string, form url.Values) *httptest.ResponseRecorder {
	tok := strings.Repeat("t", 43)
	form.Set("csrf_token", tok)
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", lang)
	req.AddCookie(&http.Cookie{Name: "__Host-gh_csrf", Value: tok})
	return serve(p, req)
}

// A stepped-up sign-in asks for the emailed code on an accessible page in
// each language, instead of calling the right password wrong.
func TestSteppedUpSignInAsksForTheEmailedCode(t *testing.T) {
	p := &Pages{Issuer: "https://auth.example", Accounts: &stepUpAccounts{}}
	for lang, text := range map[string]string{"en": "we emailed you a 6-digit code", "id": "kode 6 digit ke email Anda", "vi": "mã gồm 6 chữ số"} {
		rec := postForm(p, "/login", lang, url.Values{"email": {"a@example.org"}, "password": {"right"}, "authz": {"client_id=app&state=s"}})
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, text) || !strings.Contains(body, `lang="`+lang+`"`) {
			t.Fatalf("%s: %d\n%s", lang, rec.Code, body)
		}
		for _, want := range []string{`action="/login/verify"`, `name="csrf_token" value="` + strings.Repeat("t", 43) + `"`,
			`name="verification_token" value="ghv_us-east1_tok"`, `name="authz" value="client_id=app&amp;state=s"`,
			`<label for="code">`, `id="code" name="code"`, `autocomplete="one-time-code"`, `inputmode="numeric"`, `aria-describedby="verify-text"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the code page lacks %s", lang, want)
			}
		}
		if strings.Contains(body, messages[lang]["err_invalid_credentials"]) {
			t.Errorf("%s: the right password was called wrong", lang)
		}
	}
}

// The code form: a wrong code shows the page again with an alert, a
// challenge is solved on it, a lock says when to come back, an expired
// token starts over, the right code signs in.
func TestCodePageAnswers(t *testing.T) {
	var answer error
	var got struct {
		tok, code string
		ch        *defense.Solution
	}
	acc := &stepUpAccounts{verify: func(tok, code string, ch *defense.Solution) (auth.TokenResponse, error) {
		got.tok, got.code, got.ch = tok, code, ch
		if answer != nil {
			return auth.TokenResponse{}, answer
		}
		return auth.TokenResponse{RefreshToken: "ghr_session", DeviceToken: "ghd_device"}, nil
	}}
	p := &Pages{Issuer: "https://auth.example", Accounts: acc}
	submit := func(code string, extra ...string) *httptest.ResponseRecorder {
		f := url.Values{"verification_token": {"ghv_us-east1_tok"}, "code": {code}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return postForm(p, "/login/verify", "en", f)
	}

	answer = errs.E(errs.KindUnauthenticated, "invalid_code", "wrong")
	rec := submit("123456")
	body := rec.Body.String()
	if rec.Code != http.StatusUnauthorized || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "That code is wrong") ||
		!strings.Contains(body, `name="verification_token" value="ghv_us-east1_tok"`) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("wrong code: %d\n%s", rec.Code, body)
	}
	if got.tok != "ghv_us-east1_tok" || got.code != "123456" || got.ch != nil {
		t.Fatalf("VerifyLogin got %+v", got)
	}

	answer = errs.Invalid("invalid_request", "code must be 6 digits")
	if rec := submit("12ab"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Enter the 6 digits") {
		t.Fatalf("malformed code: %d\n%s", rec.Code, rec.Body)
	}

	answer = &errs.Error{Kind: errs.KindForbidden, Code: "challenge_required", Details: map[string]any{"challenge": map[string]any{"id": "c1"}}}
	rec = submit("123456")
	body = rec.Body.String()
	if rec.Code != http.StatusForbidden || !strings.Contains(body, `action="/login/verify" id="verify-form" data-challenge="{&#34;id&#34;:&#34;c1&#34;}"`) ||
		!strings.Contains(body, "solveGatehouseChallenge") || !strings.Contains(body, "not a robot") {
		t.Fatalf("challenge: %d\n%s", rec.Code, body)
	}
	answer = nil
	submit("123456", "challenge_solution", `{"token":"c1","nonce":"n42"}`)
	if got.ch == nil || got.ch.Token != "c1" || got.ch.Nonce != "n42" {
		t.Fatalf("the challenge solution was not passed on: %+v", got.ch)
	}

	answer = &errs.Error{Kind: errs.KindLocked, Code: "account_locked", RetryAfter: 30 * time.Second}
	rec = submit("123456")
	if rec.Code != http.StatusLocked || rec.Header().Get("Retry-After") != "30" || !strings.Contains(rec.Body.String(), `action="/login/verify"`) {
		t.Fatalf("locked: %d %v\n%s", rec.Code, rec.Header(), rec.Body)
	}
	answer = &errs.Error{Kind: errs.KindRateLimited, Code: "rate_limited", RetryAfter: 2 * time.Second}
	if rec := submit("123456"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("rate limited: %d %v", rec.Code, rec.Header())
	}

	answer = errs.E(errs.KindUnauthenticated, "invalid_verification_token", "gone")
	rec = submit("123456", "authz", "client_id=app")
	body = rec.Body.String()
	if rec.Code != http.StatusUnauthorized || !strings.Contains(body, `action="/login"`) || !strings.Contains(body, "Sign in again to get a new one") ||
		!strings.Contains(body, `name="authz" value="client_id=app"`) {
		t.Fatalf("expired token: %d\n%s", rec.Code, body)
	}

	answer = errs.E(errs.KindForbidden, "account_disabled", "this account is disabled")
	if rec := submit("123456"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "This account is disabled.") {
		t.Fatalf("disabled meanwhile: %d\n%s", rec.Code, rec.Body)
	}

	answer = nil
	rec = submit("123456")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/account" {
		t.Fatalf("right code: %d %v", rec.Code, rec.Header())
	}
	cookies := map[string]string{}
	for _, c := range rec.Result().Cookies() {
		cookies[c.Name] = c.Value
	}
	if cookies["__Host-gh_session"] != "ghr_session" || cookies["__Host-gh_device"] != "ghd_device" {
		t.Fatalf("cookies after the right code: %v", cookies)
	}
}
