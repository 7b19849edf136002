package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

const (
	headerRequestID = "X-Request-Id"
	headerRegion    = "Gatehouse-Region"
	ctxRequestID    = "gatehouse.request_id"
)

// requestID gives each request an id: the caller's X-Request-Id when it is
// short and printable, otherwise a fresh random one. It is echoed in the
// response and carried by every log line of the request.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !printableID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = base64.RawURLEncoding.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		c.Response().Header().Set(headerRegion, s.cfg.Region)
		return next(c)
	}
}

func printableID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// observe writes one access-log line per request and records its duration
// by route template (never the raw path, which could carry identifiers).
// It logs no query strings, headers or bodies.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		elapsed := time.Since(start)
		s.deps.Metrics.HTTPDuration.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Observe(elapsed.Seconds())
		s.logger.LogAttrs(c.Request().Context(), levelFor(status), "request",
			slogStr("request_id", requestIDOf(c)),
			slogStr("method", c.Request().Method),
			slogStr("route", route),
			slogInt("status", status),
			slogDur("duration", elapsed),
			slogStr("client_ip", c.RealIP()),
			slogInt("bytes_out", int(c.Response().Size)),
		)
		return nil
	}
}

// recoverPanic turns a panicking handler into a 500 in the contract's error
// format; the server goes on serving other requests.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.ErrorContext(c.Request().Context(), "handler panicked",
					"request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = errs.Internal(fmt.Errorf("panic: %v", r))
			}
		}()
		return next(c)
	}
}

// ImportBodyLimit is the body limit of the admin bulk import, which
// streams JSON lines (constant memory, whatever the size).
const ImportBodyLimit = 4 << 30

// limitBody refuses bodies over BodyLimit (ImportBodyLimit for the admin
// import): at once when Content-Length says so, and while reading otherwise.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := int64(BodyLimit)
		if req.URL.Path == "/admin/v1/users/import" {
			limit = ImportBodyLimit
		}
		if req.ContentLength > limit {
			return errs.E(errs.KindTooLarge, "request_too_large", "the request body is over the limit")
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// securityHeaders are sent with every response: nothing here may be cached
// or sniffed, and browsers must stick to HTTPS.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		return next(c)
	}
}

// clientIP returns the client address: the TCP peer, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is walked from the right,
// past trusted proxies, to the first address that is not one. A spoofed
// X-Forwarded-For from an untrusted peer is ignored entirely.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := peerAddr(r.RemoteAddr)
		if !peer.IsValid() {
			return r.RemoteAddr
		}
		if len(trusted) == 0 || !isTrusted(peer) {
			return peer.String()
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		client := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: stop at the last address we could trust
			}
			client = a.Unmap()
			if !isTrusted(client) {
				break
			}
		}
		return client.String()
	}
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
