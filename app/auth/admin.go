package auth

import (
	"context"

	"github.com/google/uuid"
)

// Ban disables an account and ends all its sessions.
func (s *Service) Ban(ctx context.Context, userID uuid.UUID) error {
	return s.setStatus(ctx, userID, StatusBanned, EventUserBanned)
}

// Unban enables a banned account again; its old sessions stay ended.
func (s *Service) Unban(ctx context.Context, userID uuid.UUID) error {
	return s.setStatus(ctx, userID, StatusActive, EventUserUnbanned)
}

func (s *Service) setStatus(ctx context.Context, userID uuid.UUID, status, kind string) error {
	u, err := s.deps.Store.User(ctx, userID)
	if err != nil {
		return err
	}
	now := s.now()
	ids, err := s.deps.Store.SetUserStatus(ctx, userID, status, now,
		Event{ID: s.newID(), UserID: userID, HomeRegion: u.HomeRegion, Kind: kind, At: now, Detail: map[string]any{"by": "admin"}})
	if err != nil {
		return err
	}
	s.deps.Observer.SecurityEvent(kind)
	s.revokeInCache(ctx, ids)
	s.log.InfoContext(ctx, "user status changed", "user_id", userID, "status", status, "sessions_ended", len(ids))
	return nil
}

// RevokeAllSessions ends every session of an account (admin).
func (s *Service) RevokeAllSessions(ctx context.Context, userID uuid.UUID) (int, error) {
	u, err := s.deps.Store.User(ctx, userID)
	if err != nil {
		return 0, err
	}
	now := s.now()
	ids, err := s.deps.Store.RevokeUserSessions(ctx, userID, uuid.Nil, "admin", now,
		&Event{ID: s.newID(), UserID: userID, HomeRegion: u.HomeRegion, Kind: EventSessionsRevoked, At: now, Detail: map[string]any{"by": "admin"}})
	if err != nil {
		return 0, err
	}
	s.revokeInCache(ctx, ids)
	return len(ids), nil
}

// ForcePasswordReset makes the current password useless: every session
// ends, the password no longer logs in, and the owner gets a reset mail.
func (s *Service) ForcePasswordReset(ctx context.Context, userID uuid.UUID) error {
	u, err := s.deps.Store.User(ctx, userID)
	if err != nil {
		return err
	}
	now := s.now()
	ids, err := s.deps.Store.ForcePasswordReset(ctx, userID, now,
		Event{ID: s.newID(), UserID: userID, HomeRegion: u.HomeRegion, Kind: EventForceReset, At: now, Detail: map[string]any{"by": "admin"}})
	if err != nil {
		return err
	}
	s.revokeInCache(ctx, ids)
	return s.createReset(ctx, u.ID, u.HomeRegion, u.Email, "password_reset_forced")
}
