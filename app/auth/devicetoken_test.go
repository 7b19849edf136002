package auth

import (
	"context"
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// tripStore counts the store calls (each one a database round trip) a
// login makes; any call it does not expect panics through the nil Store.
type tripStore struct {
	Store
	trips int
}

func (s *tripStore) LookupEmail(context.Context, []byte) (DirectoryEntry, error) {
	s.trips++
	return DirectoryEntry{}, errs.E(errs.KindNotFound, "not_found", "no such email")
}

func (s *tripStore) UserWithCredential(context.Context, uuid.UUID) (User, Credential, error) {
	s.trips++
	return User{}, Credential{}, errs.E(errs.KindNotFound, "not_found", "no such user")
}

func (s *tripStore) UseDevice(context.Context, uuid.UUID, uuid.UUID, []byte, time.Time, time.Time) (bool, error) {
	s.trips++
	return false, nil
}

// refusingGuard rate-limits every attempt, like the address limit under a
// flood.
type refusingGuard struct{ checks int }

func (g *refusingGuard) Check(context.Context, defense.Attempt) (defense.Decision, error) {
	g.checks++
	return defense.Decision{Action: defense.ActionRateLimit, Layer: defense.LayerAddress, RetryAfter: time.Second}, nil
}
func (g *refusingGuard) Record(context.Context, defense.Attempt, bool) error { return nil }
func (g *refusingGuard) Release(context.Context, defense.Attempt) error      { return nil }
func (g *refusingGuard) ClearAccount(context.Context, string) (bool, error)  { return false, nil }
func (g *refusingGuard) AllowMail(context.Context, string, netip.Addr, string) (bool, error) {
	return true, nil
}

// A device token is looked up only after its MAC verifies for the email
// of the login. A forged token, or a genuine token of another account,
// sent by a flood the limits refuse, costs no database round trip at all
// (on main it cost a directory read, a user read and a device update
// before the limits); a genuine one costs the lookups it needs.
func TestForgedDeviceTokenCausesNoDatabaseRead(t *testing.T) {
	keys := &keyList{keys: [][]byte{key(3)}}
	st := &tripStore{}
	g := &refusingGuard{}
	s := New(Config{}, Deps{Random: rand.Reader, DeviceKeys: keys, Store: st, Guard: g})
	const email = "victim@example.org"
	genuine := s.mintDeviceToken(EmailHash(email), uuid.New())
	foreign := s.mintDeviceToken(EmailHash("someone-else@example.org"), uuid.New())
	forged := "ghd_" + genuine[4:20] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for name, tok := range map[string]string{"forged": forged, "foreign": foreign, "junk": "ghd_x"} {
		st.trips = 0
		_, err := s.Login(context.Background(), LoginRequest{Email: email, Password: "a long enough password", IP: "192.0.2.7", DeviceToken: tok})
		if !errs.Is(err, errs.KindRateLimited) {
			t.Fatalf("%s token: want rate limited, got %v", name, err)
		}
		if st.trips != 0 {
			t.Fatalf("%s token: %d database round trips before the limits, want 0", name, st.trips)
		}
	}
	st.trips = 0
	if _, err := s.Login(context.Background(), LoginRequest{Email: email, Password: "a long enough password", IP: "192.0.2.7", DeviceToken: genuine}); !errs.Is(err, errs.KindRateLimited) {
		t.Fatalf("genuine token: want rate limited, got %v", err)
	}
	if st.trips != 2 { // directory and user (unknown email: no device update)
		t.Fatalf("genuine token: %d round trips, want the account lookup's 2", st.trips)
	}
}
