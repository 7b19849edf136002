package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/revocation"
)

// ErrNotPrimed is SessionRevoked's answer for a session without a mark in
// a Redis whose marks have not been loaded completely since it last lost
// its data: its "not revoked" cannot be trusted, so the caller asks the
// database.
var ErrNotPrimed = errors.New("cache: revocation marks not loaded since Redis lost its data")

// The primed flag and the loading token share a hash tag, so that the
// script that checks one and sets the other runs on one Redis Cluster slot.
func (s *Sessions) primedKey() string  { return s.prefix + "{revstate}:primed" }
func (s *Sessions) loadingKey() string { return s.prefix + "{revstate}:loading" }

// primingTTL bounds one complete load of the marks.
const primingTTL = 5 * time.Minute

// Primed reports whether the marks were loaded completely since Redis
// last lost its data.
func (s *Sessions) Primed(ctx context.Context) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.primedKey()).Result()
	if err != nil {
		return false, fmt.Errorf("cache: primed: %w", err)
	}
	return n == 1, nil
}

// BeginPriming records that a complete load identified by token started.
func (s *Sessions) BeginPriming(ctx context.Context, token string) error {
	if err := s.rdb.Set(ctx, s.loadingKey(), token, primingTTL).Err(); err != nil {
		return fmt.Errorf("cache: begin priming: %w", err)
	}
	return nil
}

// finishPriming sets the primed flag only if the loading token is still
// the one this load wrote: a flush (or a restart) during the load removed
// it, and the load must run again.
var finishPriming = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], '1')
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`)

// FinishPriming sets the primed flag if Redis kept its data since
// BeginPriming(token); false means the load must run again.
func (s *Sessions) FinishPriming(ctx context.Context, token string) (bool, error) {
	n, err := finishPriming.Run(ctx, s.rdb, []string{s.loadingKey(), s.primedKey()}, token).Int()
	if err != nil {
		return false, fmt.Errorf("cache: finish priming: %w", err)
	}
	return n == 1, nil
}

// AddMissing marks each revocation until its ExpiresAt unless it is marked
// already (SET NX), in one pipeline, and reports which marks are new.
func (s *Sessions) AddMissing(ctx context.Context, revs []revocation.Revocation, now time.Time) ([]bool, error) {
	cmds := make([]*redis.BoolCmd, len(revs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range revs {
			ttl := r.ExpiresAt.Sub(now)
			if ttl < time.Second {
				ttl = time.Second
			}
			cmds[i] = p.SetNX(ctx, s.revokedKey(r.SessionID), 1, ttl)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: add revocation marks: %w", err)
	}
	fresh := make([]bool, len(revs))
	for i, c := range cmds {
		fresh[i] = c.Val()
	}
	return fresh, nil
}

func (s *Sessions) pollerKey() string { return s.prefix + "{revstate}:poller" }

// lead takes or renews the lease when it is free or already holder's.
var lead = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// Lead takes or renews, for ttl, the lease that makes holder the one
// process of the region that polls the revocation table; false when
// another process holds it.
func (s *Sessions) Lead(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	n, err := lead.Run(ctx, s.rdb, []string{s.pollerKey()}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cache: poller lease: %w", err)
	}
	return n == 1, nil
}
