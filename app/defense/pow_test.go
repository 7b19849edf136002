package defense

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

func newPoW(t testing.TB, once OnceStore, prefix string, now func() time.Time) *PoW {
	t.Helper()
	p, err := NewPoW([]byte(strings.Repeat("k", 32)), once, prefix, 2*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// badNonce finds a nonce that does not solve the challenge.
func badNonce(c *Challenge) string {
	for i := 0; ; i++ {
		n := "x" + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		if LeadingZeroBits(powHash(c.Token, n)) < c.Difficulty {
			return n
		}
	}
}

// A wrong, tampered, foreign, too easy, expired or replayed solution is
// refused; a valid one is accepted exactly once, across servers.
func TestChallengeSolutions(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	clock := &fakeClock{t: time.Now()}
	storeA := ratelimit.New(rdb, ratelimit.Options{}, nil, clock.Now)
	storeB := ratelimit.New(rdb, ratelimit.Options{}, nil, clock.Now)
	powA, powB := newPoW(t, storeA, cfg.KeyPrefix, clock.Now), newPoW(t, storeB, cfg.KeyPrefix, clock.Now)
	ctx := context.Background()
	req := ChallengeRequest{AccountKey: "alice", IP: ip4(80, 1, 1), Difficulty: 8}

	c, err := powA.Issue(ctx, req)
	if err != nil || c.Type != "pow" || c.Difficulty != 8 || c.ID == "" || !c.ExpiresAt.After(clock.Now()) {
		t.Fatalf("issue: %+v %v", c, err)
	}
	sol, err := SolveChallenge(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(name string, p *PoW, r ChallengeRequest, s Solution, want error) {
		t.Helper()
		if err := p.Verify(ctx, r, s); !errors.Is(err, want) {
			t.Fatalf("%s: got %v, want %v", name, err, want)
		}
	}
	refuse("wrong nonce", powA, req, Solution{Token: c.Token, Nonce: badNonce(c)}, ErrChallengeInvalid)
	other := req
	other.AccountKey = "mallory"
	refuse("other account", powA, other, sol, ErrChallengeInvalid)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(c.Token, ".")[1])
	payload[16] = 1 // ask for less work
	forged := "v1." + base64.RawURLEncoding.EncodeToString(payload) + "." + strings.Split(c.Token, ".")[2]
	refuse("forged difficulty", powA, req, Solution{Token: forged, Nonce: "0"}, ErrChallengeInvalid)
	harder := req
	harder.Difficulty = 9
	refuse("too easy", powA, harder, sol, ErrChallengeTooEasy)
	refuse("malformed", powA, req, Solution{Token: "v1.!!.??", Nonce: "1"}, ErrChallengeInvalid)

	// None of the refusals burned the challenge; the valid one passes once,
	// and another server sees it used.
	if err := powA.Verify(ctx, req, sol); err != nil {
		t.Fatalf("valid solution refused: %v", err)
	}
	refuse("replay", powA, req, sol, ErrChallengeReplayed)
	refuse("replay elsewhere", powB, req, sol, ErrChallengeReplayed)

	c2, _ := powA.Issue(ctx, req)
	sol2, _ := SolveChallenge(ctx, c2)
	clock.Advance(2*time.Minute + time.Second)
	refuse("expired", powA, req, sol2, ErrChallengeExpired)

	// In process (Redis away) single use still holds.
	local := newPoW(t, ratelimit.New(nil, ratelimit.Options{}, nil, clock.Now), cfg.KeyPrefix, clock.Now)
	c3, _ := local.Issue(ctx, req)
	sol3, _ := SolveChallenge(ctx, c3)
	if err := local.Verify(ctx, req, sol3); err != nil {
		t.Fatal(err)
	}
	refuse("replay in process", local, req, sol3, ErrChallengeReplayed)
}

// Through the Guard: a bad solution gets a fresh challenge with the reason.
func TestGuardRefusesBadSolutions(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	cfg := testConfig(t)
	clock := &fakeClock{t: time.Now()}
	g := newGuard(t, cfg, rdb, nil, clock.Now)
	a := Attempt{IP: ip4(81, 1, 1), AccountKey: "grace"}
	for range cfg.Account.ChallengeAfter {
		attemptOnce(t, g, a, false)
	}
	d := check(t, g, a)
	if d.Action != ActionChallenge || d.Layer != LayerAccount {
		t.Fatalf("after %d failures: %+v", cfg.Account.ChallengeAfter, d)
	}
	a.Challenge = &Solution{Token: d.Challenge.Token, Nonce: badNonce(d.Challenge)}
	if d := check(t, g, a); d.Action != ActionChallenge || d.Reason != "challenge_invalid" {
		t.Fatalf("wrong nonce: %+v", d)
	}
	sol, _ := SolveChallenge(context.Background(), d.Challenge)
	a.Challenge = &sol
	if d := check(t, g, a); !d.Proceed() {
		t.Fatalf("valid solution: %+v", d)
	}
	if d := check(t, g, a); d.Action != ActionChallenge || d.Reason != "challenge_replayed" {
		t.Fatalf("replayed solution: %+v", d)
	}
	c := check(t, g, Attempt{IP: a.IP, AccountKey: a.AccountKey}).Challenge
	sol, _ = SolveChallenge(context.Background(), c)
	a.Challenge = &sol
	clock.Advance(cfg.Challenge.TTL)
	if d := check(t, g, a); d.Action != ActionChallenge || d.Reason != "challenge_expired" {
		t.Fatalf("expired solution: %+v", d)
	}
}

func TestParseSolution(t *testing.T) {
	good := `{"token":"v1.abc.def","nonce":"12345"}`
	if s, err := ParseSolution([]byte(good)); err != nil || s.Nonce != "12345" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{``, `{}`, `{"token":"x"}`, `{"token":"x","nonce":"1","extra":1}`, `{"token":"x","nonce":"1"} {}`,
		`{"token":"x","nonce":"1 2"}`, `{"token":"x","nonce":"` + strings.Repeat("1", 33) + `"}`, `[]`, `{"token":1,"nonce":"1"}`} {
		if _, err := ParseSolution([]byte(bad)); !errors.Is(err, ErrChallengeInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The browser solver (pow.js) finds solutions the server accepts.
func TestJavaScriptSolver(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required in CI to exercise pow.js")
		}
		t.Skip("node is not installed; pow.js not exercised")
	}
	src, err := os.ReadFile("pow.js")
	if err != nil {
		t.Fatal(err)
	}
	p := newPoW(t, ratelimit.New(nil, ratelimit.Options{}, nil, nil), "js:", nil)
	req := ChallengeRequest{AccountKey: "heidi", Difficulty: 12}
	c, _ := p.Issue(context.Background(), req)
	cj, _ := json.Marshal(c)
	script := string(src) + "\nsolveGatehouseChallenge(" + string(cj) + ").then(s => console.log(JSON.stringify(s)));\n"
	cmd := exec.Command(node, "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sol, err := ParseSolution(out)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if err := p.Verify(context.Background(), req, sol); err != nil {
		t.Fatalf("pow.js solution refused: %v", err)
	}
}

// Whatever a client sends, parsing and verifying never panic, and an
// accepted solution carries its work and is accepted only once.
func FuzzSolution(f *testing.F) {
	clock := &fakeClock{t: time.Unix(1_900_000_000, 0)}
	p := newPoW(f, ratelimit.New(nil, ratelimit.Options{}, nil, clock.Now), "fz:", clock.Now)
	req := ChallengeRequest{AccountKey: "ivan", Difficulty: 1}
	c, _ := p.Issue(context.Background(), ChallengeRequest{AccountKey: "ivan", Difficulty: 6})
	sol, _ := SolveChallenge(context.Background(), c)
	body, _ := json.Marshal(sol)
	f.Add(body)
	f.Add([]byte(`{"token":"v1.AAAA.BBBB","nonce":"0"}`))
	f.Add([]byte(`{"token":"` + c.Token + `","nonce":"-_"}`))
	f.Add([]byte(`{"nonce":"1","token":"v1..."}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSolution(data)
		if err != nil {
			return
		}
		_, _ = parseToken(s.Token)
		if err := p.Verify(context.Background(), req, s); err != nil {
			return
		}
		// Accepted: it must carry real work, and never be accepted twice.
		if tok, err := parseToken(s.Token); err != nil || LeadingZeroBits(powHash(s.Token, s.Nonce)) < tok.difficulty {
			t.Fatalf("accepted %+v without its work", s)
		}
		if err := p.Verify(context.Background(), req, s); !errors.Is(err, ErrChallengeReplayed) {
			t.Fatalf("accepted %+v twice: %v", s, err)
		}
	})
}
