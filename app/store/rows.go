package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// querier is what a pool and a transaction have in common, so that a
// helper can run alone or inside inTx.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// userColumns are the users columns userRow scans, with the alias u.
const userColumns = `u.id, u.home_region, u.email, u.email_verified, u.external_id, u.status,
	u.must_change_password, u.created_at, u.updated_at, u.password_breached`

// userRow receives userColumns.
type userRow struct {
	u          auth.User
	externalID *string
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.HomeRegion, &r.u.Email, &r.u.EmailVerified, &r.externalID, &r.u.Status,
		&r.u.MustChangePassword, &r.u.CreatedAt, &r.u.UpdatedAt, &r.u.PasswordBreached}
}

func (r *userRow) user() auth.User {
	u := r.u
	if r.externalID != nil {
		u.ExternalID = *r.externalID
	}
	return u
}

// sessionColumns are the sessions columns sessionRow scans, with the alias s.
const sessionColumns = `s.id, s.user_id, s.home_region, s.client_id, s.amr, s.acr, s.auth_time,
	s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.revoked_at, s.revoke_reason`

// sessionRow receives sessionColumns.
type sessionRow struct {
	s            auth.Session
	amr          string
	revokeReason *string
}

func (r *sessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.s.HomeRegion, &r.s.ClientID, &r.amr, &r.s.ACR, &r.s.AuthTime,
		&r.s.CreatedAt, &r.s.LastSeenAt, &r.s.ExpiresAt, &r.s.IP, &r.s.UserAgent, &r.s.RevokedAt, &r.revokeReason}
}

func (r *sessionRow) session() auth.Session {
	s := r.s
	s.AMR = splitAMR(r.amr)
	if r.revokeReason != nil {
		s.RevokeReason = *r.revokeReason
	}
	return s
}

// joinAMR stores the authentication methods as one space-separated TEXT.
func joinAMR(amr []string) string { return strings.Join(amr, " ") }

// splitAMR reads joinAMR's text back; an empty column is a nil list.
func splitAMR(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

// nullIfEmpty stores an empty string as NULL (external_id: NULLs do not
// collide in the unique index, empty strings would).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonOrNull passes raw JSON through, and an empty value as NULL.
func jsonOrNull(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return []byte(raw)
}

// jsonObject marshals a detail or payload map; nil is the empty object.
func jsonObject(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}

// orTime returns t, or fallback when t is zero.
func orTime(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// collectIDs reads a one-column result of UUIDs.
func collectIDs(rows pgx.Rows) ([]uuid.UUID, error) {
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
