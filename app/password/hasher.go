package password

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/keys"
)

// Peppers gives the pepper to key new hashes with and the older versions
// stored hashes may name. *keys.Ring satisfies it.
type Peppers interface {
	// Pepper returns the current pepper.
	Pepper() keys.Secret
	// PepperVersion returns a given pepper version, if it is still live.
	PepperVersion(v int) (keys.Secret, bool)
}

// Result is the outcome of a verification.
type Result struct {
	// OK reports that the password matched.
	OK bool
	// NeedsRehash reports, when OK, that the stored hash is behind the
	// current parameters or pepper and should be replaced by a fresh Hash of
	// the same secret.
	NeedsRehash bool
}

// Hasher hashes and verifies passwords with Argon2id over a peppered HMAC of
// the secret. It is safe for concurrent use. It keeps the Argon2id working
// memory of each pool worker between derivations (package argon2id): once
// busy, a server holds workers × Params.MemoryKiB for hashing, the most the
// Pool lets it use at any moment.
type Hasher struct {
	params  Params
	peppers Peppers
	pool    *Pool
	// memory keeps Argon2id working memory between derivations.
	memory *workspaces
	// dummySalt and dummyTag make up the hash VerifyDummy verifies against.
	// Their value does not matter, only their size and the parameters and
	// pepper version they are encoded with, which are always the current
	// ones; so they are random bytes drawn once rather than a real hash.
	dummySalt []byte
	dummyTag  []byte
}

// NewHasher returns a hasher that hashes with params (which must pass
// Params.Validate) and the current pepper of peppers, running every Argon2id
// derivation through pool.
func NewHasher(params Params, peppers Peppers, pool *Pool) (*Hasher, error) {
	if err := params.Validate(); err != nil {
		return nil, fmt.Errorf("password: new hasher: %w", err)
	}
	if peppers == nil {
		return nil, errors.New("password: new hasher: no peppers")
	}
	if pool == nil {
		return nil, errors.New("password: new hasher: no pool")
	}
	if err := checkPepper(peppers.Pepper()); err != nil {
		return nil, fmt.Errorf("password: new hasher: %w", err)
	}
	h := &Hasher{
		params:    params,
		peppers:   peppers,
		pool:      pool,
		memory:    newWorkspaces(pool.Capacity(), params.MemoryKiB),
		dummySalt: make([]byte, SaltBytes),
		dummyTag:  make([]byte, KeyBytes),
	}
	if _, err := rand.Read(h.dummySalt); err != nil {
		return nil, fmt.Errorf("password: new hasher: %w", err)
	}
	if _, err := rand.Read(h.dummyTag); err != nil {
		return nil, fmt.Errorf("password: new hasher: %w", err)
	}
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash hashes secret (the NFKC-normalised password, or a legacy digest being
// wrapped) with a fresh salt, the current parameters and the current pepper,
// and returns the PHC string to store. It fails with the Pool's
// errs.KindUnavailable error when hashing capacity is exhausted.
func (h *Hasher) Hash(ctx context.Context, secret []byte) (string, error) {
	pepper := h.peppers.Pepper()
	if err := checkPepper(pepper); err != nil {
		return "", errs.Internal(fmt.Errorf("password: hash: %w", err))
	}
	e := Encoded{Params: h.params, PepperVersion: pepper.Version, Salt: make([]byte, SaltBytes)}
	if _, err := rand.Read(e.Salt); err != nil {
		return "", errs.Internal(fmt.Errorf("password: hash: salt: %w", err))
	}
	tag, err := h.derive(ctx, secret, pepper.Key, e, KeyBytes)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	e.Hash = tag
	return e.PHC(), nil
}

// Verify checks secret against a stored PHC string, re-deriving with the
// parameters and pepper version the string names. A mismatch is OK=false, not
// an error. Errors are a malformed stored hash or a pepper version no longer
// live (errs.KindInternal: the stored data or key ring is wrong), and
// exhausted hashing capacity (errs.KindUnavailable).
func (h *Hasher) Verify(ctx context.Context, secret []byte, encoded string) (Result, error) {
	e, err := ParsePHC(encoded)
	if err != nil {
		return Result{}, errs.Internal(fmt.Errorf("password: verify: stored hash: %w", err))
	}
	var pepperKey []byte
	if e.PepperVersion != 0 {
		pepper, ok := h.peppers.PepperVersion(e.PepperVersion)
		if !ok {
			return Result{}, errs.Internal(fmt.Errorf("password: verify: pepper version %d is not live", e.PepperVersion))
		}
		if err := checkPepper(pepper); err != nil {
			return Result{}, errs.Internal(fmt.Errorf("password: verify: %w", err))
		}
		pepperKey = pepper.Key
	}
	tag, err := h.derive(ctx, secret, pepperKey, e, len(e.Hash))
	if err != nil {
		return Result{}, fmt.Errorf("password: verify: %w", err)
	}
	if subtle.ConstantTimeCompare(tag, e.Hash) != 1 {
		return Result{}, nil
	}
	return Result{OK: true, NeedsRehash: h.needsRehash(e)}, nil
}

// VerifyDummy does the work of a Verify against a hash with the current
// parameters and pepper, and reports OK=false. Call it when the account does
// not exist (or has no password), so that the response takes as long as for
// an account that does and a wrong password. Like Verify, it hashes whatever
// secret it is given, the empty one included, and fails only when hashing
// capacity is exhausted (or the key ring is broken).
func (h *Hasher) VerifyDummy(ctx context.Context, secret []byte) (Result, error) {
	dummy := Encoded{
		Params:        h.params,
		PepperVersion: h.peppers.Pepper().Version,
		Salt:          h.dummySalt,
		Hash:          h.dummyTag,
	}
	if _, err := h.Verify(ctx, secret, dummy.PHC()); err != nil {
		return Result{}, fmt.Errorf("password: verify dummy: %w", err)
	}
	return Result{}, nil
}

// MeasureCapacity returns how many hashes per second the hasher's pool
// completes on this host with every worker busy: it runs one dummy
// verification per worker at once, twice, and times the second round. The
// first round brings each worker's working memory in, so the figure is the
// steady state and the first logins after start do not pay for it. A round
// counts as hashing capacity only with nothing else hashing, so call it at
// start, before serving.
func (h *Hasher) MeasureCapacity(ctx context.Context) (float64, error) {
	workers := h.pool.Capacity()
	round := func() (time.Duration, error) {
		start := time.Now()
		failures := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() { _, failures[i] = h.VerifyDummy(ctx, []byte("measuring capacity")) })
		}
		wg.Wait()
		return time.Since(start), errors.Join(failures...)
	}
	if _, err := round(); err != nil {
		return 0, fmt.Errorf("password: measure capacity: %w", err)
	}
	took, err := round()
	if err != nil {
		return 0, fmt.Errorf("password: measure capacity: %w", err)
	}
	return float64(workers) / took.Seconds(), nil
}

// needsRehash reports whether a hash that verified is behind the current
// parameters, pepper, or sizes.
func (h *Hasher) needsRehash(e Encoded) bool {
	return e.Params != h.params ||
		e.PepperVersion == 0 ||
		e.PepperVersion != h.peppers.Pepper().Version ||
		len(e.Hash) != KeyBytes ||
		len(e.Salt) < SaltBytes
}

// derive computes the Argon2id tag of secret under e's salt and parameters,
// keying secret with HMAC-SHA256(pepperKey, secret) first when pepperKey is
// set. The Argon2id work runs in a Pool slot, in working memory kept from
// earlier derivations.
func (h *Hasher) derive(ctx context.Context, secret, pepperKey []byte, e Encoded, tagBytes int) ([]byte, error) {
	input := secret
	if pepperKey != nil {
		mac := hmac.New(sha256.New, pepperKey)
		mac.Write(secret)
		input = mac.Sum(nil)
		defer clear(input)
	}
	var tag []byte
	err := h.pool.Do(ctx, func() {
		tag = h.memory.derive(input, e.Salt, e.Params, uint32(tagBytes))
	})
	if err != nil {
		return nil, err
	}
	return tag, nil
}

// checkPepper refuses a pepper no key ring should hand out.
func checkPepper(p keys.Secret) error {
	if p.Version <= 0 || p.Version > maxPepperVersion {
		return fmt.Errorf("pepper version %d out of range", p.Version)
	}
	if len(p.Key) < keys.MinPepperBytes {
		return fmt.Errorf("pepper version %d is %d bytes, want at least %d", p.Version, len(p.Key), keys.MinPepperBytes)
	}
	return nil
}
