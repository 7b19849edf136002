package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/oidc"
)

// Forwarding is how the API reaches the other regions (regions/router, as
// adapted in cmd). A request for a user homed elsewhere is forwarded once
// to the home region; if that region does not answer, it is served here.
type Forwarding interface {
	// Inbound authenticates a request another region forwarded here. ok is
	// false and err nil for an ordinary external request (no forwarding
	// header); err is set when the header is present but refused (forged,
	// expired, replayed, for another region), wrapping
	// ErrForwardingUnavailable when it could not be checked.
	Inbound(r *http.Request, body []byte) (entryRegion, clientAddr string, ok bool, err error)
	// Forward sends the request to region and writes the region's answer.
	// handled is false when nothing was written; err then wraps
	// ErrHomeUnreachable when the region could not be reached and the
	// request must be served here (failover), and anything else means the
	// request is refused. ambiguous reports that the region got the
	// request and may be executing it still (it timed out after sending).
	Forward(w http.ResponseWriter, r *http.Request, region, clientAddr string, body []byte) (handled, ambiguous bool, err error)
	// PseudoHome is the region an email address without an account is
	// routed to (a keyed hash of the normalised address), so that it is
	// answered exactly like an address homed there.
	PseudoHome(normalisedEmail string) string
	// Regions is the number of regions in the topology.
	Regions() int
}

var (
	// ErrHomeUnreachable marks a forward that failed because the home
	// region did not answer: the entry region serves the request itself.
	ErrHomeUnreachable = errors.New("httpapi: home region unreachable")
	// ErrForwardingUnavailable marks a forwarding header that could not be
	// checked (the shared replay store is down): refused with 503.
	ErrForwardingUnavailable = errors.New("httpapi: forwarding cannot be verified now")
)

const (
	headerEntryRegion = "Gatehouse-Entry-Region"
	ctxClientAddr     = "gatehouse.client_addr"
	ctxInbound        = "gatehouse.inbound"
)

// homeResolver finds the home region a request belongs to ("" = here).
type homeResolver func(a *API, c echo.Context, body []byte) (string, error)

// routed wraps a user-scoped handler: it reads the body once, accepts a
// request forwarded by another region (serving it here, never forwarding it
// again), and forwards a request for a user homed elsewhere.
func (a *API) routed(resolve homeResolver, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return jsonError(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if a.Forwarding == nil {
			return next(c)
		}
		entry, client, ok, ierr := a.Forwarding.Inbound(req, body)
		if ierr != nil {
			return a.refuseForwarding(c, ierr)
		}
		if ok {
			c.Set(ctxInbound, true)
			c.Set(ctxClientAddr, client)
			c.Response().Header().Set(headerEntryRegion, entry)
			return next(c)
		}
		home, err := resolve(a, c, body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil || home == "" || home == a.Region {
			return next(c)
		}
		handled, ambiguous, ferr := a.Forwarding.Forward(c.Response(), req, home, c.RealIP(), body)
		if handled {
			return nil
		}
		if !errors.Is(ferr, ErrHomeUnreachable) {
			// Only an unreachable home region lets this region serve a
			// request that belongs there.
			a.Logger.ErrorContext(req.Context(), "request could not be forwarded: refused", "home_region", home, "error", ferr)
			return &errs.Error{Kind: errs.KindUnavailable, Code: "forwarding_failed",
				Message: "the request could not be sent to the account's home region", RetryAfter: 1e9, Err: ferr}
		}
		if ambiguous && req.URL.Path == "/oauth2/token" {
			// The home region may be rotating the token right now; serving
			// it here too would look like reuse and end the session.
			return &errs.Error{Kind: errs.KindUnavailable, Code: "home_region_unavailable",
				Message: "the account's home region did not answer; retry", RetryAfter: 1e9, Err: ferr}
		}
		a.Logger.WarnContext(req.Context(), "home region unreachable: serving here", "home_region", home, "error", ferr)
		// The account's budget lives in its home region's Redis: serving
		// here, this region's own counters apply with a stricter budget.
		c.SetRequest(req.WithContext(defense.WithFailoverBudget(req.Context(), a.Forwarding.Regions())))
		return next(c)
	}
}

// refuseForwarding answers a request whose forwarding header did not
// verify: it is never served, whatever its route.
func (a *API) refuseForwarding(c echo.Context, err error) error {
	req := c.Request()
	if errors.Is(err, ErrForwardingUnavailable) {
		a.Logger.ErrorContext(req.Context(), "forwarded request refused: replay store unavailable", "peer", c.RealIP(), "error", err)
		return &errs.Error{Kind: errs.KindUnavailable, Code: "forwarding_unavailable",
			Message: "forwarded requests cannot be verified now", RetryAfter: 1e9, Err: err}
	}
	a.Logger.WarnContext(req.Context(), "forwarding header refused", "peer", c.RealIP(), "path", req.URL.Path, "error", err)
	return &errs.Error{Kind: errs.KindUnauthenticated, Code: "invalid_forwarding",
		Message: "the forwarding header did not verify", Err: err}
}

// clientAddr is the client's address: the one the entry region vouched
// for on a forwarded request, else the request's own.
func clientAddr(c echo.Context) string {
	if a, ok := c.Get(ctxClientAddr).(string); ok && a != "" {
		return a
	}
	return c.RealIP()
}

// homeFromResidency picks a new user's home region from the residency
// rules: the country hint header, believed only from a trusted proxy (a
// CDN or load balancer sets it), mapped to a region.
func homeFromResidency(a *API, c echo.Context, _ []byte) (string, error) {
	if len(a.Residency) == 0 || a.TrustedPeer == nil || !a.TrustedPeer(c.Request()) {
		return "", nil
	}
	country := strings.ToUpper(strings.TrimSpace(c.Request().Header.Get(a.CountryHeader)))
	return a.Residency[country], nil
}

// TrustedPeer reports whether a request's TCP peer is one of the trusted
// proxies.
func TrustedPeer(trusted []netip.Prefix) func(*http.Request) bool {
	return func(r *http.Request) bool {
		peer := peerAddr(r.RemoteAddr)
		for _, p := range trusted {
			if peer.IsValid() && p.Contains(peer) {
				return true
			}
		}
		return false
	}
}

// homeFromEmail routes by the email in a JSON body (login, reset); see
// homeOfEmail.
func homeFromEmail(a *API, c echo.Context, body []byte) (string, error) {
	var v struct {
		Email string `json:"email"`
	}
	if json.Unmarshal(body, &v) != nil {
		v.Email = ""
	}
	return a.homeOfEmail(c, v.Email)
}

// homeOfEmail is the home region of an email address. An address without
// an account goes to its pseudo-home region, so its answer has the headers
// and the inter-region hops of an address homed there. Every answer of
// the endpoints routed this way carries Gatehouse-Entry-Region (set here
// for one served where it landed; a forwarded answer gets it from the
// router), so the set of headers never depends on where an address lives.
func (a *API) homeOfEmail(c echo.Context, email string) (string, error) {
	c.Response().Header().Set(headerEntryRegion, a.Region)
	if email == "" {
		return "", nil
	}
	region, ok, err := a.Auth.HomeRegionOf(c.Request().Context(), email)
	if err != nil || ok {
		return region, err
	}
	addr, nerr := auth.NormaliseEmail(email)
	if nerr != nil {
		addr = strings.ToLower(strings.TrimSpace(email))
	}
	return a.Forwarding.PseudoHome(addr), nil
}

// homeFromResetToken routes by the region prefix of a reset token.
func homeFromResetToken(_ *API, _ echo.Context, body []byte) (string, error) {
	var v struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", nil
	}
	region, _ := auth.ParseResetToken(v.Token)
	return region, nil
}

// homeFromFormToken routes an OAuth request by its token: the region
// prefix of a refresh token, the home_region claim of an access token.
func homeFromFormToken(_ *API, _ echo.Context, body []byte) (string, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", nil
	}
	if region, ok := oidc.CodeRegion(form.Get("code")); ok {
		return region, nil
	}
	tok := form.Get("refresh_token")
	if tok == "" {
		tok = form.Get("token")
	}
	if region, err := auth.ParseRefreshToken(tok); err == nil {
		return region, nil
	}
	return unverifiedHomeRegion(tok), nil
}

// homeFromBearer routes by the access token's home_region claim.
func homeFromBearer(_ *API, c echo.Context, _ []byte) (string, error) {
	tok, ok := bearerToken(c.Request())
	if !ok {
		return "", nil
	}
	return unverifiedHomeRegion(tok), nil
}

// unverifiedHomeRegion reads the home_region claim of a JWT without
// checking it. It only picks where to send the request: the home region
// verifies the token, and a forged claim can only name a known region.
func unverifiedHomeRegion(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 4096 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		HomeRegion string `json:"home_region"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return ""
	}
	return claims.HomeRegion
}
