package store

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// rotateUnusedSQL redeems an unused refresh token in one statement: it
// reads the token with its session and user (presented), keeps it only if
// decide would rotate it (redeemable), marks it used and inserts its
// successor (written), touches a stale last_seen_at (seen), and answers the
// row it read, as it was before the writes, with the number of rows
// written.
//
// The token's two rows are written by one INSERT … ON CONFLICT DO UPDATE:
// the presented token conflicts with itself and is updated, the successor
// is inserted. CockroachDB refuses two modifications of one table in a
// statement, so an UPDATE and an INSERT could not share it. The DO UPDATE
// only ever touches the presented token's row; any other conflict leaves
// its row alone and shows as fewer rows written.
//
// Parameters: $1 presented hash, $2 client, $3 now, $4 successor hash,
// $5 successor created_at, $6 successor expires_at (capped at the
// session's here), $7 the last_seen_at older than which it is rewritten,
// $8 the active user status.
var rotateUnusedSQL = `WITH presented AS (
	SELECT rt.session_id AS token_session_id, rt.user_id AS token_user_id, rt.home_region AS token_home_region,
		rt.created_at AS token_created_at, rt.client_id AS token_client_id, rt.expires_at AS token_expires_at,
		rt.used_at AS token_used_at, ` + aliased(sessionColumns) + `, ` + aliased(userColumns) + `
	FROM refresh_tokens rt
	JOIN sessions s ON s.id = rt.session_id
	JOIN users u ON u.id = s.user_id
	WHERE rt.token_hash = $1
), redeemable AS (
	SELECT * FROM presented
	WHERE token_used_at IS NULL AND token_client_id = $2 AND s_client_id = $2 AND token_expires_at > $3
		AND s_revoked_at IS NULL AND s_expires_at > $3 AND u_status = $8
), written AS (
	INSERT INTO refresh_tokens (token_hash, session_id, user_id, home_region, client_id, created_at, expires_at,
		used_at, replaced_by)
	SELECT $1::BYTEA, token_session_id, token_user_id, token_home_region, token_client_id, token_created_at,
		token_expires_at, $3::TIMESTAMPTZ, $4::BYTEA
	FROM redeemable
	UNION ALL
	SELECT $4::BYTEA, s_id, s_user_id, s_home_region, s_client_id, $5::TIMESTAMPTZ,
		LEAST($6::TIMESTAMPTZ, s_expires_at), NULL, NULL
	FROM redeemable
	ON CONFLICT (token_hash) DO UPDATE SET used_at = excluded.used_at, replaced_by = excluded.replaced_by
		WHERE refresh_tokens.token_hash = $1::BYTEA
	RETURNING 1
), seen AS (
	UPDATE sessions SET last_seen_at = $3::TIMESTAMPTZ
	WHERE id IN (SELECT s_id FROM redeemable) AND last_seen_at <= $7::TIMESTAMPTZ
	RETURNING 1
)
SELECT token_client_id, token_expires_at, token_used_at, ` + unqualified(sessionColumns) + `, ` + unqualified(userColumns) + `,
	(SELECT count(*) FROM written), (SELECT count(*) FROM seen)
FROM presented`

// errRotationRules means rotateUnusedSQL and decide disagreed on a token:
// a defect, reported rather than answered as a guess.
var errRotationRules = errors.New("store: the rotation statement and the rotation rules disagree")

// rotateUnused redeems an unused token in one round trip (BEGIN, the
// statement and COMMIT travel together). done is false when the token was
// used already: the grace window and reuse are rotateInTx's.
func (db *DB) rotateUnused(ctx context.Context, r auth.Rotation) (res auth.RotationResult, done bool, err error) {
	var (
		found          bool
		tok            presentedToken
		sr             sessionRow
		ur             userRow
		written, seen  int64
		staleLastSeen  = r.Now.Add(-lastSeenResolution)
		successorUntil = r.Next.ExpiresAt
	)
	dest := append([]any{&tok.clientID, &tok.expiresAt, &tok.usedAt}, append(sr.dest(), ur.dest()...)...)
	dest = append(dest, &written, &seen)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		found = false
		b := &pgx.Batch{}
		b.Queue(rotateUnusedSQL, r.PresentedHash, r.ClientID, r.Now, r.Next.Hash, r.Next.CreatedAt, successorUntil,
			staleLastSeen, auth.StatusActive).QueryRow(func(row pgx.Row) error {
			err := row.Scan(dest...)
			if isNoRows(err) {
				return nil
			}
			found = err == nil
			return err
		})
		return commitWith(ctx, tx, b)
	})
	if err != nil {
		return auth.RotationResult{}, false, err
	}
	if !found {
		return auth.RotationResult{Outcome: auth.RotationInvalid}, true, nil
	}
	sess, user := sr.session(), ur.user()
	step := decide(tok, sess, user, r)
	if (step == stepRotate) != (written == 2) || (step != stepRotate && seen != 0) {
		return auth.RotationResult{}, false, errRotationRules
	}
	switch step {
	case stepRotate:
		if seen == 1 {
			sess.LastSeenAt = r.Now
		}
		return auth.RotationResult{Outcome: auth.RotationRotated, Session: sess, User: user}, true, nil
	case stepExpired:
		return auth.RotationResult{Outcome: auth.RotationExpired}, true, nil
	case stepInvalid:
		return auth.RotationResult{Outcome: auth.RotationInvalid}, true, nil
	}
	return auth.RotationResult{}, false, nil
}

// aliased turns a column list such as sessionColumns ("s.id, s.user_id")
// into one with unique names ("s.id AS s_id, s.user_id AS s_user_id"), for
// a CTE that joins tables whose columns share names.
func aliased(columns string) string {
	cols := splitColumns(columns)
	for i, c := range cols {
		cols[i] = c + " AS " + strings.ReplaceAll(c, ".", "_")
	}
	return strings.Join(cols, ", ")
}

// unqualified names the columns aliased gave: "s_id, s_user_id".
func unqualified(columns string) string {
	cols := splitColumns(columns)
	for i, c := range cols {
		cols[i] = strings.ReplaceAll(c, ".", "_")
	}
	return strings.Join(cols, ", ")
}

func splitColumns(columns string) []string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}
