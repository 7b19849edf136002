package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/tracing"
)

// tracingConfig is the part of OpenTelemetry's standard environment that
// Gatehouse reads itself; the exporter reads the rest (headers, timeout,
// compression, TLS) per the OTLP exporter specification.
type tracingConfig struct {
	Endpoint    string // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces
	ServiceName string // OTEL_SERVICE_NAME, default "gatehouse"
	Disabled    bool   // OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none
}

func parseTracingConfig(getenv env) tracingConfig {
	get := func(k string) string { v, _ := getenv(k); return strings.TrimSpace(v) }
	c := tracingConfig{ServiceName: get("OTEL_SERVICE_NAME")}
	if c.ServiceName == "" {
		c.ServiceName = "gatehouse"
	}
	if e := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); e != "" {
		c.Endpoint = e
	} else if e := get("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
		c.Endpoint = strings.TrimSuffix(e, "/") + "/v1/traces"
	}
	c.Disabled = strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") || get("OTEL_TRACES_EXPORTER") == "none"
	return c
}

// newTracer builds the tracer from the OTEL_* variables: OTLP over HTTP,
// batched. With no endpoint set (or the SDK disabled) tracing is off: the
// tracer is nil and nothing is traced. stop flushes what is buffered.
func newTracer(ctx context.Context, getenv env, region string, logger *slog.Logger) (trace.Tracer, func(), error) {
	c := parseTracingConfig(getenv)
	if c.Disabled || c.Endpoint == "" {
		return nil, func() {}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint))
	if err != nil {
		return nil, nil, &configError{key: "OTEL_EXPORTER_OTLP_ENDPOINT", msg: err.Error()}
	}
	res := resource.NewSchemaless(attribute.String("service.name", c.ServiceName), attribute.String("cloud.region", region))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res))
	logger.Info("tracing on", "endpoint", c.Endpoint, "service", c.ServiceName)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			logger.Warn("tracing: flush at shutdown failed", "error", fmt.Sprint(err))
		}
	}
	return tp.Tracer(tracing.Scope), stop, nil
}

// serviceExtras are the auth service's optional collaborators.
type serviceExtras struct {
	Events auth.EventRecorder
	Tracer trace.Tracer
}

// traced wraps the hasher in spans when tracing is on.
func traced(h tracing.PasswordHasher, tracer trace.Tracer) auth.Hasher {
	if tracer == nil {
		return h
	}
	return tracing.Hasher{Inner: h, Tracer: tracer}
}
