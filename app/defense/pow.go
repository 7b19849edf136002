package defense

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MaxDifficulty is the most leading zero bits a challenge may ask.
const MaxDifficulty = 32

// Limits on what a client may send; longer input is refused unparsed.
const (
	maxTokenLen = 128
	maxNonceLen = 32
)

// Challenge is the body of a 403 challenge_required:
// {"type":"pow","id":…,"difficulty":…,"expires_at":…,"token":…}. A
// ChallengeProvider other than PoW may use its own type and Extra.
type Challenge struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Difficulty int            `json:"difficulty"`
	ExpiresAt  time.Time      `json:"expires_at"`
	Token      string         `json:"token"`
	Extra      map[string]any `json:"extra,omitempty"`
}

// Solution is a client's answer: {"token":…,"nonce":…}. For proof of work
// the nonce is found so that SHA-256(token || nonce) starts with
// Difficulty zero bits; an external CAPTCHA puts its response in Token.
type Solution struct {
	Token string `json:"token"`
	Nonce string `json:"nonce"`
}

// ParseSolution decodes a solution strictly (unknown fields, trailing data,
// overlong or malformed values are refused).
func ParseSolution(data []byte) (Solution, error) {
	var s Solution
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Solution{}, fmt.Errorf("%w: %v", ErrChallengeInvalid, err)
	}
	if dec.More() {
		return Solution{}, fmt.Errorf("%w: trailing data", ErrChallengeInvalid)
	}
	if err := s.check(); err != nil {
		return Solution{}, err
	}
	return s, nil
}

// check bounds a solution's fields before any work is spent on it.
func (s Solution) check() error {
	if s.Token == "" || len(s.Token) > maxTokenLen {
		return fmt.Errorf("%w: token length", ErrChallengeInvalid)
	}
	if s.Nonce == "" || len(s.Nonce) > maxNonceLen {
		return fmt.Errorf("%w: nonce length", ErrChallengeInvalid)
	}
	for i := 0; i < len(s.Nonce); i++ {
		if c := s.Nonce[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("%w: nonce character", ErrChallengeInvalid)
		}
	}
	return nil
}

// Why a solution is refused. Verify's errors wrap one of these.
var (
	ErrChallengeInvalid  = errors.New("challenge: invalid solution")
	ErrChallengeExpired  = errors.New("challenge: expired")
	ErrChallengeReplayed = errors.New("challenge: already used")
	ErrChallengeTooEasy  = errors.New("challenge: difficulty below what is required now")
)

// ChallengeRequest is what a challenge is issued for and checked against.
type ChallengeRequest struct {
	// AccountKey binds the challenge to one account ("" for none).
	AccountKey string
	// IP is the client's address (for providers that want it).
	IP netip.Addr
	// Difficulty is the leading zero bits asked (Issue) or the least
	// accepted (Verify).
	Difficulty int
}

// ChallengeProvider issues and verifies challenges. PoW is the built-in
// one; an external CAPTCHA (Turnstile, hCaptcha, …) can be plugged in by
// implementing it.
type ChallengeProvider interface {
	Issue(ctx context.Context, req ChallengeRequest) (*Challenge, error)
	// Verify returns nil when sol answers a challenge issued for req, and
	// consumes it; otherwise an error wrapping one of ErrChallenge….
	Verify(ctx context.Context, req ChallengeRequest, sol Solution) error
}

// OnceStore makes a key single-use (ratelimit.Store implements it).
type OnceStore interface {
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// PoW is the proof-of-work ChallengeProvider. Its tokens are
// "v1.<payload>.<mac>" in base64url: payload = id(16) | difficulty(1) |
// expires(8, Unix seconds), mac = HMAC-SHA256 over the payload and the
// bound account.
type PoW struct {
	key    []byte
	once   OnceStore
	prefix string
	ttl    time.Duration
	now    func() time.Time
}

// NewPoW builds a PoW provider. key signs the tokens (at least 32 bytes);
// once makes solutions single-use under keyPrefix; ttl is how long a
// challenge may be solved.
func NewPoW(key []byte, once OnceStore, keyPrefix string, ttl time.Duration, now func() time.Time) (*PoW, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("defense: the challenge key must have at least 32 bytes")
	}
	if once == nil || ttl <= 0 {
		return nil, fmt.Errorf("defense: PoW needs a once store and a ttl")
	}
	if now == nil {
		now = time.Now
	}
	return &PoW{key: bytes.Clone(key), once: once, prefix: keyPrefix, ttl: ttl, now: now}, nil
}

const (
	tokenPrefix = "v1."
	payloadLen  = 16 + 1 + 8
	macLen      = sha256.Size
)

var b64 = base64.RawURLEncoding

// Issue makes a signed challenge of req.Difficulty bits bound to
// req.AccountKey.
func (p *PoW) Issue(_ context.Context, req ChallengeRequest) (*Challenge, error) {
	d := min(max(req.Difficulty, 1), MaxDifficulty)
	id := uuid.New()
	exp := p.now().Add(p.ttl).Truncate(time.Second)
	payload := make([]byte, payloadLen)
	copy(payload, id[:])
	payload[16] = byte(d)
	binary.BigEndian.PutUint64(payload[17:], uint64(exp.Unix()))
	token := tokenPrefix + b64.EncodeToString(payload) + "." + b64.EncodeToString(p.sign(payload, req.AccountKey))
	return &Challenge{Type: "pow", ID: id.String(), Difficulty: d, ExpiresAt: exp.UTC(), Token: token}, nil
}

func (p *PoW) sign(payload []byte, account string) []byte {
	return mac(p.key, []byte("gatehouse-pow-v1\x00"), payload, []byte(account))
}

// powToken is a parsed token.
type powToken struct {
	id         uuid.UUID
	difficulty int
	expires    time.Time
	payload    []byte
	mac        []byte
}

// parseToken splits and decodes a token; it checks shape, not signature.
func parseToken(token string) (powToken, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return powToken{}, fmt.Errorf("%w: token format", ErrChallengeInvalid)
	}
	body, sig, ok := strings.Cut(token[len(tokenPrefix):], ".")
	if !ok {
		return powToken{}, fmt.Errorf("%w: token format", ErrChallengeInvalid)
	}
	payload, err1 := b64.Strict().DecodeString(body)
	m, err2 := b64.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != payloadLen || len(m) != macLen {
		return powToken{}, fmt.Errorf("%w: token encoding", ErrChallengeInvalid)
	}
	t := powToken{difficulty: int(payload[16]), payload: payload, mac: m}
	copy(t.id[:], payload[:16])
	secs := binary.BigEndian.Uint64(payload[17:])
	if t.difficulty < 1 || t.difficulty > MaxDifficulty || secs > 1<<40 {
		return powToken{}, fmt.Errorf("%w: token fields", ErrChallengeInvalid)
	}
	t.expires = time.Unix(int64(secs), 0)
	return t, nil
}

// Verify checks, cheapest first: shape, signature and binding, expiry,
// difficulty, the work itself, then single use (Redis SET NX with a TTL; in
// process while Redis is away). A wrong nonce does not burn the challenge.
func (p *PoW) Verify(ctx context.Context, req ChallengeRequest, sol Solution) error {
	if err := sol.check(); err != nil {
		return err
	}
	t, err := parseToken(sol.Token)
	if err != nil {
		return err
	}
	if !hmac.Equal(t.mac, p.sign(t.payload, req.AccountKey)) {
		return fmt.Errorf("%w: signature", ErrChallengeInvalid)
	}
	now := p.now()
	if !now.Before(t.expires) {
		return ErrChallengeExpired
	}
	if t.difficulty < req.Difficulty {
		return ErrChallengeTooEasy
	}
	if LeadingZeroBits(powHash(sol.Token, sol.Nonce)) < t.difficulty {
		return fmt.Errorf("%w: not enough work", ErrChallengeInvalid)
	}
	first, err := p.once.Once(ctx, p.prefix+"ch:"+t.id.String(), t.expires.Sub(now)+time.Minute)
	if err != nil {
		return fmt.Errorf("defense: challenge single use: %w", err)
	}
	if !first {
		return ErrChallengeReplayed
	}
	return nil
}

// powHash is SHA-256(token || nonce).
func powHash(token, nonce string) [32]byte {
	buf := make([]byte, 0, len(token)+len(nonce))
	return sha256.Sum256(append(append(buf, token...), nonce...))
}

// LeadingZeroBits counts the zero bits at the start of h.
func LeadingZeroBits(h [32]byte) int {
	n := 0
	for _, b := range h {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// Solve finds a nonce (decimal) for a proof-of-work token: the client's
// side, for tests and load generators. Expect ~2^difficulty hashes.
func Solve(ctx context.Context, token string, difficulty int) (string, error) {
	if difficulty < 0 || difficulty > MaxDifficulty {
		return "", fmt.Errorf("defense: difficulty %d out of range", difficulty)
	}
	buf := make([]byte, 0, len(token)+20)
	buf = append(buf, token...)
	for n := uint64(0); ; n++ {
		if n&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		b := strconv.AppendUint(buf[:len(token)], n, 10)
		if LeadingZeroBits(sha256.Sum256(b)) >= difficulty {
			return strconv.FormatUint(n, 10), nil
		}
	}
}

// SolveChallenge answers a "pow" challenge.
func SolveChallenge(ctx context.Context, c *Challenge) (Solution, error) {
	if c == nil || c.Type != "pow" {
		return Solution{}, fmt.Errorf("defense: not a proof-of-work challenge")
	}
	nonce, err := Solve(ctx, c.Token, c.Difficulty)
	if err != nil {
		return Solution{}, err
	}
	return Solution{Token: c.Token, Nonce: nonce}, nil
}
