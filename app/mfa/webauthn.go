package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

const (
	defaultCeremonyTTL = 5 * time.Minute
	ceremonyIDBytes    = 32
	maxCredentials     = 32 // per user
)

// WebAuthnConfig is the relying party's configuration.
type WebAuthnConfig struct {
	// RPID is the relying party ID, a registrable domain such as
	// "example.com"; credentials are bound to it.
	RPID string
	// RPDisplayName is shown by authenticators, e.g. "Gatehouse".
	RPDisplayName string
	// RPOrigins are the exact origins ceremonies may come from, e.g.
	// "https://auth.example.com".
	RPOrigins []string
	// CeremonyTTL is how long a begun ceremony (its challenge) may be
	// finished; 5 minutes when zero.
	CeremonyTTL time.Duration
}

// WebAuthn registers WebAuthn credentials and checks assertions, as a
// second factor and as a passwordless passkey login.
type WebAuthn struct {
	store WebAuthnStore
	wa    *webauthn.WebAuthn
	ttl   time.Duration
	now   func() time.Time
}

// NewWebAuthn returns the WebAuthn service. now is the clock.
func NewWebAuthn(store WebAuthnStore, cfg WebAuthnConfig, now func() time.Time) (*WebAuthn, error) {
	if store == nil || now == nil {
		return nil, fmt.Errorf("mfa: NewWebAuthn needs a store and a clock")
	}
	if cfg.RPID == "" || len(cfg.RPOrigins) == 0 || cfg.RPDisplayName == "" {
		return nil, fmt.Errorf("mfa: WebAuthn needs an RP ID, a display name and origins")
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             append([]string(nil), cfg.RPOrigins...),
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: webauthn config: %w", err)
	}
	ttl := cfg.CeremonyTTL
	if ttl <= 0 {
		ttl = defaultCeremonyTTL
	}
	return &WebAuthn{store: store, wa: wa, ttl: ttl, now: now}, nil
}

// Ceremony is a begun WebAuthn ceremony: the client passes Options to
// navigator.credentials.create/get and sends ID back with the result.
type Ceremony struct {
	ID        string          `json:"id"`
	Options   json.RawMessage `json:"options"` // {"publicKey": {...}}
	ExpiresAt time.Time       `json:"expires_at"`
}

// waUser adapts a Gatehouse user to the library. The user handle is the
// user ID's 16 bytes: random, no personal data.
type waUser struct {
	id          uuid.UUID
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.id[:] }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// libCredential rebuilds the library's record from a stored one. The clone
// flag is left clear so that the library's flag reports this assertion only.
func libCredential(c WebAuthnCredential) webauthn.Credential {
	tr := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		tr[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: c.ID, PublicKey: c.PublicKey, AttestationType: c.AttestationType,
		AttestationFormat: c.AttestationFormat, Transport: tr,
		Flags: webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(c.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID: c.AAGUID, SignCount: c.SignCount,
			Attachment: protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}

func (w *WebAuthn) loadUser(ctx context.Context, userID uuid.UUID) (*waUser, []WebAuthnCredential, error) {
	stored, err := w.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, nil, errs.Internal(fmt.Errorf("mfa: load webauthn credentials: %w", err))
	}
	u := &waUser{id: userID, name: userID.String(), displayName: userID.String()}
	for _, c := range stored {
		u.creds = append(u.creds, libCredential(c))
	}
	return u, stored, nil
}

// begin stores the session data under a new ceremony ID.
func (w *WebAuthn) begin(ctx context.Context, userID uuid.UUID, purpose string, options any, sd *webauthn.SessionData) (Ceremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: webauthn options: %w", err))
	}
	data, err := json.Marshal(sd)
	if err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: webauthn session: %w", err))
	}
	raw := make([]byte, ceremonyIDBytes)
	if _, err := rand.Read(raw); err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: ceremony id: %w", err))
	}
	c := WebAuthnCeremony{
		ID: base64.RawURLEncoding.EncodeToString(raw), UserID: userID, Purpose: purpose,
		Data: data, ExpiresAt: w.now().Add(w.ttl),
	}
	if err := w.store.SaveWebAuthnCeremony(ctx, c); err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: save webauthn ceremony: %w", err))
	}
	return Ceremony{ID: c.ID, Options: opts, ExpiresAt: c.ExpiresAt}, nil
}

// take consumes a ceremony: it is deleted whatever happens next, so a
// challenge is answered at most once. It returns a reason when the ceremony
// is unusable for purpose and userID (uuid.Nil for passkey logins).
func (w *WebAuthn) take(ctx context.Context, id, purpose string, userID uuid.UUID) (webauthn.SessionData, string, error) {
	var sd webauthn.SessionData
	if !validCeremonyID(id) {
		return sd, "unknown_ceremony", nil
	}
	c, ok, err := w.store.TakeWebAuthnCeremony(ctx, id)
	if err != nil {
		return sd, "", errs.Internal(fmt.Errorf("mfa: take webauthn ceremony: %w", err))
	}
	switch {
	case !ok:
		return sd, "unknown_ceremony", nil
	case c.Purpose != purpose || c.UserID != userID:
		return sd, "ceremony_mismatch", nil
	case !w.now().Before(c.ExpiresAt):
		return sd, "ceremony_expired", nil
	}
	if err := json.Unmarshal(c.Data, &sd); err != nil {
		return sd, "", errs.Internal(fmt.Errorf("mfa: webauthn session: %w", err))
	}
	return sd, "", nil
}

// BeginRegistration starts registering a credential for the signed-in
// userID; name and displayName label it in the authenticator (an email is
// fine: it stays on the device). Credentials the user has are excluded.
func (w *WebAuthn) BeginRegistration(ctx context.Context, userID uuid.UUID, name, displayName string) (Ceremony, error) {
	u, stored, err := w.loadUser(ctx, userID)
	if err != nil {
		return Ceremony{}, err
	}
	if len(stored) >= maxCredentials {
		return Ceremony{}, errs.E(errs.KindConflict, "too_many_credentials", "remove a security key or passkey first")
	}
	if name != "" {
		u.name = name
	}
	if displayName != "" {
		u.displayName = displayName
	}
	creation, sd, err := w.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		return Ceremony{}, errs.Internal(fmt.Errorf("mfa: begin registration: %w", err))
	}
	return w.begin(ctx, userID, PurposeRegister, creation, sd)
}

// FinishRegistration verifies the authenticator's response (the
// PublicKeyCredential JSON) to ceremony ceremonyID and stores the new
// credential. A failed check is a KindInvalid error
// "webauthn_registration_failed"; a credential ID already registered, to
// this or another user, is KindConflict "credential_already_registered".
func (w *WebAuthn) FinishRegistration(ctx context.Context, userID uuid.UUID, ceremonyID string, response []byte) (WebAuthnCredential, error) {
	sd, reason, err := w.take(ctx, ceremonyID, PurposeRegister, userID)
	if err != nil {
		return WebAuthnCredential{}, err
	}
	if reason != "" {
		return WebAuthnCredential{}, errs.Invalid("webauthn_registration_failed", "the registration ceremony is unknown, used or expired")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return WebAuthnCredential{}, errs.Wrap(errs.KindInvalid, "webauthn_registration_failed", "the credential could not be parsed", err)
	}
	u, _, err := w.loadUser(ctx, userID)
	if err != nil {
		return WebAuthnCredential{}, err
	}
	cred, err := w.wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return WebAuthnCredential{}, errs.Wrap(errs.KindInvalid, "webauthn_registration_failed", "the credential could not be verified", err)
	}
	now := w.now()
	rec := WebAuthnCredential{
		ID: cred.ID, UserID: userID, PublicKey: cred.PublicKey,
		AttestationType: cred.AttestationType, AttestationFormat: cred.AttestationFormat,
		AAGUID: cred.Authenticator.AAGUID, Flags: byte(parsed.Response.AttestationObject.AuthData.Flags),
		SignCount: cred.Authenticator.SignCount, Attachment: string(cred.Authenticator.Attachment),
		CreatedAt: now,
	}
	for _, t := range cred.Transport {
		rec.Transports = append(rec.Transports, string(t))
	}
	ok, err := w.store.AddWebAuthnCredential(ctx, rec)
	if err != nil {
		return WebAuthnCredential{}, errs.Internal(fmt.Errorf("mfa: add webauthn credential: %w", err))
	}
	if !ok {
		return WebAuthnCredential{}, errs.E(errs.KindConflict, "credential_already_registered", "this credential is already registered")
	}
	return rec, nil
}

// Credentials lists the user's credentials.
func (w *WebAuthn) Credentials(ctx context.Context, userID uuid.UUID) ([]WebAuthnCredential, error) {
	cs, err := w.store.WebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, errs.Internal(fmt.Errorf("mfa: load webauthn credentials: %w", err))
	}
	return cs, nil
}

// DeleteCredential removes one of the user's credentials; false when the
// user has no credential with this ID.
func (w *WebAuthn) DeleteCredential(ctx context.Context, userID uuid.UUID, credentialID []byte) (bool, error) {
	ok, err := w.store.DeleteWebAuthnCredential(ctx, userID, credentialID)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("mfa: delete webauthn credential: %w", err))
	}
	return ok, nil
}

func validCeremonyID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(ceremonyIDBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}
