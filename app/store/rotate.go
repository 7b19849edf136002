package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Compile-time proof that the store is what the auth service needs.
var _ auth.Store = (*DB)(nil)

// RotateRefresh redeems a refresh token as auth.Rotation describes.
//
// The common case, an unused token of a live session rotated, is one round
// trip (rotateUnused). Anything else takes a second transaction,
// rotateInTx, which reads the token's row FOR UPDATE and then issues a
// sibling within Grace, revokes the family, or refuses the token.
// Both run serialisable: competing redemptions of one token conflict on its
// row; whichever commits first rotates, and every other one, re-run after
// its serialisation failure, finds the token used: a sibling within Grace,
// reuse otherwise. No redemption ends in an error because it lost the race.
//
// Outcomes and what the result carries:
//   - RotationRotated: the presented token is marked used and replaced by
//     Next (or, within Grace of its first use, Next is issued as a sibling
//     and the first use stays as it was, so the grace window never slides);
//     Session and User are set.
//   - RotationReused: the session is revoked ("refresh_token_reuse") if it
//     was not already, and an auth.EventRefreshReuse event is recorded in
//     the same transaction; Session (now revoked) and User are set so the
//     caller can drop the session from its cache.
//   - RotationInvalid: unknown token, another client's token, revoked or
//     expired session, banned user. RotationExpired: the token expired.
//     Neither writes anything nor carries a session.
//
// The reuse event's id is derived from Next.Hash (a fresh random value per
// redemption), so it is stable across transaction retries without the store
// generating anything random.
func (db *DB) RotateRefresh(ctx context.Context, r auth.Rotation) (auth.RotationResult, error) {
	if len(r.Next.Hash) == 0 {
		return auth.RotationResult{}, errs.Invalid("invalid_rotation", "the successor token has no hash")
	}
	// The database keeps microseconds: decide on the instant it stores.
	r.Now = r.Now.Truncate(time.Microsecond)
	res, done, err := db.rotateUnused(ctx, r)
	if err == nil && !done {
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			var err error
			res, err = rotateInTx(ctx, tx, r)
			return err
		})
	}
	if err != nil {
		return auth.RotationResult{}, fmt.Errorf("store: rotate refresh token: %w", err)
	}
	return res, nil
}

// presentedToken is the part of a refresh_tokens row a rotation decides on.
type presentedToken struct {
	clientID  string
	expiresAt time.Time
	usedAt    *time.Time
}

// rotationStep is what a redemption does, decided on the presented token's
// row, its session and its user as they were read.
type rotationStep int

const (
	stepInvalid rotationStep = iota
	stepExpired
	stepRotate  // mark the token used and issue its successor
	stepSibling // the token was used within Grace: issue a sibling
	stepRevoke  // the token was used before: revoke the family
)

// decide holds the rules of a redemption. rotateMarkSQL writes exactly
// when decide answers stepRotate; rotateUnused checks that they agree.
func decide(tok presentedToken, sess auth.Session, user auth.User, r auth.Rotation) rotationStep {
	if tok.clientID != r.ClientID || sess.ClientID != r.ClientID {
		return stepInvalid
	}
	usable := sess.Active(r.Now) && user.Status == auth.StatusActive
	expired := !r.Now.Before(tok.expiresAt)
	switch {
	case tok.usedAt != nil && usable && r.Now.Sub(*tok.usedAt) < r.Grace && expired:
		return stepExpired
	case tok.usedAt != nil && usable && r.Now.Sub(*tok.usedAt) < r.Grace:
		// The client lost the response to its first redemption, or raced
		// itself. The first use is kept.
		return stepSibling
	case tok.usedAt != nil:
		return stepRevoke
	case !usable:
		return stepInvalid
	case expired:
		return stepExpired
	}
	return stepRotate
}

// rotateInTx redeems a token that was used already, or whatever the
// presented token turned out to be by the time it runs.
func rotateInTx(ctx context.Context, tx pgx.Tx, r auth.Rotation) (auth.RotationResult, error) {
	var (
		tok presentedToken
		sr  sessionRow
		ur  userRow
	)
	dest := append([]any{&tok.clientID, &tok.expiresAt, &tok.usedAt}, append(sr.dest(), ur.dest()...)...)
	err := tx.QueryRow(ctx, `SELECT rt.client_id, rt.expires_at, rt.used_at, `+sessionColumns+`, `+userColumns+`
		FROM refresh_tokens rt
		JOIN sessions s ON s.id = rt.session_id
		JOIN users u ON u.id = s.user_id
		WHERE rt.token_hash = $1
		FOR UPDATE OF rt`, r.PresentedHash).Scan(dest...)
	if isNoRows(err) {
		return auth.RotationResult{Outcome: auth.RotationInvalid}, nil
	}
	if err != nil {
		return auth.RotationResult{}, err
	}
	sess, user := sr.session(), ur.user()
	switch decide(tok, sess, user, r) {
	case stepRotate:
		return issueSuccessor(ctx, tx, r, sess, user, true)
	case stepSibling:
		return issueSuccessor(ctx, tx, r, sess, user, false)
	case stepRevoke:
		return revokeFamily(ctx, tx, r, sess, user, *tok.usedAt)
	case stepExpired:
		return auth.RotationResult{Outcome: auth.RotationExpired}, nil
	}
	return auth.RotationResult{Outcome: auth.RotationInvalid}, nil
}

// lastSeenResolution is how stale a session's last_seen_at may get before a
// rotation writes it again: a client refreshing in a burst costs one write
// per token, not two.
const lastSeenResolution = time.Minute

// issueSuccessor inserts r.Next into the session's family, marking the
// presented token used first when markUsed, and touches the session's
// last_seen_at when it is stale. The writes go to the database as one
// pipelined batch with the commit behind them: the decision was made on the
// row read above, so they need no answers in between. It must be the last
// thing the transaction does.
func issueSuccessor(ctx context.Context, tx pgx.Tx, r auth.Rotation, sess auth.Session, user auth.User, markUsed bool) (auth.RotationResult, error) {
	b := &pgx.Batch{}
	if markUsed {
		b.Queue(`UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 WHERE token_hash = $1`, r.PresentedHash, r.Now, r.Next.Hash)
	}
	b.Queue(insertRefreshSQL, refreshTokenArgs(sess, r.Next)...)
	if r.Now.Sub(sess.LastSeenAt) >= lastSeenResolution {
		b.Queue(`UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, sess.ID, r.Now)
		sess.LastSeenAt = r.Now
	}
	if err := commitWith(ctx, tx, b); err != nil {
		return auth.RotationResult{}, err
	}
	return auth.RotationResult{Outcome: auth.RotationRotated, Session: sess, User: user}, nil
}

// revokeFamily handles a used token presented again: it revokes the session
// (every token of it dies with it) unless it was revoked already, and
// records the reuse.
func revokeFamily(ctx context.Context, tx pgx.Tx, r auth.Rotation, sess auth.Session, user auth.User, usedAt time.Time) (auth.RotationResult, error) {
	tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
		WHERE id = $1 AND revoked_at IS NULL`, sess.ID, r.Now, reasonRefreshReuse)
	if err != nil {
		return auth.RotationResult{}, err
	}
	revokedNow := tag.RowsAffected() == 1
	if revokedNow {
		at := r.Now
		sess.RevokedAt, sess.RevokeReason = &at, reasonRefreshReuse
	}
	ev := auth.Event{
		ID:         uuid.NewSHA1(uuid.NameSpaceOID, append([]byte("gatehouse/refresh-reuse/"), r.Next.Hash...)),
		UserID:     sess.UserID,
		HomeRegion: sess.HomeRegion,
		Kind:       auth.EventRefreshReuse,
		At:         r.Now,
		Detail: map[string]any{
			"session_id":      sess.ID.String(),
			"client_id":       r.ClientID,
			"ip":              r.IP,
			"user_agent":      r.UserAgent,
			"token_used_at":   usedAt.UTC().Format(time.RFC3339Nano),
			"session_revoked": revokedNow,
		},
	}
	if err := insertEvent(ctx, tx, ev); err != nil {
		return auth.RotationResult{}, err
	}
	return auth.RotationResult{Outcome: auth.RotationReused, Session: sess, User: user}, nil
}
