package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pageNames are the pages; each is parsed with layout.html.
var pageNames = []string{"login", "mfa", "verify", "signup", "forgot", "reset", "consent", "signed_out", "error", "account", "notice", "logout_confirm"}

var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range pageNames {
		out[n] = template.Must(template.New("layout.html").ParseFS(templateFiles, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}()

// view is what every template gets.
type view struct {
	Lang  string
	Nonce string
	CSRF  string
	Title string
	// Error is the message key of a problem to announce (role=alert).
	Error string
	// ErrorArg fills a %s in the error message (seconds to wait).
	ErrorArg string
	D        map[string]any
	msgs     map[string]string
}

// T translates a message key.
func (v view) T(key string) string {
	if s, ok := v.msgs[key]; ok {
		return s
	}
	return messages["en"][key]
}

// PowScript is the proof-of-work solver the sign-in page inlines.
func (v view) PowScript() template.JS { return template.JS(defense.Script) } //nolint:gosec // our own embedded file

// ErrorText is the error message with its argument.
func (v view) ErrorText() string {
	return format(v.T(v.Error), v.ErrorArg)
}

// render writes a page with status.
func (p *Pages) render(c echo.Context, status int, name, title string, data map[string]any, errKey, errArg string) error {
	lang := pickLanguage(c.Request().Header.Get("Accept-Language"))
	nonce, _ := c.Get(ctxNonce).(string)
	v := view{Lang: lang, Nonce: nonce, CSRF: p.csrfToken(c), Title: title, Error: errKey, ErrorArg: errArg, D: data, msgs: messages[lang]}
	var buf bytes.Buffer
	if err := pages[name].Execute(&buf, v); err != nil {
		p.Logger.ErrorContext(c.Request().Context(), "page did not render", "page", name, "error", err)
		return c.String(http.StatusInternalServerError, "internal error")
	}
	c.Response().Header().Set("Content-Language", lang)
	c.Response().Header().Add("Vary", "Accept-Language")
	return c.HTMLBlob(status, buf.Bytes())
}

// errorPage shows the error page; it never redirects.
func (p *Pages) errorPage(c echo.Context, status int, key, detail string) error {
	return p.render(c, status, "error", "title_error", map[string]any{"Detail": detail, "Status": strconv.Itoa(status)}, key, "")
}
