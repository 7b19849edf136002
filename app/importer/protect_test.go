package importer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/keys"
)

// fakeHasher is a cheap stand-in for the Argon2id hasher.
type fakeHasher struct{ calls *atomic.Int64 }

func (f fakeHasher) Hash(_ context.Context, secret []byte) (string, error) {
	if f.calls != nil {
		f.calls.Add(1)
	}
	sum := sha256.Sum256(secret)
	return "$fake$" + hex.EncodeToString(sum[:]), nil
}

// credRow is a credentials row as the test reads it back.
type credRow struct {
	user, kind, hash string
	recipe           []byte
}

func allCredentials(t *testing.T, pool *pgxpool.Pool) []credRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT user_id::text, kind, hash, recipe FROM credentials ORDER BY user_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []credRow
	for rows.Next() {
		var c credRow
		if err := rows.Scan(&c.user, &c.kind, &c.hash, &c.recipe); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// assertNoFastLegacy checks that no md5/sha-x digest is stored unwrapped,
// and returns how many rows are wrapped and slow legacy.
func assertNoFastLegacy(t *testing.T, pool *pgxpool.Pool) (wrapped, slow int) {
	t.Helper()
	for _, c := range allCredentials(t, pool) {
		switch c.kind {
		case auth.CredentialLegacy:
			h, err := legacyhash.Parse(c.hash)
			if err != nil {
				t.Fatalf("user %s: legacy hash does not parse: %v", c.user, err)
			}
			if h.Fast() || strings.HasPrefix(c.hash, "{") {
				t.Fatalf("user %s: a fast %s digest is still stored unwrapped", c.user, h.Scheme())
			}
			slow++
		case auth.CredentialWrapped:
			var r legacyhash.Recipe
			if err := json.Unmarshal(c.recipe, &r); err != nil || r.Algorithm == "" {
				t.Fatalf("user %s: wrapped without a recipe (%s)", c.user, c.recipe)
			}
			if strings.Contains(c.hash, `"hash"`) {
				t.Fatalf("user %s: the digest is still in the hash column", c.user)
			}
			wrapped++
		default:
			t.Fatalf("user %s: unexpected kind %s", c.user, c.kind)
		}
	}
	return wrapped, slow
}

func importSynthetic(t *testing.T, im *importer.Importer, n int) (fast, slow int) {
	t.Helper()
	if _, err := im.Run(context.Background(), newSynth(0, n, nil), importer.Options{Region: "us-east1"}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		switch {
		case synthFast(i):
			fast++
		case synthHasPassword(i):
			slow++
		}
	}
	return fast, slow
}

func TestProtectLegacyWrapsEveryFastDigest(t *testing.T) {
	db, pool := openStore(t)
	fast, slow := importSynthetic(t, importer.New(db, nil, nil), 2000)
	var calls atomic.Int64
	var progress strings.Builder
	rep, err := importer.NewProtector(db, fakeHasher{&calls}, nil, nil).Run(context.Background(),
		importer.ProtectOptions{Workers: 3, BatchSize: 97, Progress: importer.NewProgressLabel(&progress, -1, false, "examined", "credentials")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Wrapped != int64(fast) || rep.Slow != int64(slow) || rep.Examined != int64(fast+slow) || calls.Load() != int64(fast) {
		t.Fatalf("report %+v (hashes %d), want %d fast, %d slow", rep, calls.Load(), fast, slow)
	}
	if w, s := assertNoFastLegacy(t, pool); w != fast || s != slow {
		t.Fatalf("%d wrapped, %d slow legacy rows; want %d, %d", w, s, fast, slow)
	}
	if !strings.Contains(progress.String(), fmt.Sprintf("done: examined %d credentials", fast+slow)) {
		t.Fatalf("progress: %q", progress.String())
	}
	// Running again (a restart) finds only the slow ones and hashes nothing.
	again, err := importer.NewProtector(db, fakeHasher{&calls}, nil, nil).Run(context.Background(), importer.ProtectOptions{})
	if err != nil || again.Wrapped != 0 || again.Examined != int64(slow) || calls.Load() != int64(fast) {
		t.Fatalf("second run %+v, %v (hashes %d)", again, err, calls.Load())
	}
}

func TestProtectLegacyInSeveralProcesses(t *testing.T) {
	db, pool := openStore(t)
	fast, slow := importSynthetic(t, importer.New(db, nil, nil), 1000)
	var wg sync.WaitGroup
	reps := make([]importer.ProtectReport, 3)
	errs := make([]error, 3)
	for k := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[k], errs[k] = importer.NewProtector(db, fakeHasher{}, nil, nil).Run(context.Background(), importer.ProtectOptions{Workers: 2, BatchSize: 50})
		}()
	}
	wg.Wait()
	var wrapped int64
	for k := range reps {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		wrapped += reps[k].Wrapped
	}
	if wrapped != int64(fast) {
		t.Fatalf("three processes wrapped %d credentials in all, want exactly %d (%+v)", wrapped, fast, reps)
	}
	if w, s := assertNoFastLegacy(t, pool); w != fast || s != slow {
		t.Fatalf("%d wrapped, %d slow; want %d, %d", w, s, fast, slow)
	}
}

func TestProtectLegacyWithRealHasher(t *testing.T) {
	db, pool := openStore(t)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pepper := make([]byte, 32)
	_, _ = rand.Read(pepper)
	ring := &keys.Set{Peppers: []keys.Secret{{Version: 1, Key: pepper}}, Signing: []keys.SigningKey{{Name: "test", Version: 1, Private: priv}}}
	if err := ring.Validate(); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}, ring, password.NewPool(0, 8, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		`{"email":"md5@example.com","password":` + digestPassword("md5", "pw md5", "", "", "hex") + `}`,
		`{"email":"sha1@example.com","password":` + digestPassword("sha1", "pw sha1", "NaCl", "prefix", "base64") + `}`,
		`{"email":"sha256@example.com","password":` + digestPassword("sha256", "pw sha256", "NaCl", "suffix", "hex") + `}`,
		`{"email":"sha512@example.com","password":` + digestPassword("sha512", "pw sha512", "", "", "base64") + `}`,
		`{"email":"bcrypt@example.com","password":{"hash":"` + slowHashes[0] + `"}}`,
	}
	runLines(t, importer.New(db, nil, nil), lines...)
	rep, err := importer.NewProtector(db, hasher, nil, nil).Run(context.Background(), importer.ProtectOptions{})
	if err != nil || rep.Wrapped != 4 || rep.Slow != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	if w, s := assertNoFastLegacy(t, pool); w != 4 || s != 1 {
		t.Fatalf("%d wrapped, %d slow", w, s)
	}
	// What the login path does with a wrapped credential: derive the legacy
	// digest from the password, then verify it against the Argon2id hash.
	for _, alg := range []string{"md5", "sha1", "sha256", "sha512"} {
		_, c := userCred(t, db, alg+"@example.com")
		var r legacyhash.Recipe
		if err := json.Unmarshal(c.Recipe, &r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Hash, "$argon2id$v=19$m=19456,t=2,p=1,pv=1$") {
			t.Fatalf("%s: wrapped hash %q", alg, c.Hash)
		}
		for pw, want := range map[string]bool{"pw " + alg: true, "wrong": false} {
			digest, err := legacyhash.RecipeDerive(r, []byte(pw))
			if err != nil {
				t.Fatal(err)
			}
			res, err := hasher.Verify(context.Background(), digest, c.Hash)
			if err != nil || res.OK != want {
				t.Fatalf("%s: password %q verified %v (%v), want %v", alg, pw, res.OK, err, want)
			}
		}
	}
}
