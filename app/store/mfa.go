package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// The store keeps app/mfa's second factors (schema/0010_mfa.sql). Every
// compare-and-set is one UPDATE … WHERE <condition> judged by RowsAffected,
// every "check then insert" one INSERT … SELECT … ON CONFLICT: atomic on
// PostgreSQL (a row lock and a re-check of the WHERE clause) and on
// CockroachDB (a serializable implicit transaction) alike.
var _ mfa.Store = (*DB)(nil)

// errUserNotFound is a second-factor write for a user that does not exist.
func errUserNotFound() error {
	return errs.Wrap(errs.KindNotFound, "user_not_found", "no such user", ErrNotFound)
}

// once runs fn, a single statement outside a transaction, and runs it again
// on a serialization failure: CockroachDB reports one when it cannot retry a
// contended implicit transaction itself, and the statement has then changed
// nothing. Any other error is mapped.
func (db *DB) once(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isRetryable(err) || attempt == maxTxAttempts {
			return mapError(err)
		}
		db.logger.DebugContext(ctx, "store: serialization conflict, retrying statement", "attempt", attempt)
		if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
			return mapError(werr)
		}
	}
}

// exec runs one statement through once and returns the rows it changed.
func (db *DB) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := db.once(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// userExists tells a write that matched no user from one that a condition
// refused.
func (db *DB) userExists(ctx context.Context, userID uuid.UUID) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID).Scan(&ok)
	return ok, mapError(err)
}

// refusedOrNoUser turns a write that changed no row into false, or into
// KindNotFound when the user does not exist.
func (db *DB) refusedOrNoUser(ctx context.Context, userID uuid.UUID) error {
	ok, err := db.userExists(ctx, userID)
	if err != nil {
		return err
	}
	if !ok {
		return errUserNotFound()
	}
	return nil
}

// SavePendingTOTP stores rec as the user's pending enrolment, replacing a
// pending one; it returns false and changes nothing when the user has a
// confirmed enrolment. KindNotFound when the user does not exist.
func (db *DB) SavePendingTOTP(ctx context.Context, rec mfa.TOTPRecord) (bool, error) {
	n, err := db.exec(ctx, `INSERT INTO totp_enrolments (user_id, id, home_region, sealed_seed, confirmed, last_step, created_at)
		SELECT u.id, $2::UUID, u.home_region, $3::BYTEA, false, $4::INT8, $5::TIMESTAMPTZ FROM users u WHERE u.id = $1
		ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, home_region = excluded.home_region,
			sealed_seed = excluded.sealed_seed, last_step = excluded.last_step, created_at = excluded.created_at,
			confirmed_at = NULL
		WHERE totp_enrolments.confirmed = false`,
		rec.UserID, rec.ID, rec.SealedSeed, rec.LastStep, rec.CreatedAt)
	if err == nil && n == 0 {
		err = db.refusedOrNoUser(ctx, rec.UserID)
	}
	if err != nil {
		return false, fmt.Errorf("store: save pending totp: %w", err)
	}
	return n == 1, nil
}

// TOTP returns the user's enrolment, pending or confirmed; false when none.
func (db *DB) TOTP(ctx context.Context, userID uuid.UUID) (mfa.TOTPRecord, bool, error) {
	var (
		r           mfa.TOTPRecord
		confirmedAt *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT id, user_id, sealed_seed, confirmed, last_step, created_at, confirmed_at
		FROM totp_enrolments WHERE user_id = $1`, userID).
		Scan(&r.ID, &r.UserID, &r.SealedSeed, &r.Confirmed, &r.LastStep, &r.CreatedAt, &confirmedAt)
	if isNoRows(err) {
		return mfa.TOTPRecord{}, false, nil
	}
	if err != nil {
		return mfa.TOTPRecord{}, false, fmt.Errorf("store: totp: %w", mapError(err))
	}
	if confirmedAt != nil {
		r.ConfirmedAt = *confirmedAt
	}
	return r, true, nil
}

// ConfirmTOTP confirms enrolment id at step only while it is pending and
// LastStep < step, in one UPDATE; false when it changed nothing.
func (db *DB) ConfirmTOTP(ctx context.Context, userID, id uuid.UUID, step int64, at time.Time) (bool, error) {
	n, err := db.exec(ctx, `UPDATE totp_enrolments SET confirmed = true, confirmed_at = $4, last_step = $3
		WHERE user_id = $1 AND id = $2 AND confirmed = false AND last_step < $3`, userID, id, step, at)
	if err != nil {
		return false, fmt.Errorf("store: confirm totp: %w", err)
	}
	return n == 1, nil
}

// AdvanceTOTPStep sets LastStep = step only when enrolment id is confirmed
// and LastStep < step, in one UPDATE: of concurrent calls with one step
// exactly one returns true.
func (db *DB) AdvanceTOTPStep(ctx context.Context, userID, id uuid.UUID, step int64) (bool, error) {
	n, err := db.exec(ctx, `UPDATE totp_enrolments SET last_step = $3
		WHERE user_id = $1 AND id = $2 AND confirmed = true AND last_step < $3`, userID, id, step)
	if err != nil {
		return false, fmt.Errorf("store: advance totp step: %w", err)
	}
	return n == 1, nil
}

// ReplaceTOTPSeed swaps the sealed seed of enrolment id from old to new
// only while it still equals old; false when it changed nothing.
func (db *DB) ReplaceTOTPSeed(ctx context.Context, userID, id uuid.UUID, old, new []byte) (bool, error) {
	n, err := db.exec(ctx, `UPDATE totp_enrolments SET sealed_seed = $4
		WHERE user_id = $1 AND id = $2 AND sealed_seed = $3`, userID, id, old, new)
	if err != nil {
		return false, fmt.Errorf("store: replace totp seed: %w", err)
	}
	return n == 1, nil
}

// DeleteTOTP removes the user's enrolment; false when there was none.
func (db *DB) DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error) {
	n, err := db.exec(ctx, `DELETE FROM totp_enrolments WHERE user_id = $1`, userID)
	if err != nil {
		return false, fmt.Errorf("store: delete totp: %w", err)
	}
	return n > 0, nil
}

// ReplaceRecoveryCodes replaces the user's set and every code of it, used
// or not, by set (all unused) in one transaction. KindNotFound when the user
// does not exist; a hash given twice is KindConflict.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, set mfa.RecoveryCodeSet) error {
	index := make([]int32, len(set.Hashes))
	for i := range index {
		index[i] = int32(i)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, set.UserID); err != nil {
			return err
		}
		var region string
		err := tx.QueryRow(ctx, `INSERT INTO recovery_code_sets (user_id, id, home_region, salt, created_at)
			SELECT u.id, $2::UUID, u.home_region, $3::BYTEA, $4::TIMESTAMPTZ FROM users u WHERE u.id = $1
			ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, home_region = excluded.home_region,
				salt = excluded.salt, created_at = excluded.created_at
			RETURNING home_region`, set.UserID, set.ID, set.Salt, set.CreatedAt).Scan(&region)
		if isNoRows(err) {
			return errUserNotFound()
		}
		if err != nil || len(set.Hashes) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, set_id, code_hash, home_region, code_index)
			SELECT $1::UUID, $2::UUID, c.h, $3::TEXT, c.i FROM unnest($4::BYTEA[], $5::INT4[]) AS c(h, i)`,
			set.UserID, set.ID, region, set.Hashes, index)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: replace recovery codes: %w", err)
	}
	return nil
}

// RecoveryCodes returns the user's current set, every hash in order and
// Remaining counted, read in one statement; false when the user has none.
func (db *DB) RecoveryCodes(ctx context.Context, userID uuid.UUID) (mfa.RecoveryCodeSet, bool, error) {
	rows, err := db.pool.Query(ctx, `SELECT s.id, s.salt, s.created_at, c.code_hash, c.used_at IS NULL
		FROM recovery_code_sets s
		LEFT JOIN recovery_codes c ON c.user_id = s.user_id AND c.set_id = s.id
		WHERE s.user_id = $1
		ORDER BY c.code_index`, userID)
	if err != nil {
		return mfa.RecoveryCodeSet{}, false, fmt.Errorf("store: recovery codes: %w", mapError(err))
	}
	defer rows.Close()
	set := mfa.RecoveryCodeSet{UserID: userID}
	found := false
	for rows.Next() {
		var (
			hash   []byte
			unused *bool
		)
		if err := rows.Scan(&set.ID, &set.Salt, &set.CreatedAt, &hash, &unused); err != nil {
			return mfa.RecoveryCodeSet{}, false, fmt.Errorf("store: recovery codes: %w", mapError(err))
		}
		found = true
		if hash != nil {
			set.Hashes = append(set.Hashes, hash)
			if unused != nil && *unused {
				set.Remaining++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return mfa.RecoveryCodeSet{}, false, fmt.Errorf("store: recovery codes: %w", mapError(err))
	}
	if !found {
		return mfa.RecoveryCodeSet{}, false, nil
	}
	return set, true, nil
}

// ConsumeRecoveryCode marks the unused code with this hash in the user's set
// setID as used, in one UPDATE … WHERE used_at IS NULL: of concurrent calls
// for one code exactly one returns true. A replaced set's codes are gone, so
// they are refused too.
func (db *DB) ConsumeRecoveryCode(ctx context.Context, userID, setID uuid.UUID, hash []byte, at time.Time) (bool, error) {
	n, err := db.exec(ctx, `UPDATE recovery_codes SET used_at = $4
		WHERE user_id = $1 AND set_id = $2 AND code_hash = $3 AND used_at IS NULL`, userID, setID, hash, at)
	if err != nil {
		return false, fmt.Errorf("store: consume recovery code: %w", err)
	}
	return n == 1, nil
}

// DeleteRecoveryCodes removes the user's set and its codes in one
// transaction; false when there was no set.
func (db *DB) DeleteRecoveryCodes(ctx context.Context, userID uuid.UUID) (bool, error) {
	var deleted bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM recovery_code_sets WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		deleted = tag.RowsAffected() > 0
		_, err = tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: delete recovery codes: %w", err)
	}
	return deleted, nil
}

// webauthnColumns are the webauthn_credentials columns scanCredential reads.
const webauthnColumns = `id, user_id, public_key, attestation_type, attestation_format, transports, aaguid,
	flags, sign_count, clone_warning, attachment, created_at, last_used_at`

// scanCredential reads webauthnColumns.
func scanCredential(row pgx.Row) (mfa.WebAuthnCredential, error) {
	var (
		c          mfa.WebAuthnCredential
		transports string
		flags      int32
		signCount  int64
		lastUsed   *time.Time
	)
	err := row.Scan(&c.ID, &c.UserID, &c.PublicKey, &c.AttestationType, &c.AttestationFormat, &transports,
		&c.AAGUID, &flags, &signCount, &c.CloneWarning, &c.Attachment, &c.CreatedAt, &lastUsed)
	if err != nil {
		return mfa.WebAuthnCredential{}, err
	}
	if t := strings.Fields(transports); len(t) > 0 {
		c.Transports = t
	}
	c.Flags, c.SignCount = byte(flags), uint32(signCount)
	if lastUsed != nil {
		c.LastUsedAt = *lastUsed
	}
	return c, nil
}

// timeOrNull stores a zero time as NULL.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// AddWebAuthnCredential inserts c; when a credential with c.ID exists, for
// any user, the primary key refuses it and it returns false with nothing
// changed. KindNotFound when the user does not exist.
func (db *DB) AddWebAuthnCredential(ctx context.Context, c mfa.WebAuthnCredential) (bool, error) {
	n, err := db.exec(ctx, `INSERT INTO webauthn_credentials (id, user_id, home_region, public_key, attestation_type,
			attestation_format, transports, aaguid, flags, sign_count, clone_warning, attachment, created_at, last_used_at)
		SELECT $1::BYTEA, u.id, u.home_region, $3::BYTEA, $4::TEXT, $5::TEXT, $6::TEXT, $7::BYTEA, $8::INT4, $9::INT8,
			$10::BOOL, $11::TEXT, $12::TIMESTAMPTZ, $13::TIMESTAMPTZ
		FROM users u WHERE u.id = $2
		ON CONFLICT (id) DO NOTHING`,
		c.ID, c.UserID, c.PublicKey, c.AttestationType, c.AttestationFormat, strings.Join(c.Transports, " "),
		c.AAGUID, int32(c.Flags), int64(c.SignCount), c.CloneWarning, c.Attachment, c.CreatedAt, timeOrNull(c.LastUsedAt))
	if err == nil && n == 0 {
		err = db.refusedOrNoUser(ctx, c.UserID)
	}
	if err != nil {
		return false, fmt.Errorf("store: add webauthn credential: %w", err)
	}
	return n == 1, nil
}

// WebAuthnCredentials returns the user's credentials ordered by ID (none:
// empty).
func (db *DB) WebAuthnCredentials(ctx context.Context, userID uuid.UUID) ([]mfa.WebAuthnCredential, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: webauthn credentials: %w", mapError(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mfa.WebAuthnCredential, error) {
		return scanCredential(r)
	})
	if err != nil {
		return nil, fmt.Errorf("store: webauthn credentials: %w", mapError(err))
	}
	return out, nil
}

// WebAuthnCredential returns the credential with this ID whoever owns it;
// false when none.
func (db *DB) WebAuthnCredential(ctx context.Context, id []byte) (mfa.WebAuthnCredential, bool, error) {
	c, err := scanCredential(db.pool.QueryRow(ctx, `SELECT `+webauthnColumns+` FROM webauthn_credentials
		WHERE id = $1`, id))
	if isNoRows(err) {
		return mfa.WebAuthnCredential{}, false, nil
	}
	if err != nil {
		return mfa.WebAuthnCredential{}, false, fmt.Errorf("store: webauthn credential: %w", mapError(err))
	}
	return c, true, nil
}

// RecordWebAuthnUse sets the counter, flags and last use of the user's
// credential in one UPDATE, only when it is not flagged as a clone and the
// counter grows (or stays zero on both sides); false when it changed nothing.
func (db *DB) RecordWebAuthnUse(ctx context.Context, u mfa.WebAuthnUse) (bool, error) {
	n, err := db.exec(ctx, `UPDATE webauthn_credentials SET sign_count = $3::INT8, flags = $4::INT4, last_used_at = $5
		WHERE id = $2 AND user_id = $1 AND clone_warning = false
			AND (sign_count < $3::INT8 OR (sign_count = 0 AND $3::INT8 = 0))`,
		u.UserID, u.CredentialID, int64(u.SignCount), int32(u.Flags), u.At)
	if err != nil {
		return false, fmt.Errorf("store: record webauthn use: %w", err)
	}
	return n == 1, nil
}

// MarkWebAuthnClone sets CloneWarning on the user's credential; a
// credential the user does not have is left alone.
func (db *DB) MarkWebAuthnClone(ctx context.Context, userID uuid.UUID, credentialID []byte) error {
	if _, err := db.exec(ctx, `UPDATE webauthn_credentials SET clone_warning = true
		WHERE id = $2 AND user_id = $1`, userID, credentialID); err != nil {
		return fmt.Errorf("store: mark webauthn clone: %w", err)
	}
	return nil
}

// DeleteWebAuthnCredential removes the user's credential; false when the
// user has no credential with this ID.
func (db *DB) DeleteWebAuthnCredential(ctx context.Context, userID uuid.UUID, credentialID []byte) (bool, error) {
	n, err := db.exec(ctx, `DELETE FROM webauthn_credentials WHERE id = $2 AND user_id = $1`, userID, credentialID)
	if err != nil {
		return false, fmt.Errorf("store: delete webauthn credential: %w", err)
	}
	return n > 0, nil
}

// SaveWebAuthnCeremony stores c until c.ExpiresAt, homed in the user's
// region, or in Options.Region for a ceremony without a user (uuid.Nil).
// KindNotFound when the user does not exist; an ID in use is KindConflict.
func (db *DB) SaveWebAuthnCeremony(ctx context.Context, c mfa.WebAuthnCeremony) error {
	var (
		n   int64
		err error
	)
	if c.UserID == uuid.Nil {
		if db.region == "" {
			return fmt.Errorf("store: save webauthn ceremony: %w",
				errs.Internal(fmt.Errorf("store: Options.Region is not set; a ceremony without a user has no home region")))
		}
		n, err = db.exec(ctx, `INSERT INTO webauthn_ceremonies (id, user_id, home_region, purpose, session_data, expires_at)
			VALUES ($1, NULL, $2, $3, $4, $5)`, c.ID, db.region, c.Purpose, c.Data, c.ExpiresAt)
	} else {
		n, err = db.exec(ctx, `INSERT INTO webauthn_ceremonies (id, user_id, home_region, purpose, session_data, expires_at)
			SELECT $1::TEXT, u.id, u.home_region, $3::TEXT, $4::BYTEA, $5::TIMESTAMPTZ FROM users u WHERE u.id = $2`,
			c.ID, c.UserID, c.Purpose, c.Data, c.ExpiresAt)
		if err == nil && n == 0 {
			err = errUserNotFound()
		}
	}
	if err != nil {
		return fmt.Errorf("store: save webauthn ceremony: %w", err)
	}
	return nil
}

// TakeWebAuthnCeremony deletes and returns the ceremony with this ID in one
// DELETE … RETURNING, so of concurrent calls at most one gets it. False when
// there is none or it has expired (by this process's clock; an expired one
// is deleted all the same).
func (db *DB) TakeWebAuthnCeremony(ctx context.Context, id string) (mfa.WebAuthnCeremony, bool, error) {
	var (
		c      mfa.WebAuthnCeremony
		userID *uuid.UUID
		found  bool
	)
	err := db.once(ctx, func() error {
		err := db.pool.QueryRow(ctx, `DELETE FROM webauthn_ceremonies WHERE id = $1
			RETURNING id, user_id, purpose, session_data, expires_at`, id).
			Scan(&c.ID, &userID, &c.Purpose, &c.Data, &c.ExpiresAt)
		found = err == nil
		if isNoRows(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return mfa.WebAuthnCeremony{}, false, fmt.Errorf("store: take webauthn ceremony: %w", err)
	}
	if !found || !c.ExpiresAt.After(time.Now()) {
		return mfa.WebAuthnCeremony{}, false, nil
	}
	if userID != nil {
		c.UserID = *userID
	}
	return c, true, nil
}

// PurgeWebAuthnCeremonies deletes at most limit ceremonies that expired
// before before and returns how many it deleted; call it until it returns
// less than limit.
func (db *DB) PurgeWebAuthnCeremonies(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM webauthn_ceremonies WHERE id IN (
		SELECT id FROM webauthn_ceremonies WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("store: purge webauthn ceremonies: %w", err)
	}
	return n, nil
}
