package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// statusOf is the one table that maps error kinds to HTTP status codes.
var statusOf = map[errs.Kind]int{
	errs.KindInternal:        http.StatusInternalServerError,
	errs.KindInvalid:         http.StatusBadRequest,
	errs.KindUnauthenticated: http.StatusUnauthorized,
	errs.KindForbidden:       http.StatusForbidden,
	errs.KindNotFound:        http.StatusNotFound,
	errs.KindConflict:        http.StatusConflict,
	errs.KindTooLarge:        http.StatusRequestEntityTooLarge,
	errs.KindRateLimited:     http.StatusTooManyRequests,
	errs.KindLocked:          http.StatusLocked,
	errs.KindUnavailable:     http.StatusServiceUnavailable,
}

// echoCodes names the errors Echo itself raises (routing, binding).
var echoCodes = map[int]string{
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusBadRequest:            "invalid_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
}

// errorBody is the contract's error format.
type errorBody map[string]any

// handleError writes every error in the contract's format:
// {"error": "<code>", "error_description": "<text>"} plus any details, with
// the status from statusOf and Retry-After where it applies. Internal errors
// are logged with their cause; the client sees only "internal_error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body, retryAfter := s.describe(err, c)
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.logger.ErrorContext(c.Request().Context(), "request failed", "request_id", requestIDOf(c), "error", err)
	} else if status == http.StatusServiceUnavailable {
		s.logger.WarnContext(c.Request().Context(), "request refused: unavailable", "request_id", requestIDOf(c), "error", err)
	}
	h := c.Response().Header()
	if retryAfter > 0 || status == http.StatusTooManyRequests || status == http.StatusLocked || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(max(1, retryAfter)))
	}
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" && c.Request().Header.Get("Authorization") != "" {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

func (s *Server) describe(err error, c echo.Context) (status int, body errorBody, retryAfter int) {
	if e := errs.As(err); e != nil {
		status = statusOf[e.Kind]
		body = errorBody{"error": e.Code, "error_description": e.Message}
		if e.Kind == errs.KindInternal {
			body = errorBody{"error": "internal_error", "error_description": "internal error"}
		}
		for k, v := range e.Details {
			if k != "error" && k != "error_description" {
				body[k] = v
			}
		}
		if e.RetryAfter > 0 {
			retryAfter = int(math.Ceil(e.RetryAfter.Seconds()))
		}
		return status, body, retryAfter
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := echoCodes[he.Code]
		if !ok {
			code = "http_" + strconv.Itoa(he.Code)
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			msg = m
		}
		return he.Code, errorBody{"error": code, "error_description": msg}, 0
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, errorBody{"error": "request_too_large", "error_description": "the request body is over 64 KiB"}, 0
	}
	return http.StatusInternalServerError, errorBody{"error": "internal_error", "error_description": "internal error"}, 0
}
