package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/password/argon2id"
	"github.com/gatehouse-id/gatehouse/app/token"
	"github.com/gatehouse-id/gatehouse/keys"
)

// argon2Params are the Argon2id cost parameters, as the server takes them.
type argon2Params struct {
	memoryKiB   uint32
	iterations  uint32
	parallelism uint8
}

func (p argon2Params) String() string {
	return fmt.Sprintf("m=%d t=%d p=%d", p.memoryKiB, p.iterations, p.parallelism)
}

// argon2Sizes mirror app/password: a 32-byte HMAC-SHA256 of the password
// under the pepper is hashed with a 16-byte salt into a 32-byte tag.
const (
	argon2SaltBytes = 16
	argon2TagBytes  = 32
)

// argon2RawLoad runs Argon2id with params on workers goroutines, no service
// around it: the ceiling of password logins on this machine. Each worker
// derives in working memory it keeps, with the implementation the server's
// hasher uses (app/password/argon2id), so the ratio of logins to this
// figure is the service's own cost and not a difference of Argon2id code.
func argon2RawLoad(params argon2Params, workers int, window time.Duration, maxOps int64) loadSpec {
	pepper := make([]byte, 32)
	_, _ = rand.Read(pepper)
	mac := hmac.New(sha256.New, pepper)
	mac.Write([]byte(randomHex(12)))
	input := mac.Sum(nil)
	salt := make([]byte, argon2SaltBytes)
	_, _ = rand.Read(salt)
	memory := make([]argon2id.Memory, workers)
	return loadSpec{
		name: "argon2_raw", workers: workers, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(_ context.Context, worker int) error {
			if tag := memory[worker].Key(input, salt, params.iterations, params.memoryKiB, params.parallelism, argon2TagBytes); len(tag) != argon2TagBytes {
				return errors.New("argon2: short tag")
			}
			return nil
		},
	}
}

// memoryRing is a SigningKeys holding one key in memory.
type memoryRing struct{ key keys.SigningKey }

// Signer returns the only key.
func (r memoryRing) Signer() keys.SigningKey { return r.key }

// SigningKeys returns the only key.
func (r memoryRing) SigningKeys() []keys.SigningKey { return []keys.SigningKey{r.key} }

// verifyFixture is a valid access token and what checks it: the project's
// verifier and the bare signature parts.
type verifyFixture struct {
	token    string
	verifier *token.Verifier
	pub      *ecdsa.PublicKey
	digest   [32]byte
	r, s     *big.Int
	// der is the same signature in ASN.1 DER form.
	der []byte
}

// newVerifyFixture issues a token like the server's (ES256, the usual
// claims) with a fresh P-256 key, as app/token's own benchmarks do.
func newVerifyFixture() (*verifyFixture, error) {
	const issuer, audience = "http://127.0.0.1", "gatehouse"
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ring := memoryRing{key: keys.SigningKey{Name: "gatehouse-signing", Version: 1, Private: priv}}
	now := time.Now()
	tok, err := token.NewIssuer(issuer, ring, 15*time.Minute, time.Now).Issue(token.Claims{
		Subject:    "0197a0b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
		Audience:   token.Audience{audience},
		ClientID:   "first-party",
		SessionID:  "0197a0b2-3c4d-7e5f-8a9b-0c1d2e3f4a5c",
		AMR:        []string{"pwd"},
		ACR:        "aal1",
		AuthTime:   now,
		HomeRegion: "us-east1",
	})
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("token signature is not 64 bytes of base64url (%v)", err)
	}
	f := &verifyFixture{
		token: tok,
		verifier: token.NewVerifier(token.VerifierOptions{
			Issuer: issuer, Audience: audience, Keys: token.NewLocalKeySet(ring), Now: time.Now,
		}),
		pub:    &priv.PublicKey,
		digest: sha256.Sum256([]byte(tok[:dot])),
		r:      new(big.Int).SetBytes(sig[:32]),
		s:      new(big.Int).SetBytes(sig[32:]),
	}
	if f.der, err = asn1.Marshal(struct{ R, S *big.Int }{f.r, f.s}); err != nil {
		return nil, fmt.Errorf("encode signature: %w", err)
	}
	if _, err := f.verifier.Verify(context.Background(), tok); err != nil {
		return nil, fmt.Errorf("the verifier refuses the fixture token: %w", err)
	}
	if !ecdsa.Verify(f.pub, f.digest[:], f.r, f.s) || !ecdsa.VerifyASN1(f.pub, f.digest[:], f.der) {
		return nil, errors.New("bare ecdsa.Verify or VerifyASN1 refuses the fixture signature")
	}
	return f, nil
}

// verifyLoad runs the project's verifier on the valid token.
func (f *verifyFixture) verifyLoad(workers int, window time.Duration, maxOps int64) loadSpec {
	return loadSpec{
		name: "verify", workers: workers, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(ctx context.Context, _ int) error {
			_, err := f.verifier.Verify(ctx, f.token)
			return err
		},
	}
}

// bareECDSALoad runs crypto/ecdsa.Verify on the same signature over the
// same SHA-256 digest: the ceiling verifyLoad is compared with, as in
// app/token's BenchmarkVerifyBareECDSA.
func (f *verifyFixture) bareECDSALoad(workers int, window time.Duration, maxOps int64) loadSpec {
	return loadSpec{
		name: "verify_bare_ecdsa", workers: workers, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(context.Context, int) error {
			if !ecdsa.Verify(f.pub, f.digest[:], f.r, f.s) {
				return errors.New("bad signature")
			}
			return nil
		},
	}
}

// asn1ECDSALoad runs crypto/ecdsa.VerifyASN1 on the DER form of the same
// signature over the same digest: the path without big.Int conversions
// that a verifier can take, shown as a second, tighter reference.
func (f *verifyFixture) asn1ECDSALoad(workers int, window time.Duration, maxOps int64) loadSpec {
	return loadSpec{
		name: "verify_asn1_ecdsa", workers: workers, warmup: warmupFor(window), window: window, maxOps: maxOps,
		op: func(context.Context, int) error {
			if !ecdsa.VerifyASN1(f.pub, f.digest[:], f.der) {
				return errors.New("bad signature")
			}
			return nil
		},
	}
}
