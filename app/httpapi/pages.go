package httpapi

import (
	"github.com/labstack/echo/v4"
)

// The hosted pages (app/web) are another adapter of the same service:
// their user-scoped requests follow the API's region routing, so that an
// account's guess budget, lockout and sessions live in its home region
// whichever region's pages the browser reached. cmd wires these methods
// into the pages; every one of them serves here when a.Forwarding is nil
// (a single region).

// RoutePage wraps a page handler like the API's user-scoped routes (see
// routed): a request forwarded by another region is served here with the
// client address that region vouched for; any other request goes to the
// region home names ("" or this region: served here), and is served here
// with the failover budget when that region does not answer. home gets the
// raw body; the request's body is restored before next runs.
func (a *API) RoutePage(home func(c echo.Context, body []byte) string, next echo.HandlerFunc) echo.HandlerFunc {
	return a.routed(func(_ *API, c echo.Context, body []byte) (string, error) {
		return home(c, body), nil
	}, next)
}

// HomeOfEmail is the region a request about an email address (sign-in,
// forgotten password) runs in: the home of its account, or the address's
// pseudo-home when it has none, as for POST /v1/login. "" means here (a
// single region, or the directory could not be read).
func (a *API) HomeOfEmail(c echo.Context, email string) string {
	if a.Forwarding == nil {
		return ""
	}
	region, err := a.homeOfEmail(c, email)
	if err != nil {
		a.Logger.WarnContext(c.Request().Context(), "home region lookup failed: serving here", "error", err)
		return ""
	}
	return region
}

// HomeOfSignUp is the region a page sign-up runs in. The page signs in
// right after the sign-up, and when the address already has an account
// (the enumeration guard answers the sign-up as if it had worked) that
// sign-in checks the account's password: it must run in the account's
// home region, or a sign-up form in every region would multiply the
// guesses. A new address follows the residency rules (POST /v1/users).
func (a *API) HomeOfSignUp(c echo.Context, email string) string {
	if a.Forwarding == nil {
		return ""
	}
	c.Response().Header().Set(headerEntryRegion, a.Region)
	if email != "" {
		region, ok, err := a.Auth.HomeRegionOf(c.Request().Context(), email)
		if err == nil && ok {
			return region
		}
	}
	region, _ := homeFromResidency(a, c, nil)
	return region
}

// ClientAddr is the client's address: the one the entry region vouched
// for on a forwarded request, else the request's own (trusted proxies
// applied).
func (a *API) ClientAddr(c echo.Context) string { return clientAddr(c) }

// Forwarded reports whether another region forwarded this request here
// (its forwarding header verified by RoutePage).
func (a *API) Forwarded(c echo.Context) bool {
	v, _ := c.Get(ctxInbound).(bool)
	return v
}
