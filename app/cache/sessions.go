package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/token"
)

// Sessions keeps the region's revocation marks: one key per ended session,
// living as long as an access token of that session could. Each key stands
// alone, so the commands work unchanged on a Redis Cluster.
type Sessions struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewSessions returns the session cache; prefix namespaces its keys.
func NewSessions(rdb redis.UniversalClient, prefix string) *Sessions {
	if prefix == "" {
		prefix = "gh:"
	}
	return &Sessions{rdb: rdb, prefix: prefix}
}

func (s *Sessions) revokedKey(id uuid.UUID) string { return s.prefix + "rev:" + id.String() }

// RevokeSessions marks sessions revoked for ttl.
func (s *Sessions) RevokeSessions(ctx context.Context, ids []uuid.UUID, ttl time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, s.revokedKey(id), 1, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: revoke sessions: %w", err)
	}
	return nil
}

// SessionRevoked reports whether a session carries a revocation mark. It
// reads the mark and the primed flag in one round trip: a Redis that lost
// its data since its marks were last loaded completely (see Prime in
// revocations.go) answers ErrNotPrimed, never "not revoked".
func (s *Sessions) SessionRevoked(ctx context.Context, id uuid.UUID) (bool, error) {
	var mark, primed *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		mark = p.Exists(ctx, s.revokedKey(id))
		primed = p.Exists(ctx, s.primedKey())
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cache: session revoked: %w", err)
	}
	if mark.Val() == 1 {
		return true, nil
	}
	if primed.Val() != 1 {
		return false, ErrNotPrimed
	}
	return false, nil
}

// Revoked is the revocation check of the resource-server middleware
// (token.RevocationChecker): a token whose session carries a mark in this
// region's Redis is refused. A token without a valid session id is refused.
func (s *Sessions) Revoked(ctx context.Context, c *token.Claims) (bool, error) {
	id, err := uuid.Parse(c.SessionID)
	if err != nil {
		return true, nil
	}
	return s.SessionRevoked(ctx, id)
}
