package web

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Regions routes the pages' user-scoped requests to the account's home
// region, exactly as the JSON API routes its own (*httpapi.API, wired in
// cmd): the account's guess budget, lockout and sessions live in its home
// region's Redis, so a sign-in form in every region must not multiply
// them.
type Regions interface {
	// RoutePage wraps a handler: a request another region forwarded is
	// served here; any other goes to the region home names ("" = here),
	// or is served here when that region does not answer. The request's
	// body is restored before next runs.
	RoutePage(home func(c echo.Context, body []byte) string, next echo.HandlerFunc) echo.HandlerFunc
	// HomeOfEmail is the home region of an email address's account, or
	// its pseudo-home when it has none.
	HomeOfEmail(c echo.Context, email string) string
	// HomeOfSignUp is where a sign-up with an email address runs.
	HomeOfSignUp(c echo.Context, email string) string
	// ClientAddr is the client's address, the one the entry region
	// vouched for on a forwarded request.
	ClientAddr(c echo.Context) string
	// Forwarded reports whether another region forwarded the request.
	Forwarded(c echo.Context) bool
}

// clientAddr is the address the pages give the account service.
func (p *Pages) clientAddr(c echo.Context) string {
	if p.Regions != nil {
		return p.Regions.ClientAddr(c)
	}
	return c.RealIP()
}

// forwarded reports whether another region forwarded the request here.
func (p *Pages) forwarded(c echo.Context) bool {
	return p.Regions != nil && p.Regions.Forwarded(c)
}

// homeOf finds the region a page request belongs to ("" = here).
type homeOf func(c echo.Context) string

// form routes a form post checked by csrf.
func (p *Pages) form(home homeOf, h echo.HandlerFunc) echo.HandlerFunc {
	return p.routed(home, p.csrfValid, p.csrf(h))
}

// fetch routes a page script's request checked by csrfHeader.
func (p *Pages) fetch(home homeOf, h echo.HandlerFunc) echo.HandlerFunc {
	return p.routed(home, p.csrfHeaderValid, p.csrfHeader(h))
}

// page routes a GET.
func (p *Pages) page(home homeOf, h echo.HandlerFunc) echo.HandlerFunc {
	return p.routed(home, nil, h)
}

// routed sends a request to its home region through p.Regions (set before
// Register; nil serves everything here). The entry region checks the CSRF
// token (and the form's Origin against its own address) before it
// forwards anything: a forged post is refused here by next's own check,
// with no directory lookup and no hop. The home region checks it again.
//
// The home is found from the fields the handler reads, through the same
// c.FormValue: not from the raw body alone, which would miss a field sent
// in the query string or in a multipart body and serve that request here.
func (p *Pages) routed(home homeOf, checked func(echo.Context) bool, next echo.HandlerFunc) echo.HandlerFunc {
	if p.Regions == nil {
		return next
	}
	h := p.Regions.RoutePage(func(c echo.Context, body []byte) string {
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		if checked != nil && !checked(c) {
			return ""
		}
		return home(c)
	}, next)
	return func(c echo.Context) error {
		err := h(c)
		if e := errs.As(err); e != nil && e.Kind == errs.KindUnavailable && !c.Response().Committed {
			// The home region refused the hop (not an unreachable one,
			// which is served here): a page, not the API's JSON.
			wait := strconv.Itoa(max(1, int((e.RetryAfter+time.Second-1)/time.Second)))
			c.Response().Header().Set("Retry-After", wait)
			return p.render(c, http.StatusServiceUnavailable, "error", "title_error",
				map[string]any{"Status": strconv.Itoa(http.StatusServiceUnavailable)}, "err_overloaded", wait)
		}
		return err
	}
}

// homeOfEmail routes a sign-in or a forgotten password by its address.
func (p *Pages) homeOfEmail(c echo.Context) string {
	return p.Regions.HomeOfEmail(c, c.FormValue("email"))
}

// homeOfSignUp routes a sign-up (see Regions.HomeOfSignUp).
func (p *Pages) homeOfSignUp(c echo.Context) string {
	return p.Regions.HomeOfSignUp(c, c.FormValue("email"))
}

// homeOfResetToken routes a password reset by its token's region.
func homeOfResetToken(c echo.Context) string {
	region, _ := auth.ParseResetToken(c.FormValue("token"))
	return region
}

// homeOfMFAToken routes a second factor by its pending login's region.
func homeOfMFAToken(c echo.Context) string {
	region, _ := auth.ParseMFAToken(c.FormValue("mfa_token"))
	return region
}

// homeOfVerifyToken routes an emailed code by its pending login's region.
func homeOfVerifyToken(c echo.Context) string {
	region, _ := auth.ParseVerifyToken(c.FormValue("verification_token"))
	return region
}

// homeOfSession routes by the browser session: its cookie is a refresh
// token that names its region. Without one the request is served here.
func (p *Pages) homeOfSession(c echo.Context) string {
	region, _ := auth.ParseRefreshToken(p.cookie(c, sessionCookie))
	return region
}
