package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
)

// importAttempts bounds how often ImportUsers starts again when a
// concurrent writer (a sign-up, a login) took a key between its reads and
// its writes.
const importAttempts = 5

// errImportRaced: a write of the batch affected fewer rows than its reads
// predicted; the batch is read and written again.
var errImportRaced = errors.New("store: import raced with a concurrent write")

// ImportUsers upserts a batch of imported users with a fixed number of
// multi-row statements, whatever the batch size: one read-only transaction
// that looks the batch's users up (two lookups), then one transaction of at
// most five writes.
//
// Each record is matched to an existing user by external_id, else by its
// email hash in the directory; the records are applied in order, so a later
// record for the same user sees the earlier one. Unmatched records create a
// user, its directory entry and its credential (Imported). A matched user
// (Updated when something changed, else Unchanged) gets:
//   - email_verified raised to true when the record says so (never lowered);
//   - the record's external_id when it has none (a user matched by email
//     whose external_id differs from the record's is Rejected);
//   - the record's credential, unless the stored one is argon2id (the user
//     has logged in since: re-importing must not roll the password back),
//     the same legacy hash, or a wrapped hash of the same recipe (the same
//     source hash, protected by protect-legacy); a record without a
//     password never removes a credential.
//
// Email and home region of an existing user are never changed.
//
// The lookups run in a snapshot of their own, outside the writing
// transaction, so that concurrent batches of one import do not hold
// predicate locks over each other's index pages (PostgreSQL's SERIALIZABLE
// would abort nearly every pair). Every write is therefore conditional on
// what the lookups saw: a new email, user or credential is inserted only
// if still absent, a changed user or credential is updated only if it
// still holds the values read. When a concurrent writer (a sign-up, a
// login, another batch) got in between, a write affects fewer rows than
// planned and the whole batch is looked up and written again.
func (db *DB) ImportUsers(ctx context.Context, region string, batch []importer.Record, now time.Time) (importer.Counts, error) {
	if err := checkImportBatch(batch); err != nil {
		return importer.Counts{}, fmt.Errorf("store: import users: %w", err)
	}
	var counts importer.Counts
	var err error
	for attempt := 1; attempt <= importAttempts; attempt++ {
		byExt, byEmail, lerr := db.lookupImportTargets(ctx, batch)
		if lerr != nil {
			err = mapError(lerr)
			if !isRetryable(lerr) || attempt == importAttempts {
				break
			}
			// CockroachDB may ask even a read-only transaction to retry.
			if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
				err = mapError(werr)
				break
			}
			continue
		}
		var touched []*importTarget
		counts, touched = foldImport(region, batch, byExt, byEmail)
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			return writeImport(ctx, tx, touched, now)
		})
		if !errors.Is(err, errImportRaced) {
			break
		}
		db.logger.DebugContext(ctx, "store: import raced with a concurrent write, retrying", "attempt", attempt)
		if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
			err = mapError(werr)
			break
		}
	}
	if err != nil {
		return importer.Counts{}, fmt.Errorf("store: import users: %w", err)
	}
	return counts, nil
}

// importTarget is a user a batch touches, as stored and as the batch leaves it.
type importTarget struct {
	id                  uuid.UUID
	homeRegion          string
	externalID          string
	verified            bool
	cred                *auth.Credential // as the batch leaves it; nil: none
	isNew, missing      bool             // created by this batch; directory entry without user
	userDirty, credDone bool             // users row / credential to write
	listed              bool             // in the batch's list of targets to write
	rec                 *importer.Record // the record that created it
	// As the lookup read them: the writes are conditional on them.
	storedExt      string
	storedVerified bool
	storedCred     *auth.Credential
}

// foldImport applies the batch in order to the users the lookup found:
// what to count, and the targets to write. It only reads and changes
// targets, so a retry starts from a fresh lookup.
func foldImport(region string, batch []importer.Record, byExt, byEmail map[string]*importTarget) (importer.Counts, []*importTarget) {
	var c importer.Counts
	var touched []*importTarget
	for i := range batch {
		r := &batch[i]
		t := byExt[r.User.ExternalID]
		if r.User.ExternalID == "" || t == nil {
			t = byEmail[string(r.EmailHash)]
		}
		switch {
		case t == nil:
			t = newImportTarget(r, region)
			byEmail[string(r.EmailHash)] = t
			if t.externalID != "" {
				byExt[t.externalID] = t
			}
			touched = append(touched, t)
			c.Imported++
			continue
		case t.missing:
			c.Rejected = append(c.Rejected, importer.Rejection{Line: r.Line, Error: "the email directory names a user that does not exist"})
			continue
		case r.User.ExternalID != "" && t.externalID != "" && t.externalID != r.User.ExternalID:
			c.Rejected = append(c.Rejected, importer.Rejection{Line: r.Line, Error: "the email belongs to a user with another external_id"})
			continue
		}
		changed := false
		if r.User.EmailVerified && !t.verified {
			t.verified, t.userDirty, changed = true, true, true
		}
		if r.User.ExternalID != "" && t.externalID == "" {
			t.externalID, t.userDirty, changed = r.User.ExternalID, true, true
			byExt[t.externalID] = t
		}
		if r.Credential != nil && replacesCredential(t.cred, r.Credential) {
			t.cred, t.credDone, changed = r.Credential, true, true
		}
		if !changed {
			c.Unchanged++
			continue
		}
		if !t.listed {
			t.listed = true
			touched = append(touched, t)
		}
		c.Updated++
	}
	// New users in email-hash order (changed ones in id order): two
	// imports inserting some of the same emails at once take them in the
	// same order, so one waits for the other instead of deadlocking.
	slices.SortFunc(touched, func(a, b *importTarget) int {
		if a.isNew != b.isNew {
			return cmp.Compare(b2i(a.isNew), b2i(b.isNew))
		}
		if a.isNew {
			return bytes.Compare(a.rec.EmailHash, b.rec.EmailHash)
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	return c, touched
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newImportTarget(r *importer.Record, region string) *importTarget {
	t := &importTarget{id: r.User.ID, homeRegion: r.User.HomeRegion, externalID: r.User.ExternalID,
		verified: r.User.EmailVerified, cred: r.Credential, isNew: true, listed: true, rec: r}
	if t.homeRegion == "" {
		t.homeRegion = region
	}
	if r.Credential != nil {
		t.credDone = true
	}
	return t
}

// replacesCredential reports whether an imported credential next should
// replace the stored one (nil: none).
func replacesCredential(stored, next *auth.Credential) bool {
	switch {
	case stored == nil:
		return true
	case stored.Kind == auth.CredentialArgon2id:
		return false
	case stored.Kind == auth.CredentialWrapped:
		return !sameRecipe(stored.Recipe, next.Recipe)
	}
	return stored.Kind != next.Kind || stored.Hash != next.Hash
}

// sameRecipe compares two stored recipes by value (JSONB reorders keys).
func sameRecipe(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ra, rb legacyhash.Recipe
	if json.Unmarshal(a, &ra) != nil || json.Unmarshal(b, &rb) != nil {
		return bytes.Equal(a, b)
	}
	return ra == rb
}

// lookupImportTargets reads the users the batch names, by external id and
// by email hash, with their credentials, in one read-only snapshot.
// REPEATABLE READ, not SERIALIZABLE: on PostgreSQL a read-only snapshot
// takes no predicate locks, which concurrent batches would conflict on (on
// CockroachDB it is SERIALIZABLE or snapshot isolation, both fine here).
func (db *DB) lookupImportTargets(ctx context.Context, batch []importer.Record) (map[string]*importTarget, map[string]*importTarget, error) {
	exts := make([]string, 0, len(batch))
	hashes := make([][]byte, 0, len(batch))
	for i := range batch {
		if batch[i].User.ExternalID != "" {
			exts = append(exts, batch[i].User.ExternalID)
		}
		hashes = append(hashes, batch[i].EmailHash)
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // read only: nothing to commit
	byID := make(map[uuid.UUID]*importTarget, len(batch))
	byExt := make(map[string]*importTarget, len(exts))
	byEmail := make(map[string]*importTarget, len(batch))
	if len(exts) > 0 {
		rows, err := tx.Query(ctx, `SELECT u.id, u.home_region, u.external_id, u.email_verified, c.kind, c.hash, c.recipe
			FROM users u LEFT JOIN credentials c ON c.user_id = u.id
			WHERE u.external_id = ANY($1::TEXT[])`, exts)
		if err != nil {
			return nil, nil, err
		}
		if err := scanTargets(rows, byID, false, func(t *importTarget, _ []byte) { byExt[t.externalID] = t }); err != nil {
			return nil, nil, err
		}
	}
	rows, err := tx.Query(ctx, `SELECT u.id, u.home_region, u.external_id, u.email_verified, c.kind, c.hash, c.recipe,
			d.email_hash, d.user_id
		FROM email_directory d LEFT JOIN users u ON u.id = d.user_id LEFT JOIN credentials c ON c.user_id = u.id
		WHERE d.email_hash = ANY($1::BYTEA[])`, hashes)
	if err != nil {
		return nil, nil, err
	}
	if err := scanTargets(rows, byID, true, func(t *importTarget, h []byte) { byEmail[string(h)] = t }); err != nil {
		return nil, nil, err
	}
	return byExt, byEmail, nil
}

// scanTargets reads user-with-credential rows (optionally followed by an
// email hash and the directory's user id) into targets, one per user id.
func scanTargets(rows pgx.Rows, byID map[uuid.UUID]*importTarget, withDir bool, put func(*importTarget, []byte)) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id                *uuid.UUID
			region, ext, kind *string
			hash              *string
			verified          *bool
			recipe, emailHash []byte
			dirUser           uuid.UUID
		)
		dest := []any{&id, &region, &ext, &verified, &kind, &hash, &recipe}
		if withDir {
			dest = append(dest, &emailHash, &dirUser)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if id == nil { // a directory entry whose user is gone
			put(&importTarget{id: dirUser, missing: true}, emailHash)
			continue
		}
		t := byID[*id]
		if t == nil {
			t = &importTarget{id: *id, homeRegion: *region, verified: *verified}
			if ext != nil {
				t.externalID = *ext
			}
			if kind != nil {
				t.cred = &auth.Credential{UserID: *id, HomeRegion: *region, Kind: *kind, Hash: *hash, Recipe: recipe}
			}
			t.storedExt, t.storedVerified, t.storedCred = t.externalID, t.verified, t.cred
			byID[*id] = t
		}
		put(t, emailHash)
	}
	return rows.Err()
}

// writeImport writes what the fold decided, each kind of write in one
// multi-row statement: new directory entries and users; changed users;
// credentials where the user had none; changed credentials. Each write is
// conditional on the lookup's reading, so a statement that affects fewer
// rows than decided means a concurrent writer got in first:
// errImportRaced.
func writeImport(ctx context.Context, tx pgx.Tx, touched []*importTarget, now time.Time) error {
	var (
		newIDs, updIDs, insIDs, setIDs    [][16]byte
		newHashes                         [][]byte
		newRegions, newEmails, insRegions []string
		insKinds, insHashes               []string
		setKinds, setHashes               []string
		setWasKinds, setWasHashes         []string
		newExts, updExts, updWasExts      []*string
		insRecipes, setRecipes            []*string
		newVerified, updVerified, updWasV []bool
		newCreated                        []time.Time
	)
	for _, t := range touched {
		if t.isNew {
			newIDs = append(newIDs, t.id)
			newHashes = append(newHashes, t.rec.EmailHash)
			newRegions = append(newRegions, t.homeRegion)
			newEmails = append(newEmails, t.rec.User.Email)
			newVerified = append(newVerified, t.verified)
			newExts = append(newExts, strOrNil(t.externalID))
			newCreated = append(newCreated, orTime(t.rec.User.CreatedAt, now))
		} else if t.userDirty {
			updIDs = append(updIDs, t.id)
			updVerified = append(updVerified, t.verified)
			updExts = append(updExts, strOrNil(t.externalID))
			updWasV = append(updWasV, t.storedVerified)
			updWasExts = append(updWasExts, strOrNil(t.storedExt))
		}
		switch {
		case !t.credDone || t.cred == nil:
		case t.storedCred == nil:
			insIDs = append(insIDs, t.id)
			insRegions = append(insRegions, t.homeRegion)
			insKinds = append(insKinds, t.cred.Kind)
			insHashes = append(insHashes, t.cred.Hash)
			insRecipes = append(insRecipes, strOrNil(string(t.cred.Recipe)))
		default:
			setIDs = append(setIDs, t.id)
			setKinds = append(setKinds, t.cred.Kind)
			setHashes = append(setHashes, t.cred.Hash)
			setRecipes = append(setRecipes, strOrNil(string(t.cred.Recipe)))
			setWasKinds = append(setWasKinds, t.storedCred.Kind)
			setWasHashes = append(setWasHashes, t.storedCred.Hash)
		}
	}
	// [16]byte, not uuid.UUID: pgx encodes it as binary UUID directly,
	// where uuid.UUID's driver.Valuer would go through its text form.
	exec := func(want int, sql string, args ...any) error {
		if want == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(want) {
			return errImportRaced
		}
		return nil
	}
	if err := exec(len(newIDs), `INSERT INTO email_directory (email_hash, user_id, home_region, created_at)
		SELECT t.h, t.id, t.r, $4 FROM unnest($1::BYTEA[], $2::UUID[], $3::TEXT[]) AS t(h, id, r)
		ON CONFLICT (email_hash) DO NOTHING`, newHashes, newIDs, newRegions, now); err != nil {
		return err
	}
	if err := exec(len(newIDs), `INSERT INTO users (id, home_region, email, email_verified, external_id, status,
			must_change_password, created_at, updated_at)
		SELECT t.id, t.r, t.e, t.v, t.x, 'active', false, t.c, $7
		FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[], $4::BOOL[], $5::TEXT[], $6::TIMESTAMPTZ[]) AS t(id, r, e, v, x, c)
		ON CONFLICT DO NOTHING`, newIDs, newRegions, newEmails, newVerified, newExts, newCreated, now); err != nil {
		return err
	}
	if err := exec(len(updIDs), `UPDATE users AS u SET email_verified = t.v, external_id = t.x, updated_at = $6
		FROM unnest($1::UUID[], $2::BOOL[], $3::TEXT[], $4::BOOL[], $5::TEXT[]) AS t(id, v, x, wv, wx)
		WHERE u.id = t.id AND u.email_verified = t.wv AND u.external_id IS NOT DISTINCT FROM t.wx`,
		updIDs, updVerified, updExts, updWasV, updWasExts, now); err != nil {
		return err
	}
	if err := exec(len(insIDs), `INSERT INTO credentials (user_id, home_region, kind, hash, recipe, created_at, updated_at)
		SELECT t.id, t.r, t.k, t.h, t.j::JSONB, $6, $6
		FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) AS t(id, r, k, h, j)
		ON CONFLICT (user_id) DO NOTHING`, insIDs, insRegions, insKinds, insHashes, insRecipes, now); err != nil {
		return err
	}
	return exec(len(setIDs), `UPDATE credentials AS c SET kind = t.k, hash = t.h, recipe = t.j::JSONB, updated_at = $7
		FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) AS t(id, k, h, j, wk, wh)
		WHERE c.user_id = t.id AND c.kind = t.wk AND c.hash = t.wh AND c.kind <> 'argon2id'`,
		setIDs, setKinds, setHashes, setRecipes, setWasKinds, setWasHashes, now)
}

// strOrNil is NULL for the empty string.
func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checkImportBatch refuses records the fold cannot use.
func checkImportBatch(batch []importer.Record) error {
	for i := range batch {
		r := &batch[i]
		if r.User.ID == uuid.Nil || len(r.EmailHash) == 0 || r.User.Email == "" {
			return errs.Invalid("invalid_import_record", fmt.Sprintf("import record of line %d lacks an id, email or email hash", r.Line))
		}
	}
	return nil
}
