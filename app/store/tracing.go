package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// queryTracer makes a span of every statement and batch pgx sends: its
// SQL text (never its arguments, which hold hashes and addresses).
type queryTracer struct{ tracer trace.Tracer }

type spanKey struct{}

func (q queryTracer) start(ctx context.Context, name, sql string) context.Context {
	op, _, _ := strings.Cut(strings.TrimSpace(sql), " ")
	ctx, span := q.tracer.Start(ctx, name+" "+strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", truncateSQL(sql))))
	return context.WithValue(ctx, spanKey{}, span)
}

func (q queryTracer) end(ctx context.Context, err error) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "database error")
	}
	span.End()
}

// TraceQueryStart implements pgx.QueryTracer.
func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return q.start(ctx, "db", d.SQL)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	q.end(ctx, d.Err)
}

// TraceBatchStart implements pgx.BatchTracer.
func (q queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	sql := "BATCH"
	if d.Batch != nil && len(d.Batch.QueuedQueries) > 0 {
		sql = d.Batch.QueuedQueries[len(d.Batch.QueuedQueries)-1].SQL
	}
	return q.start(ctx, "db batch", sql)
}

// TraceBatchQuery implements pgx.BatchTracer.
func (q queryTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (q queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	q.end(ctx, d.Err)
}

func truncateSQL(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
