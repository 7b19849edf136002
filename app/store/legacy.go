package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// ClaimLegacyBatch returns up to limit credentials of kind legacy whose
// user id is above afterUserID, in user id order (keyset pagination over
// the partial index credentials_legacy_idx). It locks nothing: the caller
// swaps each one with WrapCredential, whose compare-and-swap makes several
// processes walking the same rows safe.
func (db *DB) ClaimLegacyBatch(ctx context.Context, afterUserID uuid.UUID, limit int) ([]auth.Credential, error) {
	if limit <= 0 {
		return nil, errs.Invalid("invalid_limit", "limit must be positive")
	}
	rows, err := db.pool.Query(ctx, `SELECT user_id, home_region, kind, hash, recipe, created_at, updated_at
		FROM credentials WHERE kind = 'legacy' AND user_id > $1
		ORDER BY user_id LIMIT $2`, afterUserID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim legacy batch: %w", mapError(err))
	}
	creds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.Credential, error) {
		var c auth.Credential
		var recipe []byte
		err := r.Scan(&c.UserID, &c.HomeRegion, &c.Kind, &c.Hash, &recipe, &c.CreatedAt, &c.UpdatedAt)
		c.Recipe = recipe
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim legacy batch: %w", mapError(err))
	}
	return creds, nil
}

// WrapCredential replaces the credential of next.UserID by next (kind
// wrapped) only if it is still of kind legacy with hash oldHash, and
// reports whether it did. A user who logged in (argon2id), changed their
// password or was wrapped by another process meanwhile is left alone.
func (db *DB) WrapCredential(ctx context.Context, oldHash string, next auth.Credential) (bool, error) {
	if next.Kind != auth.CredentialWrapped || next.Hash == "" || len(next.Recipe) == 0 {
		return false, errs.Invalid("invalid_credential", "a wrapped credential needs a hash and a recipe")
	}
	var swapped bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE credentials SET kind = $3, hash = $4, recipe = $5, updated_at = $6
			WHERE user_id = $1 AND hash = $2 AND kind = 'legacy'`,
			next.UserID, oldHash, next.Kind, next.Hash, jsonOrNull(next.Recipe), orTime(next.UpdatedAt, next.CreatedAt))
		if err != nil {
			return err
		}
		swapped = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: wrap credential: %w", err)
	}
	return swapped, nil
}
