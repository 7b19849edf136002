// Package httpapi is Gatehouse's HTTP adapter: the Echo server, its
// middleware (request ids, access log, panic recovery, body limit, client
// address, region header, metrics) and the handlers of the public API in
// the contract's JSON shapes. It turns requests into calls on the services
// it is given and their results into responses; it holds no business logic.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-id/gatehouse/app/metrics"
)

// BodyLimit is the largest request body accepted (contract §2).
const BodyLimit = 64 << 10

// Config is what the HTTP layer needs from the configuration.
type Config struct {
	// Region is the region this process serves; it goes into the
	// Gatehouse-Region header of every response.
	Region string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
}

// Pinger is a dependency that /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services the handlers call.
type Deps struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Ready lists the dependencies /readyz pings, by name.
	Ready map[string]Pinger
	// Routes registers the API's handlers; nil leaves only the
	// operational endpoints.
	Routes func(e *echo.Echo)
	// Tracer makes a span of every request (tracing.go); nil traces nothing.
	Tracer trace.Tracer
}

// Server is the HTTP server of one region.
type Server struct {
	cfg    Config
	deps   Deps
	echo   *echo.Echo
	logger *slog.Logger
}

// New builds the server and its routes.
func New(cfg Config, deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = metrics.New()
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	s := &Server{cfg: cfg, deps: deps, echo: e, logger: deps.Logger}
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.trace, s.observe, s.recoverPanic, s.limitBody, s.securityHeaders)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(deps.Metrics.Handler()))
	if deps.Routes != nil {
		deps.Routes(e)
	}
	return s
}

// Handler is the server as an http.Handler, for tests.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router so tests can add routes (a panicking one, say).
func (s *Server) Echo() *echo.Echo { return s.echo }

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish within shutdownTimeout, and
// returns nil on a clean stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.logger.Info("shutting down: finishing requests in flight", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every dependency answers within a second.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.deps.Ready))
	for name, p := range s.deps.Ready {
		go func() { results <- result{name, p.Ping(ctx)} }()
	}
	status := map[string]string{}
	ready := true
	for range s.deps.Ready {
		r := <-results
		if r.err != nil {
			ready = false
			status[r.name] = "unavailable"
			s.logger.WarnContext(ctx, "readiness check failed", "dependency", r.name, "error", r.err)
		} else {
			status[r.name] = "ok"
		}
	}
	if !ready {
		c.Response().Header().Set("Retry-After", "1")
		return c.JSON(http.StatusServiceUnavailable, map[string]any{
			"error": "not_ready", "error_description": "a dependency is unavailable", "checks": status,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": status})
}
