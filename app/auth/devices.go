package auth

import (
	"context"
	"net/netip"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// Guard is the login defense (app/defense): it runs before any hashing and
// learns each result after it.
type Guard interface {
	Check(ctx context.Context, a defense.Attempt) (defense.Decision, error)
	Record(ctx context.Context, a defense.Attempt, success bool) error
	Release(ctx context.Context, a defense.Attempt) error
	// ClearAccount forgets an account's password failures and lock, and
	// reports whether a lock was in force.
	ClearAccount(ctx context.Context, accountKey string) (unlocked bool, err error)
	// AllowMail reports whether a mail of kind caused by a request from ip
	// about accountKey may be sent (per-address and per-account limits).
	AllowMail(ctx context.Context, kind string, ip netip.Addr, accountKey string) (bool, error)
}

// guardCheck asks the defense layers whether the attempt may go on to the
// hash; a refusal is an error in the contract's shape (429, 423, 403).
func (s *Service) guardCheck(ctx context.Context, a defense.Attempt) (defense.Decision, error) {
	ctx, end := s.span(ctx, "login.limits")
	defer end()
	if s.deps.Guard == nil {
		return defense.Decision{Action: defense.ActionAllow}, nil
	}
	d, err := s.deps.Guard.Check(ctx, a)
	if err != nil {
		return d, err
	}
	if !d.Proceed() {
		s.log.InfoContext(ctx, "login refused by the defense layers", "layer", d.Layer, "reason", d.Reason)
		return d, d.Err()
	}
	return d, nil
}

// guardRecord tells the defense layers how an attempt ended. An attempt
// whose credential was never checked (the hashing pool was full) is
// released, not counted.
func (s *Service) guardRecord(ctx context.Context, a defense.Attempt, ok bool, checkErr error) {
	if s.deps.Guard == nil {
		return
	}
	var err error
	if checkErr != nil {
		err = s.deps.Guard.Release(ctx, a)
	} else {
		err = s.deps.Guard.Record(ctx, a, ok)
	}
	if err != nil {
		s.log.WarnContext(ctx, "defense layers could not record an attempt", "error", err)
	}
}

func parseIP(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// deviceTrusted checks an authentic device token against the user's
// devices: the device must be theirs, unrevoked, hold this token and have
// been used within the device lifetime; its use is recorded.
func (s *Service) deviceTrusted(ctx context.Context, uid uuid.UUID, t DeviceToken, tok string) (bool, error) {
	now := s.now()
	return s.deps.Store.UseDevice(ctx, uid, t.DeviceID, sha256Sum([]byte(tok)), now, now.Add(-s.cfg.DeviceTTL))
}

// trustDevice registers the client's device after a complete login and
// returns its token ("" when it could not be stored: the login stands).
func (s *Service) trustDevice(ctx context.Context, u User, ip, ua string) string {
	id := s.newID()
	tok := s.mintDeviceToken(EmailHash(u.Email), id)
	now := s.now()
	d := Device{ID: id, UserID: u.ID, HomeRegion: u.HomeRegion, TokenHash: sha256Sum([]byte(tok)),
		Name: truncate(ua, 200), IP: ip, CreatedAt: now, LastUsedAt: now}
	if err := s.deps.Store.CreateDevice(ctx, d); err != nil {
		s.log.WarnContext(ctx, "device not trusted", "user_id", u.ID, "error", err)
		return ""
	}
	return tok
}

// Devices lists the caller's trusted devices.
func (s *Service) Devices(ctx context.Context, p Principal) ([]Device, error) {
	return s.deps.Store.ListDevices(ctx, p.UserID)
}

// ForgetDevice revokes one of the caller's trusted devices.
func (s *Service) ForgetDevice(ctx context.Context, p Principal, id uuid.UUID) error {
	if err := s.deps.Store.RevokeDevice(ctx, p.UserID, id, s.now()); err != nil {
		return err
	}
	return nil
}
