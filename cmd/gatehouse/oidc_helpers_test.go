package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// webBrowser is a person's browser as far as the hosted pages can tell: a
// cookie jar, and forms filled in from the pages' HTML. It follows
// redirects itself and stops at the relying party's callback.
type webBrowser struct {
	t        *testing.T
	client   *http.Client
	callback string // redirects to URLs with this prefix are not followed
	lang     string
	xff      string // X-Forwarded-For (the server trusts 127.0.0.1 in some tests)
	origin   string // Origin of form posts; default the page's own
}

func newWebBrowser(t *testing.T, callback string) *webBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webBrowser{t: t, callback: callback, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// webPage is what the browser ended on.
type webPage struct {
	URL      string
	Status   int
	Header   http.Header
	Body     string
	Location string // set when it stopped at a redirect (the callback)
}

// fields reads a page's form inputs (name → value), hidden or not.
func (p *webPage) fields(formAction string) url.Values {
	body := p.Body
	if formAction != "" {
		i := strings.Index(body, `action="`+formAction+`"`)
		if i < 0 {
			return nil
		}
		body = body[i:]
		if j := strings.Index(body, "</form>"); j >= 0 {
			body = body[:j]
		}
	}
	out := url.Values{}
	for _, m := range inputPattern.FindAllStringSubmatch(body, -1) {
		tag := m[0]
		name := attr(tag, "name")
		if name != "" {
			out.Set(name, html.UnescapeString(attr(tag, "value")))
		}
	}
	return out
}

var inputPattern = regexp.MustCompile(`<input[^>]*>`)

func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b *webBrowser) do(req *http.Request) *webPage {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	for hops := 0; hops < 10; hops++ {
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				b.t.Fatalf("bad Location %q", loc)
			}
			if strings.HasPrefix(next.String(), b.callback) || next.Host != req.URL.Host {
				return &webPage{URL: req.URL.String(), Status: resp.StatusCode, Header: resp.Header, Body: string(raw), Location: next.String()}
			}
			req, _ = http.NewRequest("GET", next.String(), nil)
			if b.lang != "" {
				req.Header.Set("Accept-Language", b.lang)
			}
			if b.xff != "" {
				req.Header.Set("X-Forwarded-For", b.xff)
			}
			continue
		}
		return &webPage{URL: req.URL.String(), Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
	}
	b.t.Fatal("too many redirects")
	return nil
}

func (b *webBrowser) get(u string) *webPage {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit posts a form of page p (found by its action) with some fields
// changed, as a browser would, Origin included.
func (b *webBrowser) submit(p *webPage, action string, set ...string) *webPage {
	b.t.Helper()
	return b.do(b.formPost(p, action, set...))
}

// formPost is the request submit sends.
func (b *webBrowser) formPost(p *webPage, action string, set ...string) *http.Request {
	b.t.Helper()
	f := p.fields(action)
	if f == nil {
		b.t.Fatalf("no form %s on %s (status %d):\n%s", action, p.URL, p.Status, p.Body)
	}
	for i := 0; i+1 < len(set); i += 2 {
		f.Set(set[i], set[i+1])
	}
	u, _ := url.Parse(p.URL)
	target, _ := u.Parse(action)
	req, _ := http.NewRequest("POST", target.String(), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	return req
}

// isPage reports whether p is the page with the given form action.
func (p *webPage) has(action string) bool { return strings.Contains(p.Body, `action="`+action+`"`) }

// callbackParams parses the query the browser was sent back with.
func (p *webPage) callbackParams(t *testing.T) url.Values {
	t.Helper()
	if p.Location == "" {
		t.Fatalf("expected a redirect to the client, got %d at %s:\n%s", p.Status, p.URL, p.Body)
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// createClient registers a client through the admin API.
func createClient(t *testing.T, base string, spec map[string]any) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(spec)
	resp, body := call(t, "POST", base+"/admin/v1/clients", strings.NewReader(string(raw)), "Authorization", "Bearer test-admin-token-0123456789abcdef")
	if resp.StatusCode != 201 {
		t.Fatalf("create client: %d %v", resp.StatusCode, body)
	}
	return body
}

func mustf(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}

var _ = fmt.Sprintf

// httpsJar keeps cookies as if every URL were https, so that the Secure,
// __Host- cookies of an https issuer work against a test server on http.
type httpsJar struct{ http.CookieJar }

func asHTTPS(u *url.URL) *url.URL { c := *u; c.Scheme = "https"; return &c }

func (j httpsJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.CookieJar.SetCookies(asHTTPS(u), cs) }
func (j httpsJar) Cookies(u *url.URL) []*http.Cookie        { return j.CookieJar.Cookies(asHTTPS(u)) }

// secureCookies makes the browser treat the test server as https.
func (b *webBrowser) secureCookies() *webBrowser {
	b.client.Jar = httpsJar{b.client.Jar}
	return b
}
