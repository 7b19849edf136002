// Package cache is Gatehouse's adapter to its region-local Redis: the client
// built from GATEHOUSE_REDIS_URL (one address is a single node, several
// comma-separated host:port are a Redis Cluster), and the hot session state
// kept there. Redis is never the source of truth: when it is down Gatehouse
// is slower, not wrong.
package cache

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ParseURL turns GATEHOUSE_REDIS_URL into client options. "redis://…" or
// "rediss://…" is one node; "host:port,host:port,…" is a cluster.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("cache: empty redis url")
	}
	if strings.Contains(raw, ",") {
		var addrs []string
		for _, a := range strings.Split(raw, ",") {
			a = strings.TrimSpace(strings.TrimPrefix(a, "redis://"))
			host, port, err := net.SplitHostPort(a)
			if err != nil || host == "" {
				return nil, fmt.Errorf("cache: cluster address %q is not host:port", a)
			}
			if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("cache: cluster address %q has a bad port", a)
			}
			addrs = append(addrs, a)
		}
		return &redis.UniversalOptions{Addrs: addrs, IsClusterMode: true}, nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &redis.UniversalOptions{
		Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password,
		TLSConfig: o.TLSConfig, Protocol: o.Protocol,
	}, nil
}

// NewClient builds a client for GATEHOUSE_REDIS_URL with short timeouts:
// a slow Redis must not hold up a login, since every use of it has a
// fallback.
func NewClient(raw string) (redis.UniversalClient, error) {
	o, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	o.DialTimeout = 500 * time.Millisecond
	o.ReadTimeout = 300 * time.Millisecond
	o.WriteTimeout = 300 * time.Millisecond
	o.PoolTimeout = 500 * time.Millisecond
	o.MaxRetries = 1
	// Logins hold a connection per Redis round trip, and the login
	// admission lanes allow 32 logins per CPU in flight: a pool smaller
	// than that makes trusted-device logins queue for a connection behind
	// a flood (go-redis's default is 10 per CPU).
	o.PoolSize = 40 * runtime.GOMAXPROCS(0)
	o.DisableIdentity = true
	if o.IsClusterMode {
		return redis.NewClusterClient(o.Cluster()), nil
	}
	return redis.NewClient(o.Simple()), nil
}

// Ping checks that Redis answers.
func Ping(ctx context.Context, c redis.UniversalClient) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache: ping: %w", err)
	}
	return nil
}

// NewRemoteClient builds a client for another region's Redis (the
// revocation fan-out): timeouts sized for an inter-region round trip, and
// a few connections kept open so that a revocation does not pay for a
// TCP (and TLS) handshake across the ocean.
func NewRemoteClient(raw string) (redis.UniversalClient, error) {
	o, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	o.DialTimeout = time.Second
	o.ReadTimeout = time.Second
	o.WriteTimeout = time.Second
	o.PoolTimeout = time.Second
	o.MaxRetries = 1
	o.MinIdleConns = 8
	o.DisableIdentity = true
	if o.IsClusterMode {
		return redis.NewClusterClient(o.Cluster()), nil
	}
	return redis.NewClient(o.Simple()), nil
}
