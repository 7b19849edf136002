package mfa

import (
	"bytes"
	"context"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// AssertionResult is the outcome of a WebAuthn assertion. A failed check is
// a result (OK false), not an error.
type AssertionResult struct {
	OK           bool
	UserID       uuid.UUID // the user the credential belongs to (when known)
	CredentialID []byte
	// UserVerified: the authenticator verified the user (PIN, biometric).
	UserVerified bool
	// BackupEligible: a synced passkey (amr "swk") rather than a
	// device-bound key (amr "hwk").
	BackupEligible bool
	// PossibleClone: the signature counter went backwards now or before;
	// the credential is flagged and refused until deleted.
	PossibleClone bool
	// Reason says why OK is false, for logs and metrics only; never show it
	// to the client (it tells credentials and users apart).
	Reason string
}

// BeginLogin starts an assertion of one of userID's credentials as a second
// factor. It fails with KindNotFound when the user has no credential.
func (w *WebAuthn) BeginLogin(ctx context.Context, userID uuid.UUID) (Ceremony, error) {
	u, _, err := w.loadUser(ctx, userID)
	if err != nil {
		return Ceremony{}, err
	}
	if len(u.creds) == 0 {
		return Ceremony{}, errs.E(errs.KindNotFound, "webauthn_not_enabled", "no security key or passkey is registered")
	}
	assertion, sd, err := w.wa.BeginLogin(u)
	if err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: begin login: %w", err))
	}
	return w.begin(ctx, userID, PurposeLogin, assertion, sd)
}

// FinishLogin checks the assertion (the PublicKeyCredential JSON) answering
// ceremony ceremonyID of userID.
func (w *WebAuthn) FinishLogin(ctx context.Context, userID uuid.UUID, ceremonyID string, response []byte) (AssertionResult, error) {
	res := AssertionResult{UserID: userID}
	sd, reason, err := w.take(ctx, ceremonyID, PurposeLogin, userID)
	if err != nil || reason != "" {
		res.Reason = reason
		return res, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		res.Reason = "malformed_assertion"
		return res, nil
	}
	u, stored, err := w.loadUser(ctx, userID)
	if err != nil {
		return res, err
	}
	cred, err := w.wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		res.Reason = "assertion_invalid: " + err.Error()
		return res, nil
	}
	return w.settle(ctx, res, stored, cred, parsed)
}

// BeginPasskeyLogin starts a passwordless login with a discoverable
// credential; user verification is required.
func (w *WebAuthn) BeginPasskeyLogin(ctx context.Context) (Ceremony, error) {
	assertion, sd, err := w.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: begin passkey login: %w", err))
	}
	return w.begin(ctx, uuid.Nil, PurposePasskey, assertion, sd)
}

// FinishPasskeyLogin checks a passwordless assertion answering ceremony
// ceremonyID; on success UserID names the user it authenticates. The
// credential must be registered to the user its user handle names, and the
// user must have been verified (UV).
func (w *WebAuthn) FinishPasskeyLogin(ctx context.Context, ceremonyID string, response []byte) (AssertionResult, error) {
	var res AssertionResult
	sd, reason, err := w.take(ctx, ceremonyID, PurposePasskey, uuid.Nil)
	if err != nil || reason != "" {
		res.Reason = reason
		return res, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		res.Reason = "malformed_assertion"
		return res, nil
	}
	var stored []WebAuthnCredential
	var lookupErr error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		uid, err := uuid.FromBytes(userHandle)
		if err != nil {
			return nil, fmt.Errorf("user handle is not a user id")
		}
		c, ok, err := w.store.WebAuthnCredential(ctx, rawID)
		if err != nil {
			lookupErr = err
			return nil, fmt.Errorf("credential lookup failed")
		}
		if !ok || c.UserID != uid {
			return nil, fmt.Errorf("credential not registered to this user")
		}
		u, all, err := w.loadUser(ctx, uid)
		if err != nil {
			lookupErr = err
			return nil, fmt.Errorf("credential lookup failed")
		}
		stored = all
		return u, nil
	}
	user, cred, err := w.wa.ValidatePasskeyLogin(handler, sd, parsed)
	if lookupErr != nil {
		return res, errs.Internal(fmt.Errorf("mfa: passkey lookup: %w", lookupErr))
	}
	if err != nil {
		res.Reason = "assertion_invalid: " + err.Error()
		return res, nil
	}
	res.UserID = user.(*waUser).id
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		res.Reason = "user_not_verified" // the library checks it too
		return res, nil
	}
	return w.settle(ctx, res, stored, cred, parsed)
}

// settle applies the signature-counter rule to a verified assertion and
// records the use. A counter that did not go up (unless both it and the
// stored one are zero) flags the credential as a possible clone and refuses
// the login, as does a credential flagged before.
func (w *WebAuthn) settle(ctx context.Context, res AssertionResult, stored []WebAuthnCredential, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (AssertionResult, error) {
	var rec *WebAuthnCredential
	for i := range stored {
		if bytes.Equal(stored[i].ID, cred.ID) {
			rec = &stored[i]
			break
		}
	}
	if rec == nil { // the library found it in the same list
		return res, errs.Internal(fmt.Errorf("mfa: verified credential not in the user's list"))
	}
	flags := parsed.Response.AuthenticatorData.Flags
	res.CredentialID = cred.ID
	res.UserVerified = flags.HasUserVerified()
	res.BackupEligible = flags.HasBackupEligible()
	if rec.CloneWarning {
		res.PossibleClone, res.Reason = true, "credential_flagged_clone"
		return res, nil
	}
	if cred.Authenticator.CloneWarning {
		return w.flagClone(ctx, res)
	}
	ok, err := w.store.RecordWebAuthnUse(ctx, WebAuthnUse{
		UserID: res.UserID, CredentialID: cred.ID, SignCount: parsed.Response.AuthenticatorData.Counter,
		Flags: byte(flags), At: w.now(),
	})
	if err != nil {
		return res, errs.Internal(fmt.Errorf("mfa: record webauthn use: %w", err))
	}
	if !ok { // a concurrent assertion raised the counter past this one
		return w.flagClone(ctx, res)
	}
	res.OK = true
	return res, nil
}

func (w *WebAuthn) flagClone(ctx context.Context, res AssertionResult) (AssertionResult, error) {
	res.PossibleClone, res.Reason = true, "sign_count_regression"
	if err := w.store.MarkWebAuthnClone(ctx, res.UserID, res.CredentialID); err != nil {
		return res, errs.Internal(fmt.Errorf("mfa: flag webauthn clone: %w", err))
	}
	return res, nil
}
