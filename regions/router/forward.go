package router

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/regions"
)

// Forwarding results, the `result` label of
// gatehouse_forwarded_requests_total.
const (
	ResultOK       = "ok"       // the home region answered; its answer was copied back
	ResultFailover = "failover" // the home region did not answer: serve locally
	ResultError    = "error"    // forwarding was not possible for another reason
)

// Failover reasons, in FailoverError.Reason.
const (
	ReasonBreakerOpen = "breaker_open" // no attempt made: the region's breaker is open
	ReasonConnect     = "connect"      // no connection could be made
	ReasonTimeout     = "timeout"      // no complete answer within Timeout
	ReasonTransport   = "transport"    // the connection failed before a complete answer
)

// Defaults of ForwarderConfig.
const (
	DefaultTimeout          = 3 * time.Second
	DefaultConnectTimeout   = time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerCoolDown  = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
)

var (
	// ErrFailover is matched (errors.Is) by every FailoverError.
	ErrFailover = errors.New("router: home region unavailable, serve the request locally")
	// ErrUnknownRegion is returned for a target that is not in the topology.
	ErrUnknownRegion = errors.New("router: unknown region")
	// ErrSelf is returned for a target that is this region.
	ErrSelf = errors.New("router: the target is this region")
	// ErrAlreadyForwarded is returned for a request that came from another
	// region, or claims to: it is never forwarded again.
	ErrAlreadyForwarded = errors.New("router: request already forwarded once")
)

// FailoverError says the home region did not answer and the entry region
// must serve the request itself.
type FailoverError struct {
	Region string
	Reason string // one of the Reason constants
	// Sent is true when the whole request had been written before the
	// failure: the home region may have executed it (a timeout while it
	// was working, a connection lost before its answer arrived).
	Sent bool
	Err  error // the transport error; nil for ReasonBreakerOpen
}

// Error names the region and the reason.
func (e *FailoverError) Error() string {
	msg := "router: forward to " + e.Region + " failed over (" + e.Reason + ")"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap gives ErrFailover and the transport error.
func (e *FailoverError) Unwrap() []error { return []error{ErrFailover, e.Err} }

// Observer is told the result of each forwarding attempt to a region of the
// topology (never an unknown region, so labels stay bounded): the metric
// gatehouse_forwarded_requests_total{to_region, result}.
type Observer interface {
	Forwarded(toRegion, result string)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(toRegion, result string)

// Forwarded calls f.
func (f ObserverFunc) Forwarded(toRegion, result string) { f(toRegion, result) }

// ForwarderConfig configures a Forwarder. Zero values take the defaults.
type ForwarderConfig struct {
	Self     string            // this region (the entry region); required
	Topology *regions.Topology // required
	Keys     Keys              // required
	// Timeout bounds one forward: connect, request, the home region's work
	// and the whole response. Past it the caller serves locally.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP (and TLS) connection setup.
	ConnectTimeout time.Duration
	// BreakerFailures consecutive failures open a region's breaker.
	BreakerFailures int
	// BreakerCoolDown is how long an open breaker fails over without trying;
	// then one probe request goes through.
	BreakerCoolDown time.Duration
	// MaxResponseBytes bounds a home region's answer (buffered whole, so a
	// failure before its end can still fail over).
	MaxResponseBytes int64
	// Transport replaces the built-in one (for TLS to internal_url with a
	// private CA, say); ConnectTimeout then applies only through Timeout.
	Transport http.RoundTripper
	Observer  Observer         // nil: none
	Logger    *slog.Logger     // nil: slog.Default()
	Now       func() time.Time // nil: time.Now
}

type target struct {
	name    string
	base    string // internal_url without a trailing slash
	breaker *breaker
}

// Forwarder sends requests for users homed elsewhere to their home region,
// once, signed, and copies the answer back. It is safe for concurrent use.
type Forwarder struct {
	self     string
	keys     Keys
	timeout  time.Duration
	maxResp  int64
	client   *http.Client
	targets  map[string]*target
	observer Observer
	logger   *slog.Logger
	now      func() time.Time
}

// NewForwarder checks cfg and builds a Forwarder with a breaker per region.
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	if cfg.Topology == nil || cfg.Keys == nil {
		return nil, errors.New("router: forwarder needs a topology and keys")
	}
	if _, ok := cfg.Topology.Lookup(cfg.Self); !ok {
		return nil, fmt.Errorf("router: this region %q is not in the topology", cfg.Self)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCoolDown <= 0 {
		cfg.BreakerCoolDown = DefaultBreakerCoolDown
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Transport == nil {
		dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
		cfg.Transport = &http.Transport{
			Proxy:               nil, // never an environment proxy on the internal network
			DialContext:         dialer.DialContext,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: cfg.ConnectTimeout,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	f := &Forwarder{
		self:     cfg.Self,
		keys:     cfg.Keys,
		timeout:  cfg.Timeout,
		maxResp:  cfg.MaxResponseBytes,
		targets:  map[string]*target{},
		observer: cfg.Observer,
		logger:   cfg.Logger.With("component", "router"),
		now:      cfg.Now,
		client: &http.Client{
			Transport:     cfg.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for _, r := range cfg.Topology.Regions {
		if r.Name == cfg.Self {
			continue
		}
		f.targets[r.Name] = &target{
			name:    r.Name,
			base:    strings.TrimRight(r.InternalURL, "/"),
			breaker: newBreaker(cfg.BreakerFailures, cfg.BreakerCoolDown),
		}
	}
	return f, nil
}

// Forward sends r, whose body the caller has already read into body, to
// region to's internal_url, once, and on an answer copies it to w.
//
// clientAddr is the client's address as this region determined it
// (trusted proxies applied); the home region receives it authenticated.
//
// The caller's rule is simple: handled == true means the home region's
// answer (whatever its status, a 503 included) has been written to w and
// the caller must write nothing more; handled == false means nothing has
// been written and the caller serves the request itself. err then says
// why: a *FailoverError (errors.Is(err, ErrFailover)) when the region did
// not answer in time or its breaker is open, or ErrUnknownRegion, ErrSelf,
// ErrAlreadyForwarded or another error.
//
// Forward never forwards a request that carries HeaderForwarded or whose
// context holds a verified Forwarded (see WithForwarded).
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, to, clientAddr string, body []byte) (handled bool, err error) {
	t, ok := f.targets[to]
	if !ok {
		if to == f.self {
			return false, ErrSelf
		}
		return false, ErrUnknownRegion
	}
	if !Forwardable(r) {
		f.observe(to, ResultError)
		return false, ErrAlreadyForwarded
	}
	client, err := netip.ParseAddr(clientAddr)
	if err != nil {
		f.observe(to, ResultError)
		return false, fmt.Errorf("router: client address: %w", err)
	}
	allowed, probe := t.breaker.allow(f.now())
	if !allowed {
		f.observe(to, ResultFailover)
		return false, &FailoverError{Region: to, Reason: ReasonBreakerOpen}
	}
	handled, o, err := f.send(w, r, t, client.Unmap().WithZone(""), body)
	if changed := t.breaker.record(f.now(), o, probe); changed != "" {
		level := slog.LevelInfo
		if changed == BreakerOpen {
			level = slog.LevelWarn
		}
		f.logger.Log(r.Context(), level, "region breaker "+changed, "region", to)
	}
	return handled, err
}

// BreakerState reports a region's breaker: BreakerClosed, BreakerOpen or
// BreakerHalfOpen ("" for a region it does not forward to).
func (f *Forwarder) BreakerState(region string) string {
	t, ok := f.targets[region]
	if !ok {
		return ""
	}
	return t.breaker.current()
}

// Close drops idle connections to the other regions.
func (f *Forwarder) Close() { f.client.CloseIdleConnections() }

func (f *Forwarder) observe(to, result string) {
	if f.observer != nil {
		f.observer.Forwarded(to, result)
	}
}

// send does one forwarding attempt.
func (f *Forwarder) send(w http.ResponseWriter, r *http.Request, t *target, client netip.Addr, body []byte) (bool, outcome, error) {
	start := f.now()
	ctx, cancel := context.WithTimeout(r.Context(), f.timeout)
	defer cancel()
	var connected, sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				sent.Store(true)
			}
		},
	})
	out, err := f.outbound(ctx, r, t, client, body, w.Header().Get(headerRequestID))
	if err != nil {
		f.observe(t.name, ResultError)
		return false, outcomeNeutral, err
	}
	resp, err := f.client.Do(out)
	var respBody []byte
	if err == nil {
		respBody, err = io.ReadAll(io.LimitReader(resp.Body, f.maxResp+1))
		_ = resp.Body.Close()
	}
	if err != nil {
		if cerr := r.Context().Err(); cerr != nil {
			// The caller gave up (client gone, server deadline): this says
			// nothing about the home region.
			f.observe(t.name, ResultError)
			return false, outcomeNeutral, fmt.Errorf("router: forward to %s abandoned: %w", t.name, cerr)
		}
		fe := &FailoverError{Region: t.name, Reason: ReasonTransport, Sent: sent.Load(), Err: err}
		switch {
		case !connected.Load():
			fe.Reason = ReasonConnect
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			fe.Reason = ReasonTimeout
		}
		f.observe(t.name, ResultFailover)
		f.logger.WarnContext(r.Context(), "forward failed over", "region", t.name, "reason", fe.Reason,
			"sent", fe.Sent, "elapsed", f.now().Sub(start), "error", err.Error())
		return false, outcomeFailure, fe
	}
	if int64(len(respBody)) > f.maxResp {
		f.observe(t.name, ResultError)
		return false, outcomeSuccess, fmt.Errorf("router: answer from %s is over %d bytes", t.name, f.maxResp)
	}
	copyResponse(w, resp, respBody, t.name, f.self, r.Method)
	f.observe(t.name, ResultOK)
	f.logger.DebugContext(r.Context(), "forwarded", "region", t.name, "status", resp.StatusCode, "elapsed", f.now().Sub(start))
	return true, outcomeSuccess, nil
}

const headerRequestID = "X-Request-Id"

// outbound builds the signed request to the home region.
func (f *Forwarder) outbound(ctx context.Context, r *http.Request, t *target, client netip.Addr, body []byte, requestID string) (*http.Request, error) {
	u := t.base + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("router: build request to %s: %w", t.name, err)
	}
	drop := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if hopByHop[k] || drop[k] || dropOutbound[k] {
			continue
		}
		out.Header[k] = slices.Clone(vv)
	}
	if requestID != "" {
		out.Header.Set(headerRequestID, requestID) // one id across both regions' logs
	}
	key := f.keys.Current()
	var nonce [nonceBytes]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	env := envelope{
		KeyID:  key.ID,
		Entry:  f.self,
		To:     t.name,
		Client: client,
		TS:     f.now().Unix(),
		Nonce:  base64.RawURLEncoding.EncodeToString(nonce[:]),
	}
	env.Sig = env.mac(key.Secret, signedRequest{
		Method:        out.Method,
		Target:        out.URL.RequestURI(),
		ContentType:   out.Header.Get("Content-Type"),
		Authorization: out.Header.Get("Authorization"),
		Body:          body,
	})
	out.Header.Set(HeaderForwarded, env.format())
	return out, nil
}

// copyResponse writes the home region's answer: its status, headers and
// body, with Gatehouse-Region as it sent it and Gatehouse-Entry-Region set.
func copyResponse(w http.ResponseWriter, resp *http.Response, body []byte, home, self, method string) {
	h := w.Header()
	drop := connectionTokens(resp.Header)
	for k, vv := range resp.Header {
		if hopByHop[k] || drop[k] || k == "Content-Length" {
			continue
		}
		h[k] = slices.Clone(vv) // replaces what this region's middleware set
	}
	if resp.Header.Get(HeaderRegion) == "" {
		h.Set(HeaderRegion, home)
	}
	h.Set(HeaderEntryRegion, self)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if method != http.MethodHead {
		_, _ = w.Write(body) // a failure here is the client's; nothing to do
	}
}

// hopByHop are the headers that belong to one connection (RFC 9110 §7.6.1).
var hopByHop = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// dropOutbound are request headers never sent to the home region: client
// claims about addresses (the signed envelope carries the address), our
// own internal headers (a client must not smuggle them), and framing.
var dropOutbound = map[string]bool{
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "Forwarded": true,
	"X-Real-Ip": true, HeaderForwarded: true, HeaderEntryRegion: true, HeaderRegion: true,
	"Content-Length": true, "Host": true,
}

func connectionTokens(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if m == nil {
					m = map[string]bool{}
				}
				m[http.CanonicalHeaderKey(tok)] = true
			}
		}
	}
	return m
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
