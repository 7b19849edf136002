package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// The two statements of rotateUnused. They travel in one batch with BEGIN
// and COMMIT; the second finds the presented token by the successor hash
// the first wrote into replaced_by, so it inserts nothing unless the first
// rotated.
const (
	// rotateMarkSQL marks the presented token used if decide would rotate
	// it, and answers its client and expiry with its session and user.
	// $1 presented hash, $2 client, $3 now, $4 successor hash, $5 the
	// active user status.
	rotateMarkSQL = `UPDATE refresh_tokens rt SET used_at = $3, replaced_by = $4
	FROM sessions s, users u
	WHERE rt.token_hash = $1 AND s.id = rt.session_id AND u.id = s.user_id
		AND rt.used_at IS NULL AND rt.client_id = $2 AND s.client_id = $2 AND rt.expires_at > $3
		AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.status = $5
	RETURNING rt.client_id, rt.expires_at, ` + sessionColumns + `, ` + userColumns

	// rotateSuccessorSQL inserts the successor into the session's family,
	// its expiry capped at the session's (as refreshTokenArgs caps it).
	// $1 presented hash, $2 successor hash, $3 its created_at, $4 its
	// expires_at.
	rotateSuccessorSQL = `INSERT INTO refresh_tokens (token_hash, session_id, user_id, home_region, client_id,
		created_at, expires_at)
	SELECT $2::BYTEA, s.id, s.user_id, s.home_region, s.client_id, $3::TIMESTAMPTZ, LEAST($4::TIMESTAMPTZ, s.expires_at)
	FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
	WHERE rt.token_hash = $1 AND rt.replaced_by = $2`

	// touchLastSeenSQL moves a session's last_seen_at forward to $2.
	touchLastSeenSQL = `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`
)

// errRotationRules means the rotation statements and decide disagreed on a
// token: a defect, reported rather than answered as a guess.
var errRotationRules = errors.New("store: the rotation statements and the rotation rules disagree")

// rotateUnused redeems an unused token of a live session in one round trip
// (BEGIN, the two statements and COMMIT travel together). done is false
// when it rotated nothing: rotateInTx then reads the token and decides,
// within its own transaction (a used token within the grace window, reuse,
// or an invalid or expired one).
//
// The session's last_seen_at, when it is lastSeenResolution or more behind,
// is written after the commit (touchLastSeen): once a minute per session at
// most, so the statement is not in every rotation's batch.
//
// Both databases run it serialisable: a concurrent redemption of the same
// token waits for the row rotateMarkSQL updates and then fails with a
// serialisation error, and its retry finds the token used.
func (db *DB) rotateUnused(ctx context.Context, r auth.Rotation) (res auth.RotationResult, done bool, err error) {
	var (
		rotated  bool
		tok      presentedToken
		sr       sessionRow
		ur       userRow
		inserted int64
	)
	dest := append([]any{&tok.clientID, &tok.expiresAt}, append(sr.dest(), ur.dest()...)...)
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		rotated, inserted = false, 0
		b := &pgx.Batch{}
		b.Queue(rotateMarkSQL, r.PresentedHash, r.ClientID, r.Now, r.Next.Hash, auth.StatusActive).
			QueryRow(func(row pgx.Row) error {
				err := row.Scan(dest...)
				if isNoRows(err) {
					return nil
				}
				rotated = err == nil
				return err
			})
		b.Queue(rotateSuccessorSQL, r.PresentedHash, r.Next.Hash, r.Next.CreatedAt, r.Next.ExpiresAt).
			Exec(func(tag pgconn.CommandTag) error { inserted = tag.RowsAffected(); return nil })
		return commitWith(ctx, tx, b)
	})
	if err != nil || !rotated {
		return auth.RotationResult{}, false, err
	}
	sess, user := sr.session(), ur.user()
	if inserted != 1 || decide(tok, sess, user, r) != stepRotate {
		return auth.RotationResult{}, false, errRotationRules
	}
	if r.Now.Sub(sess.LastSeenAt) >= lastSeenResolution {
		sess.LastSeenAt = db.touchLastSeen(ctx, sess, r.Now)
	}
	return auth.RotationResult{Outcome: auth.RotationRotated, Session: sess, User: user}, true, nil
}

// touchLastSeen writes now as sess's last_seen_at and answers the value the
// caller should report. It runs after the rotation committed: the client's
// new token is already issued, so a failure here must not fail the request
// (the client would then present its old token again, which is reuse). It
// is logged and the value read stands; the next rotation tries again.
func (db *DB) touchLastSeen(ctx context.Context, sess auth.Session, now time.Time) time.Time {
	if _, err := db.pool.Exec(ctx, touchLastSeenSQL, sess.ID, now); err != nil {
		db.logger.WarnContext(ctx, "could not record a session's last use", "session_id", sess.ID, "error", mapError(err))
		return sess.LastSeenAt
	}
	return now
}
