package importer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/store"
)

func runLines(t *testing.T, im *importer.Importer, lines ...string) importer.Report {
	t.Helper()
	rep, err := im.Run(context.Background(), strings.NewReader(strings.Join(lines, "\n")), importer.Options{Region: "us-east1", BatchSize: 3})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

func userCred(t *testing.T, db *store.DB, email string) (auth.User, auth.Credential) {
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

func TestImportMatchesExistingUsers(t *testing.T) {
	db, pool := openStore(t)
	ctx := context.Background()
	im := importer.New(db, nil, nil)
	now := time.Now().UTC()

	// A user who signed up (or logged in after an import): argon2id.
	a := auth.User{ID: uuid.New(), HomeRegion: "europe-west1", Email: "a@example.com", Status: auth.StatusActive, CreatedAt: now, UpdatedAt: now}
	aCred := auth.Credential{UserID: a.ID, HomeRegion: a.HomeRegion, Kind: auth.CredentialArgon2id, Hash: "$argon2id$v=19$m=19456,t=2,p=1,pv=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", CreatedAt: now}
	if err := db.CreateUser(ctx, a, auth.EmailHash(a.Email), aCred); err != nil {
		t.Fatal(err)
	}
	md5pw := `{"algorithm":"md5","encoding":"hex","hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`
	bcrypt := `{"hash":"` + slowHashes[0] + `"}`
	pbkdf2 := `{"hash":"` + slowHashes[1] + `"}`

	rep := runLines(t, im,
		`{"email":"A@example.com","external_id":"a-1","email_verified":true,"password":`+md5pw+`}`, // links, verifies, keeps argon2id
		`{"email":"b@example.com","external_id":"b-1","password":`+bcrypt+`}`,                      // new
		`{"email":"b@example.com","email_verified":true,"password":`+pbkdf2+`}`,                    // same batch: updates b
		`{"email":"c@example.com","external_id":"c-1"}`,                                            // new, no password
		`{"email":"c@example.com","external_id":"c-2"}`,                                            // email of c-1: rejected
		`{"email":"renamed@example.com","external_id":"c-1","password":`+md5pw+`}`,                 // c-1 by external id
	)
	if rep.Imported != 2 || rep.Updated != 3 || rep.Unchanged != 0 || rep.RejectedCount != 1 ||
		rep.Rejected[0].Line != 5 || !strings.Contains(rep.Rejected[0].Error, "another external_id") {
		t.Fatalf("report %s %+v", rep, rep.Rejected)
	}
	ua, ca := userCred(t, db, "a@example.com")
	if ua.ExternalID != "a-1" || !ua.EmailVerified || ua.HomeRegion != "europe-west1" || ca.Kind != auth.CredentialArgon2id || ca.Hash != aCred.Hash {
		t.Fatalf("a: %+v %+v", ua, ca)
	}
	ub, cb := userCred(t, db, "b@example.com")
	if ub.ExternalID != "b-1" || !ub.EmailVerified || cb.Kind != auth.CredentialLegacy || cb.Hash != slowHashes[1] {
		t.Fatalf("b: %+v %+v", ub, cb)
	}
	uc, cc := userCred(t, db, "c@example.com")
	if uc.ExternalID != "c-1" || cc.Kind != auth.CredentialLegacy || !strings.Contains(cc.Hash, "5f4dcc3b") {
		t.Fatalf("c: %+v %+v", uc, cc)
	}
	if n := count(t, pool, "SELECT count(*) FROM users"); n != 3 {
		t.Fatalf("%d users, want 3", n)
	}

	// Again, with email_verified now false: nothing is lowered or changed.
	rep = runLines(t, im,
		`{"email":"a@example.com","external_id":"a-1","password":`+md5pw+`}`,
		`{"email":"b@example.com","external_id":"b-1","password":`+pbkdf2+`}`,
		`{"email":"renamed@example.com","external_id":"c-1","password":`+md5pw+`}`,
	)
	if rep.Imported != 0 || rep.Updated != 0 || rep.Unchanged != 3 {
		t.Fatalf("re-import: %s", rep)
	}
	if ub, _ := userCred(t, db, "b@example.com"); !ub.EmailVerified {
		t.Fatal("a re-import lowered email_verified")
	}

	// A wrapped credential is the same source hash protected: a re-import
	// of that hash leaves it; a new salt (a password changed at the source)
	// replaces it.
	if _, err := importer.NewProtector(db, fakeHasher{}, nil, nil).Run(ctx, importer.ProtectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, cc := userCred(t, db, "c@example.com"); cc.Kind != auth.CredentialWrapped {
		t.Fatalf("c was not wrapped: %+v", cc)
	}
	rep = runLines(t, im, `{"email":"c@example.com","external_id":"c-1","password":`+md5pw+`}`)
	if rep.Unchanged != 1 {
		t.Fatalf("re-import over a wrapped credential: %s", rep)
	}
	salted := `{"algorithm":"md5","encoding":"hex","salt":"s","salt_position":"prefix","hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`
	rep = runLines(t, im, `{"email":"c@example.com","external_id":"c-1","password":`+salted+`}`)
	if _, cc := userCred(t, db, "c@example.com"); rep.Updated != 1 || cc.Kind != auth.CredentialLegacy || !strings.Contains(cc.Hash, `"salt":"s"`) {
		t.Fatalf("a changed source hash did not replace the wrapped one: %s %+v", rep, cc)
	}
}
