package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// legacyUser is one line of the import and the password that goes with it.
type legacyUser struct {
	name, email, password string
	fast                  bool
}

// legacyVectors turns every committed source-system vector into an import
// line (testdata/README.md in app/legacyhash says how each was made).
func legacyVectors(t *testing.T) ([]legacyUser, []byte) {
	t.Helper()
	raw, err := os.ReadFile("../../app/legacyhash/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Encoded []struct {
			Name, Password, Encoded string
		} `json:"encoded"`
		Digests []struct {
			Name, Password string
			Digest         map[string]string `json:"digest"`
		} `json:"digests"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var users []legacyUser
	var lines bytes.Buffer
	add := func(name, pw string, password any, fast bool) {
		if pw == "" || strings.ContainsRune(pw, 0) || len(pw) > 512 {
			return // not something a login form can send
		}
		u := legacyUser{name: name, email: fmt.Sprintf("legacy%d@example.org", len(users)), password: pw, fast: fast}
		line, _ := json.Marshal(map[string]any{"email": u.email, "external_id": "old-" + name, "password": password})
		lines.Write(append(line, '\n'))
		users = append(users, u)
	}
	for _, e := range v.Encoded {
		h, err := legacyhash.Parse(e.Encoded)
		if err != nil {
			continue // over a cost cap on purpose; the legacyhash tests cover it
		}
		add(e.Name, e.Password, map[string]string{"hash": e.Encoded}, h.Fast())
	}
	for _, d := range v.Digests {
		add(d.Name, d.Password, d.Digest, true)
	}
	return users, lines.Bytes()
}

func TestImportEveryLegacyFormatThenUpgradeAtLogin(t *testing.T) {
	env := with(testEnv(t), "GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")
	users, lines := legacyVectors(t)
	if len(users) < 20 {
		t.Fatalf("only %d vectors", len(users))
	}
	// A malformed line among them is reported by number; the others go in.
	bad := append([]byte(`{"email":"broken@example.org","password":{"hash":"$2y$99$nonsense"}}`+"\n"), lines...)
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"users", "import", file}, lookup(env), nil, &out, &errb)
	if err == nil || !strings.Contains(errb.String(), "line 1: ") {
		t.Fatalf("import with a bad line: err %v\n%s", err, errb.String())
	}
	// Importing again changes nothing.
	out.Reset()
	errb.Reset()
	_ = run(context.Background(), []string{"users", "import", "--no-checkpoint", file}, lookup(env), nil, &out, &errb)
	if !strings.Contains(out.String(), "0 imported") {
		t.Fatalf("second import: %s", out.String())
	}
	report := runCmd(t, env, "users", "protect-legacy")
	if !strings.Contains(report, "wrapped") {
		t.Fatalf("protect-legacy: %s", report)
	}

	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	credentialOf := func(email string) auth.Credential {
		t.Helper()
		entry, err := db.LookupEmail(context.Background(), auth.EmailHash(email))
		if err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		_, c, err := db.UserWithCredential(context.Background(), entry.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// No fast hash sits unwrapped in the database any more.
	for _, u := range users {
		c := credentialOf(u.email)
		if u.fast && c.Kind != auth.CredentialWrapped {
			t.Errorf("%s: a fast legacy hash is stored as %q after protect-legacy", u.name, c.Kind)
		}
		if !u.fast && c.Kind != auth.CredentialLegacy {
			t.Errorf("%s: a slow legacy hash is stored as %q", u.name, c.Kind)
		}
	}

	s := startServer(t, env)
	for i, u := range users {
		ip := fmt.Sprintf("10.%d.%d.1", i/200, i%200)
		body := func(pw, device string) string {
			b, _ := json.Marshal(map[string]string{"email": u.email, "password": pw, "device_token": device})
			return string(b)
		}
		// A wrong password differs in its first character: bcrypt ignores
		// everything past 72 bytes, so an appended one would be the same.
		wrong := "#" + u.password[1:]
		if u.password[0] == '#' {
			wrong = "%" + u.password[1:]
		}
		resp, first := loginFrom(t, s.URL, ip, body(u.password, ""))
		if resp.StatusCode != 200 {
			t.Errorf("%s: first login: %d %v", u.name, resp.StatusCode, first)
			continue
		}
		device, _ := first["device_token"].(string)
		c := credentialOf(u.email)
		if c.Kind != auth.CredentialArgon2id || !strings.Contains(c.Hash, "$argon2id$v=19$m=19456,t=2,p=1,pv=1$") {
			t.Errorf("%s: after the first login the credential is %s %.40s", u.name, c.Kind, c.Hash)
		}
		if resp, b := loginFrom(t, s.URL, ip, body(u.password, device)); resp.StatusCode != 200 {
			t.Errorf("%s: second login (plain Argon2id): %d %v", u.name, resp.StatusCode, b)
		}
		if resp, b := loginFrom(t, s.URL, ip, body(wrong, device)); resp.StatusCode != 401 {
			t.Errorf("%s: wrong password: %d %v", u.name, resp.StatusCode, b)
		}
		events, _ := db.Events(context.Background(), credentialUser(t, db, u.email))
		migrated := 0
		for _, e := range events {
			if e.Kind == auth.EventCredentialUpgrade {
				migrated++
			}
		}
		if migrated != 1 {
			t.Errorf("%s: %d credential.migrated events, want 1", u.name, migrated)
		}
	}

	// The admin endpoint imports too, and reports bad lines by number.
	resp, rep := call(t, "POST", s.URL+"/admin/v1/users/import",
		strings.NewReader(`{"email":"admin-import@example.org","password":{"algorithm":"sha1","hash":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8","encoding":"hex"}}`+"\n"+`{"email":"nope"}`+"\n"),
		bearer(env["GATEHOUSE_ADMIN_TOKEN"])...)
	if resp.StatusCode != 200 || rep["imported"].(float64) != 1 || len(rep["rejected"].([]any)) != 1 {
		t.Fatalf("admin import: %d %v", resp.StatusCode, rep)
	}
	if resp, b := loginFrom(t, s.URL, "10.99.0.1", `{"email":"admin-import@example.org","password":"password"}`); resp.StatusCode != 200 {
		t.Fatalf("login after the admin import: %d %v", resp.StatusCode, b)
	}
}

func credentialUser(t *testing.T, db *store.DB, email string) uuid.UUID {
	t.Helper()
	entry, err := db.LookupEmail(context.Background(), auth.EmailHash(email))
	if err != nil {
		t.Fatal(err)
	}
	return entry.UserID
}

// --concurrency is checked like --batch-size, and an import with several
// batches in flight stores every line once: a second run, one batch at a
// time, finds every user unchanged.
func TestImportConcurrencyFlag(t *testing.T) {
	env := testEnv(t)
	var lines strings.Builder
	for i := range 40 {
		fmt.Fprintf(&lines, `{"email":"c%d@example.org","external_id":"c-%d"}`+"\n", i%37, i%37) // three repeats
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"0", "-1", "17"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"users", "import", "--concurrency", bad, file}, lookup(env), nil, &out, &errb)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--concurrency") {
			t.Fatalf("--concurrency %s: %v", bad, err)
		}
	}
	out := runCmd(t, env, "users", "import", "--concurrency", "4", "--batch-size", "3", file)
	if !strings.Contains(out, "40 lines, 37 imported, 0 updated, 3 unchanged, 0 rejected") {
		t.Fatalf("import: %s", out)
	}
	out = runCmd(t, env, "users", "import", "--concurrency", "1", "--no-checkpoint", file)
	if !strings.Contains(out, "40 lines, 0 imported, 0 updated, 40 unchanged") {
		t.Fatalf("second import: %s", out)
	}
}
