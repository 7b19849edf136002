package defense

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// BenchmarkCheckAndRecord is the defense's cost per login (Check before the
// hash, Record after), on the real Redis or in process.
func BenchmarkCheckAndRecord(b *testing.B) {
	for _, backend := range []string{"redis", "memory"} {
		b.Run(backend, func(b *testing.B) {
			cfg := testConfig(b)
			big := ratelimit.PerSecond(1_000_000, 1_000_000)
			cfg.Unknown = Limits{Address: big, Subnet: big, Global: big}
			cfg.Account.ChallengeAfter, cfg.StepUpAfter, cfg.Account.LockAfter = 0, 0, 0
			cfg.Risk.ChallengeScore, cfg.Risk.StepUpScore, cfg.Risk.BlockScore = 1000, 1000, 1000
			var g *Guard
			if backend == "redis" {
				g = newGuard(b, cfg, testRedis(b, testRedisURL), nil, nil)
			} else {
				g = newGuard(b, cfg, nil, nil, nil)
			}
			ctx := context.Background()
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1))
					a := Attempt{IP: ip4(90, i%200, i%250), AccountKey: account(i % 5000), PasswordFingerprintInput: []byte("pw")}
					d, err := g.Check(ctx, a)
					if err != nil {
						b.Fatal(err)
					}
					if !d.Proceed() {
						continue
					}
					if err := g.Record(ctx, a, i%3 != 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkVerifySolution(b *testing.B) {
	p := newPoW(b, ratelimit.New(nil, ratelimit.Options{}, nil, nil), "bv:", nil)
	req := ChallengeRequest{AccountKey: "x", Difficulty: 4}
	c, _ := p.Issue(context.Background(), req)
	sol, _ := SolveChallenge(context.Background(), c)
	for b.Loop() {
		_ = p.Verify(context.Background(), req, Solution{Token: sol.Token, Nonce: "zz"}) // refused before single use
	}
}
