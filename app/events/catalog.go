// Package events turns Gatehouse's auth events into a stream: the catalog
// of event types and their CloudEvents 1.0 form, the batcher that appends
// events which change nothing (a failed login) off the request path, the
// relay that publishes the audit table's unpublished rows to a broker at
// least once and in order per user, and the partition job that keeps the
// audit table's day partitions on PostgreSQL.
//
// Events that record a state change are written by the store in the same
// transaction as the change; the relay finds them in the same table.
package events

import (
	"sort"
)

// Families group event types; each family is a Kafka topic
// (TopicPrefix + family). Order per user holds within a family.
const (
	FamilyAccount  = "account"
	FamilyLogin    = "login"
	FamilyMFA      = "mfa"
	FamilySession  = "session"
	FamilySecurity = "security"
)

// Families lists every family.
var Families = []string{FamilyAccount, FamilyLogin, FamilyMFA, FamilySession, FamilySecurity}

// Spec describes one event type.
type Spec struct {
	// Name is the event's name, e.g. "LoginFailed"; its JSON Schema is
	// docs/events/<Name>.json.
	Name string
	// Type is the CloudEvents type, versioned: a breaking change of the
	// data makes a new type (….v2) and both are emitted for a while.
	Type string
	// Family is the Kafka topic family.
	Family string
	// Kinds are the stored kinds (auth.Event.Kind) of this type.
	Kinds []string
	// Data are fixed data members added for a kind, e.g. which factor an
	// MFAEnrolled event enrolled.
	Data map[string]map[string]any
}

const typePrefix = "id.gatehouse."

func spec(name, family, typ string, kinds ...string) Spec {
	if len(kinds) == 0 {
		kinds = []string{typ}
	}
	return Spec{Name: name, Type: typePrefix + typ + ".v1", Family: family, Kinds: kinds}
}

func withData(s Spec, data map[string]map[string]any) Spec { s.Data = data; return s }

// Catalog is every event type Gatehouse emits.
var Catalog = []Spec{
	spec("UserRegistered", FamilyAccount, "user.registered"),
	spec("LoginSucceeded", FamilyLogin, "login.succeeded"),
	spec("LoginFailed", FamilyLogin, "login.failed"),
	spec("LoginChallenged", FamilyLogin, "login.challenged"),
	spec("LoginRateLimited", FamilyLogin, "login.rate_limited"),
	spec("AccountLocked", FamilyAccount, "account.locked"),
	spec("AccountUnlocked", FamilyAccount, "account.unlocked"),
	spec("MFAChallenged", FamilyLogin, "mfa.challenged"),
	spec("MFAFailed", FamilyLogin, "mfa.failed"),
	withData(spec("MFAEnrolled", FamilyMFA, "mfa.enrolled", "mfa.totp_enabled", "mfa.recovery_codes_generated", "mfa.webauthn_registered"),
		map[string]map[string]any{
			"mfa.totp_enabled":             {"factor": "totp"},
			"mfa.recovery_codes_generated": {"factor": "recovery_code"},
			"mfa.webauthn_registered":      {"factor": "webauthn"},
		}),
	withData(spec("MFARemoved", FamilyMFA, "mfa.removed", "mfa.totp_disabled", "mfa.webauthn_removed"),
		map[string]map[string]any{
			"mfa.totp_disabled":    {"factor": "totp"},
			"mfa.webauthn_removed": {"factor": "webauthn"},
		}),
	spec("RecoveryCodeUsed", FamilyMFA, "mfa.recovery_code_used"),
	spec("PasskeyUsed", FamilyLogin, "passkey.used"),
	spec("DeviceTrusted", FamilySession, "device.trusted"),
	spec("DeviceRevoked", FamilySession, "device.revoked"),
	spec("SessionStarted", FamilySession, "session.started"),
	spec("SessionRevoked", FamilySession, "session.revoked", "sessions.revoked"),
	spec("RefreshReuseDetected", FamilySession, "refresh.reuse_detected"),
	spec("PasswordChanged", FamilyAccount, "password.changed"),
	spec("PasswordResetRequested", FamilyAccount, "password.reset_requested"),
	spec("PasswordResetCompleted", FamilyAccount, "password.reset_completed", "password.reset"),
	spec("PasswordResetForced", FamilyAccount, "password.reset_forced", "password.force_reset"),
	spec("CredentialMigrated", FamilyAccount, "credential.migrated"),
	spec("BreachedPasswordDetected", FamilyAccount, "password.breached"),
	spec("UserBanned", FamilyAccount, "user.banned"),
	spec("UserUnbanned", FamilyAccount, "user.unbanned"),
	spec("DefenseModeChanged", FamilySecurity, "defense.mode_changed"),
	spec("KeysRotated", FamilySecurity, "keys.rotated"),
	spec("StuffingDetected", FamilySecurity, "defense.stuffing_detected"),
}

var byKind = func() map[string]*Spec {
	m := map[string]*Spec{}
	for i := range Catalog {
		for _, k := range Catalog[i].Kinds {
			if m[k] != nil {
				panic("events: kind " + k + " in two specs")
			}
			m[k] = &Catalog[i]
		}
	}
	return m
}()

// Lookup finds the spec of a stored kind; ok is false for a kind the
// catalog does not know (published as "id.gatehouse.unknown.v1" so that
// nothing is silently dropped).
func Lookup(kind string) (Spec, bool) {
	s, ok := byKind[kind]
	if !ok {
		return Spec{Name: "Unknown", Type: typePrefix + "unknown.v1", Family: FamilySecurity}, false
	}
	return *s, true
}

// Kinds lists every stored kind the catalog knows, sorted.
func Kinds() []string {
	out := make([]string, 0, len(byKind))
	for k := range byKind {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
