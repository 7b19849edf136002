package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// openImportDB is a migrated database of the test's own.
func openImportDB(t *testing.T, maxConns int32) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, storetest.NewDatabase(t), Options{MaxConns: maxConns, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	ms, err := LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		t.Fatal(err)
	}
	return db
}

// importRecords parses import lines into a batch.
func importRecords(t *testing.T, lines ...string) []importer.Record {
	t.Helper()
	p := &importer.LineParser{Region: "us-east1", Now: time.Now()}
	out := make([]importer.Record, len(lines))
	for i, l := range lines {
		r, err := p.Parse([]byte(l), int64(i+1))
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out[i] = r
	}
	return out
}

// userByEmail reads the user and credential an email leads to.
func userByEmail(t *testing.T, db *DB, email string) (auth.User, auth.Credential) {
	t.Helper()
	e, err := db.LookupEmail(context.Background(), auth.EmailHash(email))
	if err != nil {
		t.Fatalf("lookup %s: %v", email, err)
	}
	u, c, err := db.UserWithCredential(context.Background(), e.UserID)
	if err != nil {
		t.Fatal(err)
	}
	return u, c
}

const (
	md5A = `{"algorithm":"md5","encoding":"hex","hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`
	md5B = `{"algorithm":"md5","encoding":"hex","hash":"0d107d09f5bbe40cade3de5c71e9e9b7"}`
)

// The lookup of a batch runs outside the transaction that writes it, so
// every write must be conditional on what the lookup saw. Each case looks
// a batch up, lets another writer in, then writes: the write must report
// the race (not write over the other writer), and the retried import must
// take the other writer's change into account.
func TestImportWritesAreConditionalOnTheLookup(t *testing.T) {
	db := openImportDB(t, 0)
	ctx := context.Background()
	now := time.Now().UTC()
	argon := func(id uuid.UUID) auth.Credential {
		return auth.Credential{UserID: id, HomeRegion: "us-east1", Kind: auth.CredentialArgon2id,
			Hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$" + id.String(), CreatedAt: now}
	}
	importOK := func(lines ...string) importer.Counts {
		t.Helper()
		c, err := db.ImportUsers(ctx, "us-east1", importRecords(t, lines...), now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		before  []string // imported first
		batch   string
		between func(t *testing.T)
		want    importer.Counts
		check   func(t *testing.T)
	}{{
		name:  "email signed up meanwhile",
		batch: `{"email":"n1@example.com","password":` + md5A + `}`,
		between: func(t *testing.T) {
			id := uuid.New()
			u := auth.User{ID: id, HomeRegion: "us-east1", Email: "n1@example.com", CreatedAt: now}
			if err := db.CreateUser(ctx, u, auth.EmailHash(u.Email), argon(id)); err != nil {
				t.Fatal(err)
			}
		},
		want: importer.Counts{Unchanged: 1},
		check: func(t *testing.T) {
			if _, c := userByEmail(t, db, "n1@example.com"); c.Kind != auth.CredentialArgon2id {
				t.Fatalf("the sign-up's password was replaced: %+v", c)
			}
		},
	}, {
		name:    "external_id taken meanwhile",
		batch:   `{"email":"e1@example.com","external_id":"ext-e"}`,
		between: func(*testing.T) { importOK(`{"email":"e2@example.com","external_id":"ext-e"}`) },
		want:    importer.Counts{Unchanged: 1},
		check: func(t *testing.T) {
			if _, err := db.LookupEmail(ctx, auth.EmailHash("e1@example.com")); err == nil {
				t.Fatal("a directory entry was made for the email of a user matched by external_id")
			}
		},
	}, {
		name:   "user verified meanwhile",
		before: []string{`{"email":"u1@example.com"}`},
		batch:  `{"email":"u1@example.com","external_id":"ext-u","email_verified":true}`,
		between: func(t *testing.T) {
			if _, err := db.pool.Exec(ctx, `UPDATE users SET email_verified = true WHERE email = 'u1@example.com'`); err != nil {
				t.Fatal(err)
			}
		},
		want: importer.Counts{Updated: 1},
		check: func(t *testing.T) {
			if u, _ := userByEmail(t, db, "u1@example.com"); u.ExternalID != "ext-u" || !u.EmailVerified {
				t.Fatalf("u1: %+v", u)
			}
		},
	}, {
		name:   "password set meanwhile",
		before: []string{`{"email":"c1@example.com"}`},
		batch:  `{"email":"c1@example.com","password":` + md5A + `}`,
		between: func(t *testing.T) {
			u, _ := userByEmail(t, db, "c1@example.com")
			c := argon(u.ID)
			if _, err := db.pool.Exec(ctx, `INSERT INTO credentials (user_id, home_region, kind, hash, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $5)`, c.UserID, c.HomeRegion, c.Kind, c.Hash, now); err != nil {
				t.Fatal(err)
			}
		},
		want: importer.Counts{Unchanged: 1},
		check: func(t *testing.T) {
			if _, c := userByEmail(t, db, "c1@example.com"); c.Kind != auth.CredentialArgon2id {
				t.Fatalf("the password set meanwhile was replaced: %+v", c)
			}
		},
	}, {
		name:   "logged in (rehashed) meanwhile",
		before: []string{`{"email":"l1@example.com","password":` + md5A + `}`},
		batch:  `{"email":"l1@example.com","password":` + md5B + `}`,
		between: func(t *testing.T) {
			u, c := userByEmail(t, db, "l1@example.com")
			if ok, err := db.ReplaceCredential(ctx, c.Hash, argon(u.ID), nil); err != nil || !ok {
				t.Fatalf("rehash: %v %v", ok, err)
			}
		},
		want: importer.Counts{Unchanged: 1},
		check: func(t *testing.T) {
			if _, c := userByEmail(t, db, "l1@example.com"); c.Kind != auth.CredentialArgon2id {
				t.Fatalf("the login's rehash was rolled back: %+v", c)
			}
		},
	}, {
		name:   "wrapped by protect-legacy meanwhile",
		before: []string{`{"email":"w1@example.com","password":` + md5A + `}`},
		batch:  `{"email":"w1@example.com","password":` + md5B + `}`,
		between: func(t *testing.T) {
			u, c := userByEmail(t, db, "w1@example.com")
			next := auth.Credential{UserID: u.ID, HomeRegion: u.HomeRegion, Kind: auth.CredentialWrapped,
				Hash: "$argon2id$wrapped-" + u.ID.String(), Recipe: c.Recipe, CreatedAt: now}
			if ok, err := db.WrapCredential(ctx, c.Hash, next); err != nil || !ok {
				t.Fatalf("wrap: %v %v", ok, err)
			}
		},
		want: importer.Counts{Unchanged: 1}, // a wrapped hash of the same recipe stays
		check: func(t *testing.T) {
			if _, c := userByEmail(t, db, "w1@example.com"); c.Kind != auth.CredentialWrapped {
				t.Fatalf("the wrapped credential was replaced: %+v", c)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.before) > 0 {
				importOK(tc.before...)
			}
			batch := importRecords(t, tc.batch)
			byExt, byEmail, err := db.lookupImportTargets(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			_, touched := foldImport("us-east1", batch, byExt, byEmail)
			tc.between(t)
			err = db.inTx(ctx, func(tx pgx.Tx) error { return writeImport(ctx, tx, touched, now) })
			if !errors.Is(err, errImportRaced) {
				t.Fatalf("a write over the other writer's change: %v", err)
			}
			if got := importOK(tc.batch); got.Imported != tc.want.Imported || got.Updated != tc.want.Updated ||
				got.Unchanged != tc.want.Unchanged || len(got.Rejected) != 0 {
				t.Fatalf("retried import counted %+v, want %+v", got, tc.want)
			}
			tc.check(t)
		})
	}
}

// Four imports of the same 400 users, in batches of 100 taken in different
// orders, run at once: each user is stored exactly once, nothing fails or
// deadlocks, and over the four imports each user counts once as Imported
// and three times as Unchanged.
func TestConcurrentImportsOfTheSameUsers(t *testing.T) {
	db := openImportDB(t, 16)
	ctx := context.Background()
	now := time.Now().UTC()
	const users, per, imports = 400, 100, 4
	lines := make([]string, users)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"email":"same%d@example.com","external_id":"same-%d","password":%s}`, i, i, md5A)
	}
	var mu sync.Mutex
	var total importer.Counts
	var wg sync.WaitGroup
	errc := make(chan error, imports*users/per)
	for g := range imports {
		var batches [][]importer.Record
		for k := range users / per {
			from := ((k+g)%(users/per))*per + g*per/imports // rotated and shifted: overlapping batches
			var batch []string
			for i := range per {
				batch = append(batch, lines[(from+i)%users])
			}
			batches = append(batches, importRecords(t, batch...))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range batches {
				c, err := db.ImportUsers(ctx, "us-east1", batch, now)
				errc <- err
				mu.Lock()
				total.Imported += c.Imported
				total.Updated += c.Updated
				total.Unchanged += c.Unchanged
				total.Rejected = append(total.Rejected, c.Rejected...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if total.Imported != users || total.Unchanged != (imports-1)*users || total.Updated != 0 || len(total.Rejected) != 0 {
		t.Fatalf("counted %+v", total)
	}
	for _, q := range []string{"SELECT count(*) FROM users", "SELECT count(DISTINCT external_id) FROM users",
		"SELECT count(*) FROM email_directory d JOIN users u ON u.id = d.user_id",
		"SELECT count(*) FROM credentials c JOIN users u ON u.id = c.user_id"} {
		var n int
		if err := db.pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != users {
			t.Fatalf("%s = %d, want %d", q, n, users)
		}
	}
}
