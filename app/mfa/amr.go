package mfa

// Authentication says which factors a login used.
type Authentication struct {
	Password     bool
	TOTP         bool
	RecoveryCode bool
	// WebAuthn: a WebAuthn assertion succeeded; WebAuthnUserVerified and
	// WebAuthnSynced come from its AssertionResult (UserVerified,
	// BackupEligible).
	WebAuthn             bool
	WebAuthnUserVerified bool
	WebAuthnSynced       bool
}

// FromAssertion fills in the WebAuthn fields from a successful assertion.
func (a Authentication) FromAssertion(r AssertionResult) Authentication {
	a.WebAuthn = r.OK
	a.WebAuthnUserVerified = r.OK && r.UserVerified
	a.WebAuthnSynced = r.OK && r.BackupEligible
	return a
}

// ACR values (NIST SP 800-63B authenticator assurance levels).
const (
	ACRAAL1 = "aal1"
	ACRAAL2 = "aal2"
)

// Assurance returns the amr values (RFC 8176) and the acr of a login:
//
//	pwd  a password
//	otp  a TOTP code or a recovery code (a one-time look-up secret)
//	hwk  a device-bound WebAuthn key; swk a synced passkey (backup eligible)
//	mfa  two factors: a password with any of the above, or a WebAuthn
//	     credential with user verification (a passkey is itself multi-factor)
//
// acr is "aal2" with mfa and "aal1" otherwise; a passkey with UV is aal2 on
// its own.
func Assurance(a Authentication) (amr []string, acr string) {
	amr = make([]string, 0, 4)
	if a.Password {
		amr = append(amr, "pwd")
	}
	if a.TOTP || a.RecoveryCode {
		amr = append(amr, "otp")
	}
	if a.WebAuthn {
		if a.WebAuthnSynced {
			amr = append(amr, "swk")
		} else {
			amr = append(amr, "hwk")
		}
	}
	possession := a.TOTP || a.RecoveryCode || a.WebAuthn
	multi := (a.Password && possession) || (a.WebAuthn && a.WebAuthnUserVerified)
	if multi {
		return append(amr, "mfa"), ACRAAL2
	}
	return amr, ACRAAL1
}
