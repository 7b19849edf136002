package importer_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// openStore gives a test a migrated database of its own, through the store
// and through a raw pool for counting rows. It fails without PostgreSQL.
func openStore(t testing.TB) (*store.DB, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	url := storetest.NewDatabase(t)
	db, err := store.Open(ctx, url, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	migrations, err := store.LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return db, pool
}

// count runs a one-number query.
func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Slow hashes from app/legacyhash/testdata/vectors.json.
var slowHashes = []string{
	"$2y$05$RzFDRjqYkvX99vpxJm4HreXY7z53MUpHbDqkhxU.N5/bNzPk4rENm",
	"pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=",
	"$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$APVfdGnAKxzAbw4vJ6OxGA",
	"$6$rounds=5000$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
	"$scrypt$ln=8,r=8,p=1$A+A8RwjBGKP0vleKcS7FeA$9YA5+6Gq6bwdnrzm/EdLhWcWPnPrsiOvyK+cErd5KZc",
}

// digestPassword is the JSON password object of a raw digest of pw.
func digestPassword(alg, pw, salt, pos, encoding string) string {
	var sum []byte
	in := pw
	switch pos {
	case "prefix":
		in = salt + pw
	case "suffix":
		in = pw + salt
	}
	switch alg {
	case "md5":
		s := md5.Sum([]byte(in))
		sum = s[:]
	case "sha1":
		s := sha1.Sum([]byte(in))
		sum = s[:]
	case "sha256":
		s := sha256.Sum256([]byte(in))
		sum = s[:]
	case "sha512":
		s := sha512.Sum512([]byte(in))
		sum = s[:]
	}
	enc := hex.EncodeToString(sum)
	if encoding == "base64" {
		enc = base64.StdEncoding.EncodeToString(sum)
	}
	obj := fmt.Sprintf(`{"algorithm":%q,"encoding":%q,"hash":%q`, alg, encoding, enc)
	if salt != "" {
		obj += fmt.Sprintf(`,"salt":%q,"salt_position":%q`, salt, pos)
	}
	return obj + "}"
}

// synthLine is line i of a synthetic import: one kind of password in ten
// (four fast digests, five slow hashes, none), an external id on even lines.
func synthLine(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"email":"User%d@Example.com"`, i)
	if i%2 == 0 {
		fmt.Fprintf(&b, `,"external_id":"ext-%d"`, i)
	}
	if i%3 == 0 {
		b.WriteString(`,"email_verified":true,"created_at":"2021-06-01T12:00:00Z"`)
	}
	pw := fmt.Sprintf("pw-%d", i)
	switch i % 10 {
	case 0:
		fmt.Fprintf(&b, `,"password":%s`, digestPassword("md5", pw, "", "", "hex"))
	case 1:
		fmt.Fprintf(&b, `,"password":%s`, digestPassword("sha1", pw, fmt.Sprintf("s%d", i), "prefix", "base64"))
	case 2:
		fmt.Fprintf(&b, `,"password":%s`, digestPassword("sha256", pw, "salt", "suffix", "hex"))
	case 3:
		fmt.Fprintf(&b, `,"password":%s`, digestPassword("sha512", pw, "", "", "hex"))
	case 4, 5, 7, 8, 9:
		fmt.Fprintf(&b, `,"password":{"hash":%q}`, slowHashes[i%len(slowHashes)])
	}
	b.WriteString("}\n")
	return b.String()
}

// synthKind says what synthLine(i) holds.
func synthFast(i int) bool        { return i%10 <= 3 }
func synthHasPassword(i int) bool { return i%10 != 6 }

// synthReader streams lines from..to-1 of the synthetic import, with bad
// lines wherever bad returns a replacement.
type synthReader struct {
	next, end int
	bad       func(i int) (string, bool)
	buf       []byte
}

func newSynth(from, to int, bad func(int) (string, bool)) *synthReader {
	return &synthReader{next: from, end: to, bad: bad}
}

func (s *synthReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.next >= s.end {
			return 0, io.EOF
		}
		line := ""
		if s.bad != nil {
			if l, ok := s.bad(s.next); ok {
				line = l
			}
		}
		if line == "" {
			line = synthLine(s.next)
		}
		s.buf = append(s.buf, line...)
		s.next++
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
