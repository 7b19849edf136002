package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// browserSession is headless Chromium driven over the DevTools protocol.
// Screenshots of every page go to the test's temporary directory and,
// when GATEHOUSE_SCREENSHOTS_DIR is set (make screenshots), there too.
type browserSession struct {
	t     *testing.T
	ctx   context.Context
	shots string
	n     int
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is required (.ci/services installs Debian's chromium)")
	return ""
}

func newBrowserSession(t *testing.T) *browserSession {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 900),
		// Frames of other sites in the page's own process, so the page's
		// frame tree shows what became of a framed Gatehouse page.
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout (it
	// would stop the browser); the later ones do.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return &browserSession{t: t, ctx: tctx, shots: t.TempDir()}
}

func (b *browserSession) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// shot saves a full-page screenshot named after the page.
func (b *browserSession) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	b.n++
	file := fmt.Sprintf("%s.png", name)
	if err := os.WriteFile(filepath.Join(b.shots, file), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if dir := os.Getenv("GATEHOUSE_SCREENSHOTS_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *browserSession) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

func (b *browserSession) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// relyingApp is the client's own web server: its callback page shows
// that the browser arrived.
func relyingApp(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/callback":
			fmt.Fprintf(w, `<!doctype html><title>Photo Album</title><h1 id="arrived">Signed in to Photo Album</h1><p>state: %s</p>`,
				htmlEscape(r.URL.Query().Get("state")))
		case "/framer":
			fmt.Fprintf(w, `<!doctype html><title>Another site</title><h1>Another site framing Gatehouse</h1><iframe id="f" src="%s" width="600" height="500"></iframe>`,
				htmlEscape(r.URL.Query().Get("src")))
		default:
			_, _ = io.WriteString(w, "<!doctype html><p>logged out</p>")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// browserServer is Gatehouse at http://localhost:PORT (a secure context
// for WebAuthn and crypto.subtle) with one third-party client.
func browserServer(t *testing.T, app string) (*testServer, string) {
	t.Helper()
	port := freePort(t)
	issuer := fmt.Sprintf("http://localhost:%d", port)
	env := with(testEnv(t), "GATEHOUSE_HTTP_ADDR", fmt.Sprintf("127.0.0.1:%d", port), "GATEHOUSE_ISSUER", issuer)
	s := startServer(t, env)
	createClient(t, s.URL, map[string]any{"client_id": "photos", "name": "Photo Album", "redirect_uris": []string{app + "/callback"},
		"post_logout_redirect_uris": []string{app + "/bye"}})
	return s, issuer
}

func authorizeURL(issuer, app, state string, extra ...string) (string, string) {
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {"photos"}, "redirect_uri": {app + "/callback"}, "scope": {"openid email"},
		"state": {state}, "nonce": {"n-" + state}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return issuer + "/oauth2/authorize?" + q.Encode(), verifier
}

// TestBrowserSignUpConsentCallback: a person signs up on the hosted page,
// consents, and lands on the client's callback; then signs out.
func TestBrowserSignUpConsentCallback(t *testing.T) {
	app := relyingApp(t)
	_, issuer := browserServer(t, app.URL)
	b := newBrowserSession(t)
	u, _ := authorizeURL(issuer, app.URL, "state-1")
	b.run(chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("email")))
	b.shot("01-sign-in")
	b.run(chromedp.Click(chromedp.CSS(`a[href^="/signup"]`)), chromedp.WaitVisible(chromedp.ID("create")))
	b.shot("02-sign-up")
	email := "browser-" + randomHex(6) + "@example.org"
	b.run(chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), oidcPassword),
		chromedp.Click(chromedp.ID("create")), chromedp.WaitVisible(chromedp.ID("allow")))
	mustf(t, strings.Contains(b.text("main"), "Photo Album"), "consent page names the client: %s", b.text("main"))
	b.shot("03-consent")
	b.run(chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("arrived")))
	b.shot("04-client-callback")
	loc, _ := url.Parse(b.location())
	mustf(t, strings.HasPrefix(loc.String(), app.URL+"/callback") && strings.HasPrefix(loc.Query().Get("code"), "ghc_") && loc.Query().Get("state") == "state-1",
		"landed on %s", loc)

	b.run(chromedp.Navigate(issuer+"/account"), chromedp.WaitVisible(chromedp.ID("sign-out")))
	b.shot("05-account")
	b.run(chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	b.shot("06-signed-out")
	mustf(t, strings.Contains(b.text("main"), "signed out"), "signed-out page: %s", b.text("main"))
	b.run(chromedp.Navigate(issuer+"/password/forgot"), chromedp.WaitVisible(chromedp.ID("email")))
	b.shot("07-forgot-password")
	b.run(chromedp.Navigate(issuer+"/password/reset?token=x"), chromedp.WaitVisible(chromedp.ID("password")))
	b.shot("08-reset-password")
	bad, _ := authorizeURL(issuer, app.URL, "s", "redirect_uri", app.URL+"/callbackx")
	b.run(chromedp.Navigate(bad), chromedp.WaitVisible(chromedp.ID("form-error")))
	mustf(t, strings.HasPrefix(b.location(), issuer), "an unregistered redirect URI was followed to %s", b.location())
	b.shot("09-error")
	b.run(chromedp.Navigate(issuer+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
}

// TestBrowserTOTPAndFraming: sign in with a password and a TOTP code; a
// page of another origin that frames the sign-in page gets nothing.
func TestBrowserTOTPAndFraming(t *testing.T) {
	app := relyingApp(t)
	s, issuer := browserServer(t, app.URL)
	email := "totp-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)
	_, plain := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+oidcPassword+`"}`))
	at := plain["access_token"].(string)
	_, en := call(t, "POST", s.URL+"/v1/mfa/totp", nil, bearer(at)...)
	secret := en["secret"].(string)
	now := time.Now()
	if resp, body := call(t, "POST", s.URL+"/v1/mfa/totp/confirm", jsonBody(`{"code":"`+totpCode(t, secret, now.Add(-30*time.Second))+`"}`), bearer(at)...); resp.StatusCode != 204 {
		t.Fatalf("confirm: %d %v", resp.StatusCode, body)
	}

	b := newBrowserSession(t)
	u, _ := authorizeURL(issuer, app.URL, "state-2")
	b.run(chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), oidcPassword),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("totp_code")))
	ac, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID("totp_code"), "autocomplete"))
	mustf(t, err == nil && ac.Value == "one-time-code", "TOTP field autocomplete %q: %v", ac.Value, err)
	b.shot("10-second-factor")
	b.run(chromedp.SendKeys(chromedp.ID("totp_code"), totpCode(t, secret, now)), chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("allow")), chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("arrived")))
	loc, _ := url.Parse(b.location())
	mustf(t, loc.Query().Get("state") == "state-2" && loc.Query().Get("code") != "", "landed on %s", loc)

	// Framed by another origin: frame-ancestors 'none' keeps it blank.
	b.run(chromedp.Navigate(app.URL+"/framer?src="+url.QueryEscape(issuer+"/login")), chromedp.WaitVisible(chromedp.ID("f")))
	time.Sleep(500 * time.Millisecond)
	b.shot("11-framed-by-another-site")
	res, err := chromedp.Call(b.ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	tree := res.FrameTree
	mustf(t, len(tree.ChildFrames) == 1, "frames: %+v", tree)
	child := tree.ChildFrames[0].Frame
	mustf(t, strings.HasPrefix(child.URL, "chrome-error:") && strings.HasPrefix(child.UnreachableURL, issuer+"/login"),
		"the framed sign-in page rendered: %s (unreachable %q)", child.URL, child.UnreachableURL)
}

// TestBrowserPasskey: a person adds a passkey on the account page and
// signs in with it through Chrome's virtual authenticator (the DevTools
// WebAuthn domain), landing on the client's callback.
func TestBrowserPasskey(t *testing.T) {
	app := relyingApp(t)
	s, issuer := browserServer(t, app.URL)
	email := "passkey-" + randomHex(6) + "@example.org"
	signUpVia(t, s.URL, email, oidcPassword)
	b := newBrowserSession(t)
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}
	b.run(chromedp.Navigate(issuer+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), oidcPassword),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("add-passkey")),
		chromedp.Click(chromedp.ID("add-passkey")))
	deadline := time.Now().Add(15 * time.Second)
	for {
		// The page reloads when the passkey is stored; read it when it can be read.
		status, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("passkey-status")))
		if err == nil && strings.Contains(status, "Passkey added") && strings.Contains(b.location(), "passkey=added") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the passkey was not added: %q %v", status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.run(chromedp.WaitVisible(chromedp.ID("sign-out")))
	b.shot("12-account-passkey-added")
	b.run(chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))

	// The passkey is now a second factor too: a password sign-in asks for it.
	b.run(chromedp.Navigate(issuer+"/login"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), oidcPassword),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("use-key")))
	b.shot("14-second-factor-security-key")
	b.run(chromedp.Click(chromedp.ID("use-key")), chromedp.WaitVisible(chromedp.ID("add-passkey")),
		chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))

	u, verifier := authorizeURL(issuer, app.URL, "state-3")
	b.run(chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("passkey")))
	b.shot("13-sign-in-with-passkey")
	b.run(chromedp.Click(chromedp.ID("passkey")), chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("arrived")))
	loc, _ := url.Parse(b.location())
	mustf(t, loc.Query().Get("state") == "state-3", "landed on %s", loc)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {app.URL + "/callback"},
		"client_id": {"photos"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := callReq(t, req)
	mustf(t, resp.StatusCode == 200, "exchange: %d %v", resp.StatusCode, body)
	claims := claimsOf(t, body["id_token"].(string))
	mustf(t, claims["acr"] == "aal2" && strings.Contains(fmt.Sprint(claims["amr"]), "hwk"), "a passkey sign-in: acr %v amr %v", claims["acr"], claims["amr"])
}
