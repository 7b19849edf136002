package auth

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// pendingRevocations holds session revocations the cache refused (Redis
// down): the database already has them, and they are pushed to the cache
// again until it takes them, so access tokens are refused there too once it
// is back. While the cache fails, introspection reads the database instead.
type pendingRevocations struct {
	mu  sync.Mutex
	ids map[uuid.UUID]time.Time // session id -> when the mark may lapse
}

func newPendingRevocations() *pendingRevocations {
	return &pendingRevocations{ids: map[uuid.UUID]time.Time{}}
}

// revokeInCache pushes revoked sessions to the cache; on failure it keeps
// them for retry. The database is written before this is called.
func (s *Service) revokeInCache(ctx context.Context, ids []uuid.UUID) {
	if len(ids) == 0 || s.deps.Cache == nil {
		return
	}
	ttl := s.cfg.AccessTTL + time.Minute
	if err := s.deps.Cache.RevokeSessions(ctx, ids, ttl); err != nil {
		s.log.WarnContext(ctx, "cache refused session revocations; will retry", "sessions", len(ids), "error", err)
		s.pending.mu.Lock()
		until := s.now().Add(ttl)
		for _, id := range ids {
			s.pending.ids[id] = until
		}
		s.pending.mu.Unlock()
	}
}

func (s *Service) retryRevocations(ctx context.Context) {
	s.pending.mu.Lock()
	now := s.now()
	var ids []uuid.UUID
	for id, until := range s.pending.ids {
		if now.After(until) {
			delete(s.pending.ids, id)
			continue
		}
		ids = append(ids, id)
	}
	s.pending.mu.Unlock()
	if len(ids) == 0 || s.deps.Cache == nil {
		return
	}
	if err := s.deps.Cache.RevokeSessions(ctx, ids, s.cfg.AccessTTL+time.Minute); err != nil {
		return
	}
	s.pending.mu.Lock()
	for _, id := range ids {
		delete(s.pending.ids, id)
	}
	s.pending.mu.Unlock()
	s.log.InfoContext(ctx, "cache took the pending session revocations", "sessions", len(ids))
}

// maxSyncedRevocations bounds one re-publication of revocation marks.
const maxSyncedRevocations = 100_000

// syncRevocations re-publishes the revocation marks of the region's
// sessions revoked within an access token's lifetime, from the database.
// It covers a cache that restarted empty, and revocations that another
// region made while it served this region's users during a failover:
// Redis is never the only record of a revocation.
func (s *Service) syncRevocations(ctx context.Context) {
	if s.deps.Cache == nil {
		return
	}
	ttl := s.cfg.AccessTTL + time.Minute
	ids, err := s.deps.Store.RecentlyRevokedSessions(ctx, s.cfg.Region, s.now().Add(-ttl), maxSyncedRevocations)
	if err != nil || len(ids) == 0 {
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "revocation sync: database read failed", "error", err)
		}
		return
	}
	publish := s.deps.Cache.RevokeSessions
	if local, ok := s.deps.Cache.(localRepublisher); ok {
		publish = local.RepublishLocal
	}
	if err := publish(ctx, ids, ttl); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "revocation sync: cache refused the marks", "sessions", len(ids), "error", err)
	}
}

// localRepublisher is a session cache that also spreads revocations to
// other regions (app/revocation): the periodic re-publication above then
// writes only this region's marks, since the other regions learn each
// revocation once, from the global table.
type localRepublisher interface {
	RepublishLocal(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error
}
