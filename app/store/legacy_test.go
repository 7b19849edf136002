package store_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// Compile-time proof that the store implements the importer's ports.
var (
	_ importer.Store       = (*store.DB)(nil)
	_ importer.LegacyStore = (*store.DB)(nil)
)

func TestClaimLegacyBatchAndWrapCredential(t *testing.T) {
	f := newFixture(t, 0)
	for i := range 5 {
		u, h, c := f.newUser(fmt.Sprintf("legacy%d@example.com", i))
		if i < 4 {
			c.Kind, c.Hash = auth.CredentialLegacy, fmt.Sprintf(`{"algorithm":"md5","encoding":"hex","hash":"%032d"}`, i)
		}
		if err := f.db.CreateUser(f.ctx, u, h, c); err != nil {
			t.Fatal(err)
		}
	}
	var seen []auth.Credential
	for after := uuid.Nil; ; {
		page, err := f.db.ClaimLegacyBatch(f.ctx, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		after = page[len(page)-1].UserID
	}
	if len(seen) != 4 {
		t.Fatalf("claimed %d legacy credentials, want 4 (the argon2id one is not legacy)", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1].UserID.String() >= seen[i].UserID.String() || seen[i].Kind != auth.CredentialLegacy {
			t.Fatalf("pages not in user id order or not legacy: %+v", seen)
		}
	}
	c := seen[0]
	next := auth.Credential{UserID: c.UserID, HomeRegion: c.HomeRegion, Kind: auth.CredentialWrapped, Hash: "$argon2id$wrapped",
		Recipe: json.RawMessage(`{"algorithm":"md5","encoding":"hex"}`), CreatedAt: c.CreatedAt, UpdatedAt: f.now}
	if ok, err := f.db.WrapCredential(f.ctx, "not the stored hash", next); ok || err != nil {
		t.Fatalf("swap with a stale hash: %v %v", ok, err)
	}
	if ok, err := f.db.WrapCredential(f.ctx, c.Hash, next); !ok || err != nil {
		t.Fatalf("swap: %v %v", ok, err)
	}
	if ok, err := f.db.WrapCredential(f.ctx, c.Hash, next); ok || err != nil {
		t.Fatalf("a second swap must not happen: %v %v", ok, err)
	}
	if n := f.count(`SELECT count(*) FROM credentials WHERE kind = 'wrapped' AND recipe->>'algorithm' = 'md5'`); n != 1 {
		t.Fatalf("%d wrapped rows", n)
	}
	if _, err := f.db.WrapCredential(f.ctx, c.Hash, auth.Credential{UserID: c.UserID, Kind: auth.CredentialArgon2id, Hash: "x"}); err == nil {
		t.Fatal("WrapCredential must only write wrapped credentials")
	}
}
