package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Nonces remembers the nonces of forwarded requests for every instance of
// a region: SET NX with the header's remaining validity as TTL, so a
// captured forwarded request is accepted once by the whole region, not
// once per process.
type Nonces struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewNonces returns the shared nonce store; prefix namespaces its keys.
func NewNonces(rdb redis.UniversalClient, prefix string) *Nonces {
	if prefix == "" {
		prefix = "gh:"
	}
	return &Nonces{rdb: rdb, prefix: prefix}
}

// FirstUse records key for ttl and reports whether it was new. An error
// means Redis did not answer: the caller refuses the request.
func (n *Nonces) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := n.rdb.SetNX(ctx, n.prefix+"fwd:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("cache: forwarding nonce: %w", err)
	}
	return ok, nil
}
