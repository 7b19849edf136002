package token

import (
	"context"
	"testing"
	"time"
)

func TestCachingVerifier(t *testing.T) {
	f := newFixture(t)
	now := testNow
	clock := func() time.Time { return now }
	v := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: NewLocalKeySet(f.ring), Now: clock})
	cv := NewCachingVerifier(v, 2, time.Minute, clock)
	ctx := context.Background()
	issue := func(sub string) string {
		t.Helper()
		c := testClaims()
		c.Subject = sub
		tok, err := f.issuer.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	tok := issue("alice")
	first, err := cv.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cv.Verify(ctx, tok)
	if err != nil || again != first {
		t.Fatalf("second verification did not come from the cache: %v", err)
	}
	// A tampered token is never served from the cache.
	if _, err := cv.Verify(ctx, tok[:len(tok)-2]+"AA"); err == nil {
		t.Fatal("tampered token accepted")
	}
	// Once the token expires, the cached entry does not make it valid.
	now = first.ExpiresAt.Add(time.Hour)
	if _, err := cv.Verify(ctx, tok); err == nil {
		t.Fatal("an expired token verified from the cache")
	}
	// The cache stays within its size.
	now = testNow
	for _, sub := range []string{"b", "c", "d", "e"} {
		if _, err := cv.Verify(ctx, issue(sub)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(cv.entries); n > 2 {
		t.Fatalf("cache holds %d entries, bound is 2", n)
	}
}
