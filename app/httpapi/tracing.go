package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceContext is W3C Trace Context (traceparent, tracestate).
var traceContext = propagation.TraceContext{}

// trace makes a server span of every request, continuing the caller's
// trace when it sent a traceparent. It then writes its own span's context
// into the request's headers, so that a request forwarded to the user's
// home region (which copies the headers) continues the same trace there.
func (s *Server) trace(next echo.HandlerFunc) echo.HandlerFunc {
	if s.deps.Tracer == nil {
		return next
	}
	return func(c echo.Context) error {
		req := c.Request()
		ctx := traceContext.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		ctx, span := s.deps.Tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route),
				attribute.String("gatehouse.region", s.cfg.Region)))
		defer span.End()
		traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		status := c.Response().Status
		if err != nil {
			if he, ok := err.(*echo.HTTPError); ok {
				status = he.Code
			}
		}
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return err
	}
}
