package auth

import (
	"context"
	"encoding/hex"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// admitHashing lets a request that will cost an Argon2id hash but has no
// account lane (sign-up, reset confirm) through the same gates a login
// passes before any I/O or hashing: the open admission lane, the hashing
// pool's load, and the defense's address, subnet and global limits (and
// its detection). A flood of them is refused as cheaply as a login flood
// and shares its budgets, so it cannot starve logins of the pool. The
// returned function leaves the admission lane.
func (s *Service) admitHashing(ctx context.Context, ip string) (leave func(), err error) {
	if leave, err = s.admitLogin(false); err != nil {
		return nil, err
	}
	if s.deps.Pool != nil && s.deps.Pool.Busy() {
		leave()
		return nil, errLoginsBusy()
	}
	if _, err := s.guardCheck(ctx, defense.Attempt{IP: parseIP(ip)}); err != nil {
		leave()
		return nil, err
	}
	return leave, nil
}

// accountKeyOf is the defense's account key of a stored (normalised) email.
func accountKeyOf(email string) string { return hex.EncodeToString(EmailHash(email)) }

// clearLock forgets the account's password failures and lock (after a
// completed reset); a failure is logged, the reset stands.
func (s *Service) clearLock(ctx context.Context, u User) {
	if s.deps.Guard == nil {
		return
	}
	unlocked, err := s.deps.Guard.ClearAccount(ctx, accountKeyOf(u.Email))
	if err != nil {
		s.log.WarnContext(ctx, "password reset: the account's lock was not cleared", "user_id", u.ID, "error", err)
		return
	}
	if unlocked {
		s.emit(ctx, EventAccountUnlocked, u.ID, u.HomeRegion, eventContext{}, map[string]any{"by": "user"})
	}
}
