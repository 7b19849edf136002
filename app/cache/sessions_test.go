package cache

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

func testClient(t *testing.T) *Sessions {
	t.Helper()
	rdb, err := NewClient("redis://127.0.0.1:6379/14")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := Ping(context.Background(), rdb); err != nil {
		t.Fatalf("Redis is required on 127.0.0.1:6379: %v", err)
	}
	return NewSessions(rdb, "ghtest:"+uuid.NewString()+":")
}

func TestRevocationMarks(t *testing.T) {
	ctx := context.Background()
	s := testClient(t)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	if err := s.RevokeSessions(ctx, []uuid.UUID{a, b}, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	prime(t, s)
	for id, want := range map[uuid.UUID]bool{a: true, b: true, c: false} {
		got, err := s.SessionRevoked(ctx, id)
		if err != nil || got != want {
			t.Fatalf("SessionRevoked(%v) = %v, %v; want %v", id, got, err, want)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got, _ := s.SessionRevoked(ctx, a); got {
		t.Fatal("the mark outlived its ttl")
	}
}

func TestParseURL(t *testing.T) {
	o, err := ParseURL("redis://127.0.0.1:6379/3")
	if err != nil || o.IsClusterMode || o.DB != 3 || o.Addrs[0] != "127.0.0.1:6379" {
		t.Fatalf("single: %+v %v", o, err)
	}
	o, err = ParseURL("10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000")
	if err != nil || !o.IsClusterMode || len(o.Addrs) != 3 {
		t.Fatalf("cluster: %+v %v", o, err)
	}
	for _, bad := range []string{"", "http://x", "a:1,b", "a:1,b:99999"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestUnreachableRedisErrors(t *testing.T) {
	rdb, err := NewClient("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := NewSessions(rdb, "")
	if _, err := s.SessionRevoked(context.Background(), uuid.New()); err == nil {
		t.Fatal("a dead Redis must report an error, not 'not revoked'")
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("redis://127.0.0.1:6379/0")
	f.Add("a:1,b:2")
	f.Add("rediss://user:pw@host:6380/2?dial_timeout=1s")
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseURL(raw)
		if err == nil && len(o.Addrs) == 0 {
			t.Fatalf("accepted %q without an address", raw)
		}
	})
}
