package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/oidc"
)

const clientColumns = `id, name, confidential, first_party, secret_hash, previous_secret_hash, previous_secret_expires_at,
	redirect_uris, post_logout_redirect_uris, created_at, updated_at`

func clientDest(c *oidc.Client) []any {
	return []any{&c.ID, &c.Name, &c.Confidential, &c.FirstParty, &c.SecretHash, &c.PreviousSecretHash, &c.PreviousSecretExpiresAt,
		&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.CreatedAt, &c.UpdatedAt}
}

// CreateClient registers an OAuth client; a taken id is KindConflict.
func (db *DB) CreateClient(ctx context.Context, c oidc.Client) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO oauth_clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Name, c.Confidential, c.FirstParty, c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt,
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.CreatedAt, c.UpdatedAt)
	if e := mapError(err); errs.Is(e, errs.KindConflict) {
		return errs.Wrap(errs.KindConflict, "client_exists", "a client with this id exists", err)
	}
	if err != nil {
		return fmt.Errorf("store: create client: %w", mapError(err))
	}
	return nil
}

// Client reads one client; KindNotFound when there is none.
func (db *DB) Client(ctx context.Context, id string) (oidc.Client, error) {
	var c oidc.Client
	err := db.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = $1`, id).Scan(clientDest(&c)...)
	if err != nil {
		return oidc.Client{}, fmt.Errorf("store: client: %w", mapError(err))
	}
	return c, nil
}

// ListClients lists every client by id.
func (db *DB) ListClients(ctx context.Context) ([]oidc.Client, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+clientColumns+` FROM oauth_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list clients: %w", mapError(err))
	}
	defer rows.Close()
	var out []oidc.Client
	for rows.Next() {
		var c oidc.Client
		if err := rows.Scan(clientDest(&c)...); err != nil {
			return nil, fmt.Errorf("store: list clients: %w", mapError(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list clients: %w", mapError(err))
	}
	return out, nil
}

// SetClientSecret replaces a client's secret hashes.
func (db *DB) SetClientSecret(ctx context.Context, id string, secretHash, previousHash []byte, previousExpires *time.Time, now time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE oauth_clients SET secret_hash = $2, previous_secret_hash = $3,
		previous_secret_expires_at = $4, updated_at = $5 WHERE id = $1`, id, secretHash, previousHash, previousExpires, now)
	if err != nil {
		return fmt.Errorf("store: set client secret: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.KindNotFound, "not_found", "no such client")
	}
	return nil
}

// DeleteClient removes a client and the consents given to it.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM oauth_grants WHERE client_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete client: %w", mapError(err))
	}
	if n == 0 {
		return errs.E(errs.KindNotFound, "not_found", "no such client")
	}
	return nil
}

// CreateCode stores an authorization code (its hash).
func (db *DB) CreateCode(ctx context.Context, c oidc.Code) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, user_id, home_region,
			scope, nonce, code_challenge, auth_time, amr, acr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.Hash, c.ClientID, c.RedirectURI, c.UserID, c.HomeRegion, c.Scope, c.Nonce, c.CodeChallenge, c.AuthTime,
		joinAMR(c.AMR), c.ACR, c.CreatedAt, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create code: %w", mapError(err))
	}
	return nil
}

const codeColumns = `code_hash, client_id, redirect_uri, user_id, home_region, scope, nonce, code_challenge, auth_time,
	amr, acr, created_at, expires_at, used_at, session_id`

func scanCode(row pgx.Row) (oidc.Code, error) {
	var (
		c   oidc.Code
		amr string
		sid *uuid.UUID
	)
	err := row.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.UserID, &c.HomeRegion, &c.Scope, &c.Nonce, &c.CodeChallenge,
		&c.AuthTime, &amr, &c.ACR, &c.CreatedAt, &c.ExpiresAt, &c.UsedAt, &sid)
	c.AMR = splitAMR(amr)
	if sid != nil {
		c.SessionID = *sid
	}
	return c, err
}

// RedeemCode marks an unused code used by sessionID in one statement (so
// two concurrent redemptions cannot both succeed) and returns it with
// first true; a code used before comes back with first false.
func (db *DB) RedeemCode(ctx context.Context, hash []byte, sessionID uuid.UUID, now time.Time) (oidc.Code, bool, error) {
	c, err := scanCode(db.pool.QueryRow(ctx, `UPDATE authorization_codes SET used_at = $2, session_id = $3
		WHERE code_hash = $1 AND used_at IS NULL RETURNING `+codeColumns, hash, now, sessionID))
	if err == nil {
		return c, true, nil
	}
	if e := mapError(err); !errs.Is(e, errs.KindNotFound) {
		return oidc.Code{}, false, fmt.Errorf("store: redeem code: %w", e)
	}
	c, err = scanCode(db.pool.QueryRow(ctx, `UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, $2)
		WHERE code_hash = $1 RETURNING `+codeColumns, hash, now))
	if err != nil {
		return oidc.Code{}, false, fmt.Errorf("store: redeem code: %w", mapError(err))
	}
	return c, false, nil
}

// CodeReplayed reports whether a code was presented again after its first
// redemption.
func (db *DB) CodeReplayed(ctx context.Context, hash []byte) (bool, error) {
	var replayed bool
	err := db.pool.QueryRow(ctx, `SELECT replayed_at IS NOT NULL FROM authorization_codes WHERE code_hash = $1`, hash).Scan(&replayed)
	if err != nil {
		return false, fmt.Errorf("store: code replayed: %w", mapError(err))
	}
	return replayed, nil
}

// Grant reads a user's consent to a client.
func (db *DB) Grant(ctx context.Context, userID uuid.UUID, clientID string) (oidc.Grant, error) {
	var g oidc.Grant
	err := db.pool.QueryRow(ctx, `SELECT user_id, client_id, home_region, scope, created_at, updated_at
		FROM oauth_grants WHERE user_id = $1 AND client_id = $2`, userID, clientID).
		Scan(&g.UserID, &g.ClientID, &g.HomeRegion, &g.Scope, &g.CreatedAt, &g.UpdatedAt)
	if err != nil {
		return oidc.Grant{}, fmt.Errorf("store: grant: %w", mapError(err))
	}
	return g, nil
}

// SaveGrant creates or replaces a consent (keeping its creation time).
func (db *DB) SaveGrant(ctx context.Context, g oidc.Grant) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO oauth_grants (user_id, client_id, home_region, scope, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at`,
		g.UserID, g.ClientID, g.HomeRegion, g.Scope, g.CreatedAt, g.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store: save grant: %w", mapError(err))
	}
	return nil
}

// ListGrants lists a user's consents, oldest first.
func (db *DB) ListGrants(ctx context.Context, userID uuid.UUID) ([]oidc.Grant, error) {
	rows, err := db.pool.Query(ctx, `SELECT user_id, client_id, home_region, scope, created_at, updated_at
		FROM oauth_grants WHERE user_id = $1 ORDER BY created_at, client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list grants: %w", mapError(err))
	}
	defer rows.Close()
	var out []oidc.Grant
	for rows.Next() {
		var g oidc.Grant
		if err := rows.Scan(&g.UserID, &g.ClientID, &g.HomeRegion, &g.Scope, &g.CreatedAt, &g.UpdatedAt); err != nil {
			return nil, fmt.Errorf("store: list grants: %w", mapError(err))
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// DeleteGrant withdraws a consent; KindNotFound when there was none.
func (db *DB) DeleteGrant(ctx context.Context, userID uuid.UUID, clientID string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM oauth_grants WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	if err != nil {
		return fmt.Errorf("store: delete grant: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.KindNotFound, "not_found", "no such grant")
	}
	return nil
}
