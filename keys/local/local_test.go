package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/keys"
)

func versions(s *keys.Set) (peppers, signing []int) {
	for _, p := range s.Peppers {
		peppers = append(peppers, p.Version)
	}
	for _, k := range s.Signing {
		signing = append(signing, k.Version)
	}
	return
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func initialised(t *testing.T) (*Source, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keyring")
	s := New(dir)
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestInitCreatesKeyringAndLoad(t *testing.T) {
	s, dir := initialised(t)
	if p := perm(t, dir); p != 0o700 {
		t.Errorf("directory mode %#o, want 0700", p)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if p := perm(t, filepath.Join(dir, e.Name())); p != 0o600 {
			t.Errorf("%s mode %#o, want 0600", e.Name(), p)
		}
	}
	if !slices.Equal(names, []string{"pepper.v1", "signing.v1.pem"}) {
		t.Errorf("files %v, want pepper.v1 and signing.v1.pem", names)
	}
	pem, _ := os.ReadFile(filepath.Join(dir, "signing.v1.pem"))
	if !bytes.HasPrefix(pem, []byte("-----BEGIN EC PRIVATE KEY-----\n")) {
		t.Errorf("signing.v1.pem is not SEC 1 PEM")
	}

	set, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p, g := versions(set)
	if !slices.Equal(p, []int{1}) || !slices.Equal(g, []int{1}) {
		t.Fatalf("versions %v %v, want one of each", p, g)
	}
	if n := len(set.Pepper().Key); n != PepperBytes {
		t.Errorf("pepper is %d bytes, want %d", n, PepperBytes)
	}
	if kid := set.Signer().KID(); kid != "gatehouse-local-signing-v1" {
		t.Errorf("kid %q", kid)
	}
}

func TestInitIdempotent(t *testing.T) {
	s, dir := initialised(t)
	before, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if p, g := versions(after); len(p) != 1 || len(g) != 1 {
		t.Fatalf("versions after re-Init: %v %v", p, g)
	}
	if !bytes.Equal(before.Pepper().Key, after.Pepper().Key) || !before.Signer().Private.Equal(after.Signer().Private) {
		t.Fatal("re-Init changed the keys")
	}
	// A keyring missing only one chain gets only that one.
	if err := os.Remove(filepath.Join(dir, "signing.v1.pem")); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	again, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Pepper().Key, again.Pepper().Key) || before.Signer().Private.Equal(again.Signer().Private) {
		t.Fatal("Init did not recreate just the missing signing key")
	}
}

func TestConcurrentInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keyring")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := New(dir).Init(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	set, err := New(dir).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if p, g := versions(set); len(p) != 1 || len(g) != 1 {
		t.Fatalf("versions after concurrent Inits: %v %v", p, g)
	}
}

func TestRotate(t *testing.T) {
	s, dir := initialised(t)
	before, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(t.Context(), keys.PurposePepper); err != nil {
		t.Fatal(err)
	}
	set, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p, g := versions(set)
	if !slices.Equal(p, []int{1, 2}) || !slices.Equal(g, []int{1}) {
		t.Fatalf("versions %v %v after rotating the pepper", p, g)
	}
	if v1, ok := set.PepperVersion(1); !ok || !bytes.Equal(v1.Key, before.Pepper().Key) {
		t.Fatal("pepper v1 missing or changed")
	}
	if set.Pepper().Version != 2 || bytes.Equal(set.Pepper().Key, before.Pepper().Key) {
		t.Fatal("pepper v2 not current or equal to v1")
	}
	if p := perm(t, filepath.Join(dir, "pepper.v2")); p != 0o600 {
		t.Errorf("pepper.v2 mode %#o", p)
	}

	for range 2 {
		if err := s.Rotate(t.Context(), keys.PurposeSigning); err != nil {
			t.Fatal(err)
		}
	}
	set, err = s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if kid := set.Signer().KID(); kid != "gatehouse-local-signing-v3" {
		t.Fatalf("signer %s, want v3", kid)
	}
	if k, ok := set.SigningKeyByKID("gatehouse-local-signing-v1"); !ok || !k.Private.Equal(before.Signer().Private) {
		t.Fatal("signing v1 missing or changed")
	}
	// A gap (a version deleted by hand) does not make Rotate reuse a number.
	if err := os.Remove(filepath.Join(dir, "signing.v2.pem")); err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(t.Context(), keys.PurposeSigning); err != nil {
		t.Fatal(err)
	}
	set, _ = s.Load(t.Context())
	if _, g := versions(set); !slices.Equal(g, []int{1, 3, 4}) {
		t.Fatalf("signing versions %v, want [1 3 4]", g)
	}
	if err := s.Rotate(t.Context(), keys.Purpose("tls")); err == nil {
		t.Fatal("rotated an unknown purpose")
	}
}

func TestRotateBeforeInit(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "nothing"))
	if err := s.Rotate(t.Context(), keys.PurposePepper); !errors.Is(err, keys.ErrNotInitialized) {
		t.Fatalf("Rotate before Init: %v", err)
	}
}

func TestLoadRefusesUninitialised(t *testing.T) {
	empty := t.TempDir()
	if err := os.Chmod(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{
		"missing directory": filepath.Join(empty, "nope"),
		"empty directory":   empty,
	} {
		_, err := New(dir).Load(t.Context())
		if !errors.Is(err, keys.ErrNotInitialized) {
			t.Errorf("%s: %v, want ErrNotInitialized", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "gatehouse keys init") || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: unhelpful error %q", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Error("Load created the directory")
	}

	// Half a keyring.
	s, dir := initialised(t)
	os.Remove(filepath.Join(dir, "pepper.v1"))
	if _, err := s.Load(t.Context()); !errors.Is(err, keys.ErrNotInitialized) || !strings.Contains(err.Error(), "no pepper") {
		t.Errorf("keyring without a pepper: %v", err)
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644} {
		s, dir := initialised(t)
		file := filepath.Join(dir, "signing.v1.pem")
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(t.Context())
		if !errors.Is(err, ErrInsecurePermissions) {
			t.Errorf("mode %#o: %v, want ErrInsecurePermissions", mode, err)
			continue
		}
		if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %#o: error %q does not name the file and the fix", mode, err)
		}
		if strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("error quotes the key")
		}
	}

	s, dir := initialised(t)
	if err := os.Chmod(filepath.Join(dir, "pepper.v1"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); err != nil {
		t.Errorf("read-only owner file refused: %v", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); !errors.Is(err, ErrInsecurePermissions) || !strings.Contains(err.Error(), dir) {
		t.Errorf("world-writable directory: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); err != nil {
		t.Errorf("0755 directory with 0600 files refused: %v", err)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	s, dir := initialised(t)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Stray files, including a temporary file left by a crash, are ignored.
	write(".tmp-123456", "half a key")
	write("README", "hello")
	write("pepper.v01", "ignored: not a canonical version")
	write("signing.v2.pem.bak", "ignored")
	if _, err := s.Load(t.Context()); err != nil {
		t.Fatalf("stray files broke Load: %v", err)
	}

	secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	write("pepper.v2", secret+"!!")
	_, err := s.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "pepper.v2")) {
		t.Fatalf("bad pepper: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("error quotes the pepper")
	}
	write("pepper.v2", "c2hvcnQ=\n") // "short"
	if _, err := s.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "pepper version 2 is 5 bytes") {
		t.Fatalf("short pepper: %v", err)
	}
	os.Remove(filepath.Join(dir, "pepper.v2"))

	write("signing.v2.pem", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n")
	if _, err := s.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "signing.v2.pem") {
		t.Fatalf("bad signing key: %v", err)
	}
	os.Remove(filepath.Join(dir, "signing.v2.pem"))

	if err := os.Mkdir(filepath.Join(dir, "pepper.v3"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory as key: %v", err)
	}
}

// Loads running during rotations always see a complete, valid keyring: a new
// version appears whole or not at all. Concurrent rotations never claim the
// same version.
func TestLoadDuringRotate(t *testing.T) {
	s, _ := initialised(t)
	const rotations = 24
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	for range 4 {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				set, err := New(s.Dir()).Load(context.Background())
				if err != nil {
					t.Errorf("Load during Rotate: %v", err)
					return
				}
				n := len(set.Peppers) + len(set.Signing)
				if n < last {
					t.Errorf("versions went from %d to %d", last, n)
					return
				}
				last = n
			}
		})
	}
	var rot sync.WaitGroup
	for i := range 3 {
		rot.Go(func() {
			for j := range rotations / 3 {
				p := keys.PurposePepper
				if (i+j)%2 == 1 {
					p = keys.PurposeSigning
				}
				if err := New(s.Dir()).Rotate(context.Background(), p); err != nil {
					t.Errorf("Rotate: %v", err)
				}
			}
		})
	}
	rot.Wait()
	close(done)
	wg.Wait()

	set, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p, g := versions(set)
	if len(p)+len(g) != 2+rotations {
		t.Fatalf("%d+%d versions after %d rotations, want %d", len(p), len(g), rotations, 2+rotations)
	}
	for i, v := range p {
		if v != i+1 {
			t.Fatalf("pepper versions %v are not 1..n", p)
		}
	}
	for i, v := range g {
		if v != i+1 {
			t.Fatalf("signing versions %v are not 1..n", g)
		}
	}
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := initialised(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Load(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Load: %v", err)
	}
	if err := s.Init(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Init: %v", err)
	}
	if err := s.Rotate(ctx, keys.PurposePepper); !errors.Is(err, context.Canceled) {
		t.Errorf("Rotate: %v", err)
	}
}

// The Ring refreshes from a local keyring like from Vault.
func TestRingWithLocalKeyring(t *testing.T) {
	s, _ := initialised(t)
	r, err := keys.NewRing(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(t.Context(), keys.PurposeSigning); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if kid := r.Signer().KID(); kid != "gatehouse-local-signing-v2" {
		t.Fatalf("signer %s", kid)
	}
}
