package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/keys"
)

func TestJWKSShape(t *testing.T) {
	k := newSigningKey(t, 1)
	// A key whose X has a leading zero byte must still give 32-byte x.
	for k.Private.X.BitLen() > 248 {
		k = newSigningKey(t, 1)
	}
	data, err := JWKS([]keys.SigningKey{k, newSigningKey(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	j := set.Keys[0]
	for name, want := range map[string]string{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "gatehouse-signing-v1"} {
		if j[name] != want {
			t.Errorf("%s = %q, want %q", name, j[name], want)
		}
	}
	if _, ok := j["d"]; ok {
		t.Fatal("private part published")
	}
	x, _ := base64.RawURLEncoding.DecodeString(j["x"])
	y, _ := base64.RawURLEncoding.DecodeString(j["y"])
	if len(x) != 32 || len(y) != 32 || new(big.Int).SetBytes(x).Cmp(k.Private.X) != 0 || new(big.Int).SetBytes(y).Cmp(k.Private.Y) != 0 {
		t.Fatalf("coordinates wrong: %d/%d bytes", len(x), len(y))
	}
	ks, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := ks["gatehouse-signing-v1"]; !ok || !pub.Equal(&k.Private.PublicKey) {
		t.Fatal("ParseJWKS does not give back the key")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), nil)
	if _, err := JWKS([]keys.SigningKey{{Name: "x", Version: 1, Private: p384}}); err == nil {
		t.Fatal("P-384 key published")
	}
}

func TestParseJWKSRules(t *testing.T) {
	k := newSigningKey(t, 1)
	pt, _ := k.Private.PublicKey.Bytes()
	x := base64.RawURLEncoding.EncodeToString(pt[1:33])
	y := base64.RawURLEncoding.EncodeToString(pt[33:])
	key := func(extra string) string {
		return `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"` + extra + `}`
	}
	set := func(ks ...string) []byte { return []byte(`{"keys":[` + strings.Join(ks, ",") + `]}`) }

	kept := func(data []byte) int {
		t.Helper()
		ks, err := ParseJWKS(data)
		if err != nil {
			t.Fatalf("ParseJWKS(%s): %v", data, err)
		}
		return len(ks)
	}
	if n := kept(set(key(`,"kid":"a","alg":"ES256","use":"sig"`), key(`,"kid":"b"`), key(`,"kid":"c","key_ops":["verify"]`))); n != 3 {
		t.Fatalf("kept %d of 3 good keys", n)
	}
	for name, skipped := range map[string]string{
		"no kid":           key(``),
		"alg ES384":        key(`,"kid":"a","alg":"ES384"`),
		"alg none":         key(`,"kid":"a","alg":"none"`),
		"use enc":          key(`,"kid":"a","use":"enc"`),
		"key_ops sign":     key(`,"kid":"a","key_ops":["sign"]`),
		"RSA":              `{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}`,
		"oct":              `{"kty":"oct","kid":"a","k":"c2VjcmV0"}`,
		"P-384":            `{"kty":"EC","crv":"P-384","kid":"a","x":"` + x + `","y":"` + y + `"}`,
		"not an object":    `"hello"`,
		"x of wrong type":  `{"kty":"EC","crv":"P-256","kid":"a","x":1,"y":"` + y + `"}`,
		"unknown kty OKP":  `{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `"}`,
		"curve name case":  `{"kty":"EC","crv":"p-256","kid":"a","x":"` + x + `","y":"` + y + `"}`,
		"kty in lowercase": `{"kty":"ec","crv":"P-256","kid":"a","x":"` + x + `","y":"` + y + `"}`,
	} {
		if n := kept(set(skipped)); n != 0 {
			t.Errorf("%s: kept", name)
		}
	}
	offCurve := base64.RawURLEncoding.EncodeToString(append([]byte{1}, make([]byte, 31)...))
	for name, bad := range map[string][]byte{
		"not JSON":          []byte(`{`),
		"no keys":           []byte(`{}`),
		"keys not an array": []byte(`{"keys":{}}`),
		"private part":      set(key(`,"kid":"a","d":"AAAA"`)),
		"duplicate kid":     set(key(`,"kid":"a"`), key(`,"kid":"a"`)),
		"point off curve":   set(`{"kty":"EC","crv":"P-256","kid":"a","x":"` + offCurve + `","y":"` + y + `"}`),
		"short x":           set(`{"kty":"EC","crv":"P-256","kid":"a","x":"` + x[1:] + `","y":"` + y + `"}`),
		"padded x":          set(`{"kty":"EC","crv":"P-256","kid":"a","x":"` + x + `=","y":"` + y + `"}`),
	} {
		if _, err := ParseJWKS(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// jwksServer serves a JWKS that can change, counting requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, ks ...keys.SigningKey) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.set(t, ks...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, ks ...keys.SigningKey) {
	data, err := JWKS(ks)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = data
	s.mu.Unlock()
}

func (s *jwksServer) fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestRemoteKeySet(t *testing.T) {
	k1, k2 := newSigningKey(t, 1), newSigningKey(t, 2)
	srv := newJWKSServer(t, k1)
	clk := &clock{t: testNow}
	rks := NewRemoteKeySet(RemoteKeySetOptions{
		URL: srv.URL, Client: srv.Client(), MaxAge: time.Hour, MinInterval: 30 * time.Second, Now: clk.now,
	})
	ctx := context.Background()

	if pub, ok := rks.PublicKey(ctx, k1.KID()); !ok || !pub.Equal(&k1.Private.PublicKey) {
		t.Fatal("first lookup did not fetch k1")
	}
	if hits := srv.hits.Load(); hits != 1 {
		t.Fatalf("%d fetches, want 1", hits)
	}
	// Known kid: from the cache.
	for range 10 {
		rks.PublicKey(ctx, k1.KID())
	}
	// Random unknown kids: at most one fetch per MinInterval.
	for i := range 100 {
		if _, ok := rks.PublicKey(ctx, "random-"+itoa(int64(i))); ok {
			t.Fatal("unknown kid found")
		}
	}
	if hits := srv.hits.Load(); hits != 1 {
		t.Fatalf("%d fetches after unknown kids within MinInterval, want 1", hits)
	}
	// Rotation: the issuer publishes k2; after MinInterval an unknown kid
	// fetches again and finds it.
	srv.set(t, k1, k2)
	if _, ok := rks.PublicKey(ctx, k2.KID()); ok {
		t.Fatal("refetched within MinInterval")
	}
	clk.add(31 * time.Second)
	if _, ok := rks.PublicKey(ctx, k2.KID()); !ok {
		t.Fatal("k2 not found after MinInterval")
	}
	if hits := srv.hits.Load(); hits != 2 {
		t.Fatalf("%d fetches, want 2", hits)
	}
	// A failing server does not lose the cached keys, even when stale.
	srv.fail(http.StatusInternalServerError)
	clk.add(2 * time.Hour)
	if _, ok := rks.PublicKey(ctx, k1.KID()); !ok {
		t.Fatal("cached key lost when the refetch failed")
	}
	if hits := srv.hits.Load(); hits != 3 {
		t.Fatalf("%d fetches, want 3 (stale set refetched)", hits)
	}
	// A stale set is refetched: a key removed by the issuer goes away.
	srv.fail(http.StatusOK)
	srv.set(t, k2)
	clk.add(2 * time.Hour)
	if _, ok := rks.PublicKey(ctx, k1.KID()); ok {
		t.Fatal("removed key still used after MaxAge")
	}
	// Refresh ignores the rate limit.
	before := srv.hits.Load()
	if err := rks.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.hits.Load() != before+1 {
		t.Fatal("Refresh did not fetch")
	}
}

func TestRemoteKeySetConcurrentLookupsShareOneFetch(t *testing.T) {
	k := newSigningKey(t, 1)
	release := make(chan struct{})
	var hits atomic.Int32
	data, _ := JWKS([]keys.SigningKey{k})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		w.Write(data)
	}))
	defer srv.Close()
	rks := NewRemoteKeySet(RemoteKeySetOptions{URL: srv.URL, Client: srv.Client()})
	var wg sync.WaitGroup
	var found atomic.Int32
	for range 20 {
		wg.Go(func() {
			if _, ok := rks.PublicKey(context.Background(), k.KID()); ok {
				found.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if hits.Load() != 1 || found.Load() != 20 {
		t.Fatalf("hits %d, found %d; want 1, 20", hits.Load(), found.Load())
	}
	// A caller that gives up does not wait for the fetch.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rks.Refresh(ctx); err == nil {
		t.Log("refresh finished before the cancelled context was seen")
	}
}

func TestRemoteKeySetRefusesOversizeBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[` + strings.Repeat(" ", MaxJWKSBytes) + `]}`))
	}))
	defer srv.Close()
	rks := NewRemoteKeySet(RemoteKeySetOptions{URL: srv.URL, Client: srv.Client()})
	if err := rks.Refresh(context.Background()); err == nil {
		t.Fatal("oversize JWKS accepted")
	}
}
