package breach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache stores range responses by prefix so that a popular prefix is
// fetched once per TTL rather than once per sign-up. Values hold only the
// public suffix list of a prefix, never anything derived from a user's
// password beyond the prefix in the key.
type Cache interface {
	// Get returns the value stored under key; ok is false on a miss.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// RedisCache is a Cache in Redis with every key under a prefix.
type RedisCache struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisCache returns a Cache in rdb whose keys are keyPrefix followed by
// the range prefix, e.g. "gatehouse:breach:" gives "gatehouse:breach:21BD1".
func NewRedisCache(rdb redis.UniversalClient, keyPrefix string) *RedisCache {
	return &RedisCache{rdb: rdb, prefix: keyPrefix}
}

// Get implements Cache.
func (c *RedisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("breach: cache get: %w", err)
	}
	return v, true, nil
}

// Set implements Cache.
func (c *RedisCache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := c.rdb.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("breach: cache set: %w", err)
	}
	return nil
}
