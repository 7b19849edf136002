// Package local is Gatehouse's development keyring: the pepper and the JWT
// signing key as files in one directory.
//
//	dir/            mode 0700, created by Init
//	  pepper.v1       base64 of 32 random bytes, mode 0600
//	  pepper.v2       …
//	  signing.v1.pem  ECDSA P-256 private key, SEC 1 PEM ("EC PRIVATE KEY"), 0600
//
// A new file is written to a temporary file in the same directory, synced,
// and then published under its final name by a hard link, which is atomic
// like a rename but never replaces an existing version: a crash leaves at
// worst a stray ".tmp-*" file (which Load ignores), never half a key, and two
// concurrent rotations cannot both claim the same version.
//
// It is for development only: production keys live in Vault (keys/transit).
package local

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gatehouse-id/gatehouse/keys"
)

// SigningKeyName is the Name of local signing keys, so local JWT kids look
// like "gatehouse-local-signing-v1" and never match production ones.
const SigningKeyName = "gatehouse-local-signing"

// PepperBytes is the size of the peppers Init and Rotate create.
const PepperBytes = 32

// ErrInsecurePermissions is wrapped by Load's error when a key file (or the
// directory) is open to group or others.
var ErrInsecurePermissions = errors.New("insecure permissions")

const (
	dirMode  = 0o700
	tmpGlob  = ".tmp-*"
	maxFile  = 64 << 10
	maxTries = 16 // attempts at claiming the next version under contention
)

// Source is a keyring directory. It is safe for concurrent use, also by
// several processes.
type Source struct {
	dir string
}

var _ keys.Source = (*Source)(nil)

// New returns the keyring in dir. Nothing is read or created until Load,
// Init or Rotate.
func New(dir string) *Source { return &Source{dir: dir} }

// Dir is the keyring's directory.
func (s *Source) Dir() string { return s.dir }

func fileName(p keys.Purpose, v int) string {
	if p == keys.PurposePepper {
		return fmt.Sprintf("pepper.v%d", v)
	}
	return fmt.Sprintf("signing.v%d.pem", v)
}

// parseName recognises a key file name.
func parseName(name string) (keys.Purpose, int, bool) {
	var p keys.Purpose
	var v string
	if rest, ok := strings.CutPrefix(name, "pepper.v"); ok {
		p, v = keys.PurposePepper, rest
	} else if rest, ok := strings.CutPrefix(name, "signing.v"); ok {
		if v, ok = strings.CutSuffix(rest, ".pem"); !ok {
			return "", 0, false
		}
		p = keys.PurposeSigning
	} else {
		return "", 0, false
	}
	n, err := keys.ParseVersion(v)
	if err != nil {
		return "", 0, false
	}
	return p, n, true
}

// versions lists the key files present, by purpose. A missing directory is
// no versions.
func (s *Source) versions() (map[keys.Purpose][]int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	out := map[keys.Purpose][]int{}
	for _, e := range entries {
		if p, v, ok := parseName(e.Name()); ok {
			out[p] = append(out[p], v)
		}
	}
	return out, nil
}

func notInitialized(format string, args ...any) error {
	return fmt.Errorf("local keyring: "+format+": %w", append(args, keys.ErrNotInitialized)...)
}

// Load reads every version of both keys. It refuses a missing or empty
// keyring (run `gatehouse keys init`), and key files or a directory open to
// group or others.
func (s *Source) Load(ctx context.Context) (*keys.Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notInitialized("directory %s does not exist", s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	if err := checkDir(s.dir, fi); err != nil {
		return nil, err
	}
	found, err := s.versions()
	if err != nil {
		return nil, err
	}
	switch {
	case len(found[keys.PurposePepper]) == 0 && len(found[keys.PurposeSigning]) == 0:
		return nil, notInitialized("no keys in %s", s.dir)
	case len(found[keys.PurposePepper]) == 0:
		return nil, notInitialized("no pepper (pepper.v1) in %s", s.dir)
	case len(found[keys.PurposeSigning]) == 0:
		return nil, notInitialized("no signing key (signing.v1.pem) in %s", s.dir)
	}
	set := &keys.Set{}
	for _, v := range found[keys.PurposePepper] {
		path := filepath.Join(s.dir, fileName(keys.PurposePepper, v))
		data, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		key, err := keys.ParsePepper(string(data))
		if err != nil {
			return nil, fmt.Errorf("local keyring: %s: %w", path, err)
		}
		set.Peppers = append(set.Peppers, keys.Secret{Version: v, Key: key})
	}
	for _, v := range found[keys.PurposeSigning] {
		path := filepath.Join(s.dir, fileName(keys.PurposeSigning, v))
		data, err := readKeyFile(path)
		if err != nil {
			return nil, err
		}
		priv, err := keys.ParseSigningKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("local keyring: %s: %w", path, err)
		}
		set.Signing = append(set.Signing, keys.SigningKey{Name: SigningKeyName, Version: v, Private: priv})
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("local keyring %s: %w", s.dir, err)
	}
	return set, nil
}

// checkDir refuses a directory others could write to: they could swap keys.
func checkDir(dir string, fi fs.FileInfo) error {
	if !fi.IsDir() {
		return fmt.Errorf("local keyring: %s is not a directory", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("local keyring: directory %s is writable by group or others (mode %#o); run `chmod 700 %s`: %w",
			dir, fi.Mode().Perm(), dir, ErrInsecurePermissions)
	}
	return nil
}

// readKeyFile reads a key file, checking the permissions of the very file it
// reads.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("local keyring: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("local keyring: key file %s is readable or writable by group or others (mode %#o); refusing to use it: run `chmod 600 %s`: %w",
			path, perm, path, ErrInsecurePermissions)
	}
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("local keyring: key file %s is larger than %d bytes", path, maxFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	return data, nil
}

// Init creates the directory (0700) and version 1 of each key that has no
// version yet. Existing keys are left alone.
func (s *Source) Init(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("local keyring: %w", err)
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("local keyring: %w", err)
	}
	if err := checkDir(s.dir, fi); err != nil {
		return err
	}
	found, err := s.versions()
	if err != nil {
		return err
	}
	for _, p := range []keys.Purpose{keys.PurposePepper, keys.PurposeSigning} {
		if len(found[p]) > 0 {
			continue
		}
		data, err := newMaterial(p)
		if err != nil {
			return err
		}
		// Another Init may have won the race: then version 1 exists, as wanted.
		if err := s.publish(fileName(p, 1), data); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// Rotate adds version n+1 of a key, which becomes the current one.
func (s *Source) Rotate(ctx context.Context, p keys.Purpose) error {
	if p != keys.PurposePepper && p != keys.PurposeSigning {
		return fmt.Errorf("local keyring: unknown key purpose %q", p)
	}
	data, err := newMaterial(p)
	if err != nil {
		return err
	}
	for range maxTries {
		if err := ctx.Err(); err != nil {
			return err
		}
		found, err := s.versions()
		if err != nil {
			return err
		}
		if len(found[p]) == 0 {
			return notInitialized("no %s key in %s to rotate", p, s.dir)
		}
		next := 1
		for _, v := range found[p] {
			next = max(next, v+1)
		}
		err = s.publish(fileName(p, next), data)
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		// A concurrent rotation took that version: try the next one.
	}
	return fmt.Errorf("local keyring: could not rotate %s in %s: too many concurrent rotations", p, s.dir)
}

func newMaterial(p keys.Purpose) ([]byte, error) {
	if p == keys.PurposePepper {
		key := make([]byte, PepperBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("local keyring: %w", err)
		}
		return []byte(keys.EncodePepper(key) + "\n"), nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local keyring: %w", err)
	}
	return keys.EncodeSigningKeyPEM(priv)
}

// publish writes data to name in the keyring atomically, failing with an
// error matching fs.ErrExist if name exists.
func (s *Source) publish(name string, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, tmpGlob) // mode 0600
	if err != nil {
		return fmt.Errorf("local keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("local keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("local keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("local keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("local keyring: %w", err)
	}
	final := filepath.Join(s.dir, name)
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("local keyring: %s exists: %w", final, fs.ErrExist)
		}
		return fmt.Errorf("local keyring: publishing %s: %w", final, err)
	}
	// Make the new name durable.
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
