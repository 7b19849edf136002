package auth

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// span starts a span for one step of a request (admission, limits, store,
// token) when the service has a tracer; end ends it.
func (s *Service) span(ctx context.Context, name string) (_ context.Context, end func()) {
	if s.deps.Tracer == nil {
		return ctx, func() {}
	}
	ctx, sp := s.deps.Tracer.Start(ctx, name)
	return ctx, func() { sp.End() }
}

// spanTracer is the tracer type Deps.Tracer takes.
type spanTracer = trace.Tracer
