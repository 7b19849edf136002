package breach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of RangeConfig.
const (
	// DefaultBaseURL is Have I Been Pwned's Pwned Passwords API.
	DefaultBaseURL = "https://api.pwnedpasswords.com"
	// DefaultCacheTTL is how long a prefix's range is cached.
	DefaultCacheTTL = 24 * time.Hour
	// DefaultTimeout bounds one cache read plus one fetch.
	DefaultTimeout = 3 * time.Second
	// DefaultCooldown is how long after a failed fetch Range answers
	// "unavailable" at once instead of trying the endpoint again, so that
	// an endpoint that is down does not add Timeout to every sign-up.
	DefaultCooldown = 5 * time.Second
	// DefaultUserAgent is sent with every request, as HIBP asks.
	DefaultUserAgent = "gatehouse-breach-check"
)

// RangeConfig configures a Range. Only the zero-valued fields get defaults.
type RangeConfig struct {
	// BaseURL is the API root; requests go to BaseURL + "/range/" + prefix.
	// Empty means DefaultBaseURL.
	BaseURL string
	// Client makes the requests; nil means a plain client. Range uses a
	// copy that never follows redirects, so the prefix goes only to
	// BaseURL's host.
	Client *http.Client
	// Cache, when set, holds ranges for CacheTTL. Cache failures are
	// logged and otherwise ignored.
	Cache Cache
	// CacheTTL is how long a cached range lives; <= 0 means
	// DefaultCacheTTL.
	CacheTTL time.Duration
	// Timeout bounds one load of a range (cache read, fetch, cache
	// write); <= 0 means DefaultTimeout.
	Timeout time.Duration
	// Cooldown is how long to fail fast after a failed fetch; 0 means
	// DefaultCooldown, < 0 disables it.
	Cooldown time.Duration
	// UserAgent is the User-Agent header; empty means DefaultUserAgent.
	UserAgent string
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Range is a Checker that asks the Pwned Passwords range API with
// k-anonymity: it sends the first five hex characters of the password's
// SHA-1 with Add-Padding, and looks for the other 35 in the answer. It is
// safe for concurrent use; concurrent lookups of one prefix share a fetch.
type Range struct {
	endpoint  string // BaseURL + "/range/"
	client    *http.Client
	cache     Cache
	ttl       time.Duration
	timeout   time.Duration
	cooldown  time.Duration
	userAgent string
	log       *slog.Logger
	now       func() time.Time
	flight    flight

	mu        sync.Mutex
	downUntil time.Time
}

// NewRange returns a Range for cfg. It fails if BaseURL is not an absolute
// http or https URL without query or fragment.
func NewRange(cfg RangeConfig) (*Range, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("breach: base url: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("breach: base url %q must be http(s)://host[/path]", base)
	}
	client := &http.Client{}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	r := &Range{
		endpoint:  strings.TrimRight(u.String(), "/") + "/range/",
		client:    client,
		cache:     cfg.Cache,
		ttl:       cfg.CacheTTL,
		timeout:   cfg.Timeout,
		cooldown:  cfg.Cooldown,
		userAgent: cfg.UserAgent,
		log:       cfg.Logger,
		now:       cfg.Now,
	}
	if r.ttl <= 0 {
		r.ttl = DefaultCacheTTL
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.cooldown == 0 {
		r.cooldown = DefaultCooldown
	}
	if r.userAgent == "" {
		r.userAgent = DefaultUserAgent
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Breached implements Checker. Errors are *errs.Error of KindUnavailable
// with code CodeUnavailable; they never mention the password, its hash or
// its prefix.
func (r *Range) Breached(ctx context.Context, password string) (int, error) {
	prefix, suffix := split(password)
	set, err := r.flight.do(ctx, prefix, func(ctx context.Context) (rangeSet, error) {
		return r.load(ctx, prefix)
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return set.count(suffix), nil
}

// load returns prefix's range from the cache or the endpoint.
func (r *Range) load(ctx context.Context, prefix string) (rangeSet, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	if r.cache != nil {
		v, ok, err := r.cache.Get(ctx, prefix)
		switch {
		case err != nil:
			r.log.WarnContext(ctx, "breach: range cache unavailable", "err", err)
		case ok:
			set, perr := parseRange(v)
			if perr == nil {
				return set, nil
			}
			r.log.WarnContext(ctx, "breach: ignoring corrupt cached range", "err", perr)
		}
	}

	if until := r.failingUntil(); r.now().Before(until) {
		return nil, fmt.Errorf("breach: range endpoint failed recently; retrying after %s", until.Format(time.RFC3339))
	}
	start := r.now()
	set, err := r.fetch(ctx, prefix)
	if err != nil {
		r.markDown()
		r.log.WarnContext(ctx, "breach: range fetch failed", "err", err, "elapsed", r.now().Sub(start))
		return nil, err
	}
	if r.cache != nil {
		if err := r.cache.Set(ctx, prefix, set.encode(), r.ttl); err != nil {
			r.log.WarnContext(ctx, "breach: range cache write failed", "err", err)
		}
	}
	return set, nil
}

// fetch asks the endpoint for prefix's range.
func (r *Range) fetch(ctx context.Context, prefix string) (rangeSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.endpoint+prefix, nil)
	if err != nil {
		return nil, fmt.Errorf("breach: range request: %w", err)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", r.userAgent)
	req.Header.Set("Accept", "text/plain")
	resp, err := r.client.Do(req)
	if err != nil {
		// *url.Error's text holds the URL and so the prefix; keep only
		// the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("breach: range request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("breach: range endpoint answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRangeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("breach: reading range: %w", err)
	}
	return parseRange(body)
}

// failingUntil returns the end of the current cooldown.
func (r *Range) failingUntil() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downUntil
}

// markDown starts a cooldown.
func (r *Range) markDown() {
	if r.cooldown < 0 {
		return
	}
	r.mu.Lock()
	r.downUntil = r.now().Add(r.cooldown)
	r.mu.Unlock()
}
