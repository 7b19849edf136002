package mfa

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

func TestRecoveryCodes(t *testing.T) {
	store := newMemStore()
	clk := &clock{t: t0}
	rc, err := NewRecoveryCodes(store, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	user := uuid.New()
	if _, err := rc.Use(ctx, user, "aaaa-bbbb-cccc"); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("use without codes: %v", err)
	}
	codes, err := rc.Generate(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	format := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !format.MatchString(c) || seen[c] {
			t.Fatalf("bad or repeated code %q", c)
		}
		seen[c] = true
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	set, _, _ := store.RecoveryCodes(ctx, user)
	for _, h := range set.Hashes {
		for _, c := range codes {
			if strings.Contains(string(h), c) {
				t.Fatal("code stored in the clear")
			}
		}
	}
	// Each code works once; typed in upper case without dashes is fine.
	for i, c := range codes {
		typed := c
		if i%2 == 1 {
			typed = strings.ToUpper(strings.ReplaceAll(c, "-", " "))
		}
		if out, err := rc.Use(ctx, user, typed); err != nil || out != Accepted {
			t.Fatalf("code %d: %v, %v", i, out, err)
		}
		if out, _ := rc.Use(ctx, user, c); out != Rejected {
			t.Fatalf("code %d reused: %v", i, out)
		}
	}
	if n, _ := rc.Remaining(ctx, user); n != 0 {
		t.Fatalf("remaining %d", n)
	}
	// Another user's code does not work.
	other := uuid.New()
	otherCodes, _ := rc.Generate(ctx, other)
	if out, _ := rc.Use(ctx, user, otherCodes[0]); out != Rejected {
		t.Fatal("another user's code accepted")
	}
}

func TestRecoveryCodesRegenerateVoidsOld(t *testing.T) {
	rc, _ := NewRecoveryCodes(newMemStore(), (&clock{t: t0}).Now)
	ctx := context.Background()
	user := uuid.New()
	old, _ := rc.Generate(ctx, user)
	fresh, _ := rc.Generate(ctx, user)
	for _, c := range old {
		if out, _ := rc.Use(ctx, user, c); out != Rejected {
			t.Fatalf("old code %q accepted after regeneration", c)
		}
	}
	if out, _ := rc.Use(ctx, user, fresh[3]); out != Accepted {
		t.Fatal("new code refused")
	}
	if n, _ := rc.Remaining(ctx, user); n != 9 {
		t.Fatalf("remaining %d, want 9", n)
	}
}

func TestRecoveryCodeConcurrentUseOneWins(t *testing.T) {
	rc, _ := NewRecoveryCodes(newMemStore(), (&clock{t: t0}).Now)
	ctx := context.Background()
	user := uuid.New()
	codes, _ := rc.Generate(ctx, user)
	const n = 32
	var mu sync.Mutex
	accepted := 0
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			out, err := rc.Use(ctx, user, codes[0])
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if out == Accepted {
				accepted++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if accepted != 1 {
		t.Fatalf("%d concurrent uses accepted, want 1", accepted)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcd-efgh-jkmn": "abcdefghjkmn",
		"ABCD EFGH JKMN": "abcdefghjkmn",
		"iloo-0000-1111": "1100" + "00001111",
	} {
		if got, ok := NormalizeRecoveryCode(in); !ok || got != want {
			t.Errorf("%q -> %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abcd-efgh-jkm", "abcd-efgh-jkmnp", "abcd-efgh-jkmu", "abcd_efgh_jkmn", "ａbcd-efgh-jkmn"} {
		if _, ok := NormalizeRecoveryCode(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}
