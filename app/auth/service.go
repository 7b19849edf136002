package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// FirstPartyClient is the built-in public client that /v1/login tokens
// belong to; its refresh requests may omit client_id.
const FirstPartyClient = "first-party"

// Hasher hashes and checks passwords (app/password.Hasher).
type Hasher interface {
	Hash(ctx context.Context, secret []byte) (string, error)
	Verify(ctx context.Context, secret []byte, encoded string) (password.Result, error)
	VerifyDummy(ctx context.Context, secret []byte) (password.Result, error)
}

// PasswordPolicy decides whether a new password is acceptable and returns
// it normalised (app/password.Policy).
type PasswordPolicy interface {
	Check(pw string) (string, error)
}

// Pool runs CPU- and memory-heavy work (legacy hash checks) with bounded
// concurrency (app/password.Pool).
type Pool interface {
	Do(ctx context.Context, fn func()) error
	// Busy reports that an ordinary (not trusted-device) hash would be
	// refused now.
	Busy() bool
}

// TokenIssuer signs access tokens (app/token.Issuer).
type TokenIssuer interface {
	Issue(c token.Claims) (string, error)
}

// TokenVerifier checks access tokens (app/token.Verifier).
type TokenVerifier interface {
	Verify(ctx context.Context, tok string) (*token.Claims, error)
}

// SessionCache is the region-local hot state of sessions (app/cache).
// It is never the source of truth: a failing cache is worked around.
type SessionCache interface {
	// RevokeSessions marks sessions revoked for ttl (the longest an access
	// token of theirs can live).
	RevokeSessions(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error
	// SessionRevoked reports whether a session is marked revoked.
	SessionRevoked(ctx context.Context, id uuid.UUID) (bool, error)
}

// Observer counts what the service does (app/metrics).
type Observer interface {
	LoginResult(result string)
	RefreshResult(result string)
	SecurityEvent(kind string)
}

// Config holds the service's settings.
type Config struct {
	// Region is the region this process serves; new users are homed here.
	Region string
	// Audience is the aud of first-party access tokens.
	Audience     string
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	RefreshGrace time.Duration
	// ResetTTL is how long a password-reset token lives.
	ResetTTL time.Duration
	// EnumerationGuard hides whether an email is registered at sign-up.
	EnumerationGuard bool
	// RevocationSync is how often the revocation marks of the region's
	// recently revoked sessions are re-published to the cache from the
	// database (default 10 s).
	RevocationSync time.Duration
	// MaxOpenLogins bounds the logins in flight that carry no authentic
	// device token; MaxDeviceLogins those that do. A login beyond its
	// lane's bound is answered 503 overloaded at once. 0: unbounded.
	MaxOpenLogins, MaxDeviceLogins int
	// DeviceTTL is how long a trusted device stays trusted without being
	// used (default 90 days).
	DeviceTTL time.Duration
	// BreachOnLogin is BreachFlag (default) or BreachForceReset
	// (breachlogin.go).
	BreachOnLogin string
}

// Deps are the adapters the service calls.
type Deps struct {
	Store  Store
	Hasher Hasher
	Pool   Pool
	Policy PasswordPolicy
	// Breach is the breached-password corpus; nil turns the check off.
	Breach   BreachCheck
	Issuer   TokenIssuer
	Verifier TokenVerifier
	Cache    SessionCache
	// Guard is the login defense; nil turns it off (unit tests).
	Guard Guard
	// MFA is nil when second factors are not configured.
	MFA      *SecondFactors
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
	Random   io.Reader
	// DeviceKeys authenticate device tokens; nil mints them without a MAC
	// and sorts every login into the open lane.
	DeviceKeys DeviceKeys
	// Events appends events that change nothing (failed logins) off the
	// request path; nil records none.
	Events EventRecorder
	// Tracer makes spans of a login's steps; nil traces nothing.
	Tracer spanTracer
}

// Service is the account and session service of one region.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	rand io.Reader
	// revocations that could not be written to the cache are retried.
	pending *pendingRevocations
	// background work (reset mails) runs detached from the request.
	background chan func(context.Context)
	// openLogins and deviceLogins are the admission lanes (admission.go).
	openLogins, deviceLogins lane
	// refusals bound the audit events of logins refused before any check,
	// by metrics result (refusals.go).
	refusals map[string]*refusalSampler
}

// New builds the service.
func New(cfg Config, deps Deps) *Service {
	if cfg.ResetTTL == 0 {
		cfg.ResetTTL = 30 * time.Minute
	}
	if cfg.DeviceTTL <= 0 {
		cfg.DeviceTTL = 90 * 24 * time.Hour
	}
	if cfg.RevocationSync <= 0 {
		cfg.RevocationSync = 10 * time.Second
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now, rand: deps.Random,
		pending: newPendingRevocations(), background: make(chan func(context.Context), 1024),
		openLogins: newLane(cfg.MaxOpenLogins), deviceLogins: newLane(cfg.MaxDeviceLogins),
		refusals: map[string]*refusalSampler{
			"rate_limited": {perSecond: refusalEventsPerSecond},
			"overloaded":   {perSecond: refusalEventsPerSecond},
		}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.deps.Observer == nil {
		s.deps.Observer = nopObserver{}
	}
	return s
}

// Run does the service's background work until ctx ends: it retries cache
// revocations that failed and runs detached tasks (password-reset mails,
// which run off the request path so their timing reveals nothing).
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sync := time.NewTicker(s.cfg.RevocationSync)
	defer sync.Stop()
	s.syncRevocations(ctx)
	// More than one worker for detached tasks, so a burst of reset mails
	// (each a directory read and a transaction) does not queue them all
	// behind one another until the queue drops real ones.
	for range backgroundWorkers - 1 {
		go s.work(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			s.drain()
			return
		case fn := <-s.background:
			fn(ctx)
		case <-tick.C:
			s.retryRevocations(ctx)
		case <-sync.C:
			s.syncRevocations(ctx)
		}
	}
}

// backgroundWorkers run the detached tasks (Run's loop is one of them).
const backgroundWorkers = 4

// work runs detached tasks until ctx ends.
func (s *Service) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-s.background:
			fn(ctx)
		}
	}
}

// drain finishes queued tasks at shutdown, with a deadline.
func (s *Service) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case fn := <-s.background:
			fn(ctx)
		default:
			s.retryRevocations(ctx)
			return
		}
	}
}

type nopObserver struct{}

func (nopObserver) LoginResult(string)   {}
func (nopObserver) RefreshResult(string) {}
func (nopObserver) SecurityEvent(string) {}

// randomBytes reads n bytes of the service's CSPRNG.
func (s *Service) randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic("auth: the system's random source failed: " + err.Error())
	}
	return b
}

func (s *Service) newID() uuid.UUID {
	id, err := uuid.NewRandomFromReader(s.rand)
	if err != nil {
		panic("auth: the system's random source failed: " + err.Error())
	}
	return id
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
