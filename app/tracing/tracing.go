// Package tracing holds Gatehouse's OpenTelemetry decorators that sit
// between the service and an adapter without either knowing: spans for
// Redis commands (a go-redis hook) and for password hashing (a Hasher
// decorator). The tracer provider is built in cmd from the OTEL_*
// variables; with none set, tracing is off and these cost one no-op call.
package tracing

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-id/gatehouse/app/password"
)

// Scope is the instrumentation scope of Gatehouse's own spans.
const Scope = "github.com/gatehouse-id/gatehouse"

// RedisHook traces Redis commands and pipelines (never their arguments,
// which can hold keys derived from emails and addresses).
type RedisHook struct{ Tracer trace.Tracer }

// DialHook passes dials through.
func (h RedisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook wraps one command in a span.
func (h RedisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, span := h.Tracer.Start(ctx, "redis "+cmd.Name(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system", "redis"), attribute.String("db.operation", cmd.Name())))
		defer span.End()
		err := next(ctx, cmd)
		record(span, err)
		return err
	}
}

// ProcessPipelineHook wraps a pipeline in one span.
func (h RedisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, span := h.Tracer.Start(ctx, "redis pipeline", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system", "redis"), attribute.Int("db.redis.commands", len(cmds))))
		defer span.End()
		err := next(ctx, cmds)
		record(span, err)
		return err
	}
}

func record(span trace.Span, err error) {
	if err != nil && err != redis.Nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "redis error")
	}
}

// PasswordHasher is what the auth service hashes with (app/password.Hasher).
type PasswordHasher interface {
	Hash(ctx context.Context, secret []byte) (string, error)
	Verify(ctx context.Context, secret []byte, encoded string) (password.Result, error)
	VerifyDummy(ctx context.Context, secret []byte) (password.Result, error)
}

// Hasher puts a span around every hash: queueing for the pool included, so
// a saturated pool shows as a long hash span.
type Hasher struct {
	Inner  PasswordHasher
	Tracer trace.Tracer
}

// Hash hashes a new password.
func (h Hasher) Hash(ctx context.Context, secret []byte) (string, error) {
	ctx, span := h.Tracer.Start(ctx, "password.hash")
	defer span.End()
	return h.Inner.Hash(ctx, secret)
}

// Verify checks a password.
func (h Hasher) Verify(ctx context.Context, secret []byte, encoded string) (password.Result, error) {
	ctx, span := h.Tracer.Start(ctx, "password.verify")
	defer span.End()
	return h.Inner.Verify(ctx, secret, encoded)
}

// VerifyDummy spends a hash for an unknown account; its span has the same
// name as Verify's, so a trace does not tell the two apart either.
func (h Hasher) VerifyDummy(ctx context.Context, secret []byte) (password.Result, error) {
	ctx, span := h.Tracer.Start(ctx, "password.verify")
	defer span.End()
	return h.Inner.VerifyDummy(ctx, secret)
}
