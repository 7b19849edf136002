package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/gatehouse-id/gatehouse/app/mfa/webauthntest"
	"github.com/google/uuid"
)

// The test server's issuer is https://auth.test.example, so the relying
// party defaults to its host and origin.
var e2eRP = virtualwebauthn.RelyingParty{ID: "auth.test.example", Name: "Gatehouse", Origin: "https://auth.test.example"}

// waCeremony is a begun WebAuthn ceremony as the API answers it.
type waCeremony struct {
	ID      string
	Options string // {"publicKey": {...}}
}

// ceremonyOf reads a ceremony ({id, options, expires_at}) out of a JSON
// answer; any other shape fails the test.
func ceremonyOf(t *testing.T, what string, m map[string]any) waCeremony {
	t.Helper()
	id, _ := m["id"].(string)
	opts, hasOpts := m["options"]
	exp, _ := m["expires_at"].(string)
	if id == "" || !hasOpts || exp == "" {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		t.Fatalf("%s: the ceremony is not {id, options, expires_at}: it has members %q", what, keys)
	}
	if at, err := time.Parse(time.RFC3339, exp); err != nil || time.Until(at) < 4*time.Minute || time.Until(at) > 6*time.Minute {
		t.Errorf("%s: ceremony expiry %q, want about 5 minutes from now", what, exp)
	}
	raw, err := json.Marshal(opts)
	if id == "" || err != nil || !bytes.HasPrefix(raw, []byte(`{"publicKey":`)) {
		t.Fatalf("%s: no usable ceremony in %v", what, m)
	}
	return waCeremony{ID: id, Options: string(raw)}
}

// waFinish renders {"ceremony_id", "credential"}.
func waFinish(ceremonyID, credential string) string {
	return `{"ceremony_id":"` + ceremonyID + `","credential":` + credential + `}`
}

// key is a software authenticator holding one credential.
type key struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// assert answers an assertion ceremony as seen from party, with the
// signature counter one up.
func (k *key) assert(t *testing.T, c waCeremony, party virtualwebauthn.RelyingParty) string {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(c.Options)
	if err != nil {
		t.Fatalf("assertion options %s: %v", c.Options, err)
	}
	k.cred.Counter++
	return virtualwebauthn.CreateAssertionResponse(party, k.auth, k.cred, *opts)
}

func amrOf(t *testing.T, accessToken string) (amr []string, acr string) {
	t.Helper()
	c := claimsOf(t, accessToken)
	for _, v := range c["amr"].([]any) {
		amr = append(amr, v.(string))
	}
	acr, _ = c["acr"].(string)
	return amr, acr
}

func TestWebAuthnEndToEnd(t *testing.T) {
	s := startServer(t, testEnv(t))
	const email, pw = "webauthn@example.org", "a passphrase with a security key"
	uid := signUp(t, s.URL, email, pw)

	// 1. Password only: aal1.
	plain := login(t, s.URL, email, pw)
	tokA := plain["access_token"].(string)
	if amr, acr := amrOf(t, tokA); acr != "aal1" || !slices.Equal(amr, []string{"pwd"}) {
		t.Fatalf("password-only claims: amr %v acr %s", amr, acr)
	}

	// 2. Register a platform-style authenticator (user verification, not
	// synced: a device-bound key).
	resp, body := call(t, "POST", s.URL+"/v1/mfa/webauthn/register/begin", nil, bearer(tokA)...)
	if resp.StatusCode != 200 {
		t.Fatalf("register/begin: %d %v", resp.StatusCode, body)
	}
	reg := ceremonyOf(t, "register/begin", body)
	att, err := virtualwebauthn.ParseAttestationOptions(reg.Options)
	if err != nil {
		t.Fatalf("attestation options %s: %v", reg.Options, err)
	}
	userHandle := []byte(att.UserID)
	if att.RelyingPartyID != e2eRP.ID || !bytes.Equal(userHandle, must16(t, uid)) || att.UserName != email {
		t.Fatalf("attestation options: %+v (want rp %s, user handle = the user id's bytes, name %s)", att, e2eRP.ID, email)
	}
	k := &key{
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: userHandle}),
		cred: webauthntest.NewEC2Credential(),
	}
	// An attestation made for another origin is refused.
	evilOrigin := e2eRP
	evilOrigin.Origin = "https://evil.example"
	resp, body = call(t, "POST", s.URL+"/v1/mfa/webauthn/register/finish",
		jsonBody(waFinish(reg.ID, virtualwebauthn.CreateAttestationResponse(evilOrigin, k.auth, k.cred, *att))), bearer(tokA)...)
	if resp.StatusCode != 400 || body["error"] != "webauthn_registration_failed" {
		t.Fatalf("registration from a wrong origin: %d %v", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", s.URL+"/v1/mfa/webauthn/register/begin", nil, bearer(tokA)...)
	if resp.StatusCode != 200 {
		t.Fatalf("register/begin: %d %v", resp.StatusCode, body)
	}
	reg = ceremonyOf(t, "register/begin", body)
	if att, err = virtualwebauthn.ParseAttestationOptions(reg.Options); err != nil {
		t.Fatal(err)
	}
	resp, body = call(t, "POST", s.URL+"/v1/mfa/webauthn/register/finish",
		jsonBody(waFinish(reg.ID, virtualwebauthn.CreateAttestationResponse(e2eRP, k.auth, k.cred, *att))), bearer(tokA)...)
	credID := base64.RawURLEncoding.EncodeToString(k.cred.ID)
	if resp.StatusCode != 201 || body["id"] != credID {
		t.Fatalf("register/finish: %d %v (credential id %s)", resp.StatusCode, body, credID)
	}

	// 3. The password alone now asks for the key: mfa_required with an
	// assertion ceremony for this credential.
	startMFA := func() (string, waCeremony) {
		t.Helper()
		resp, body := call(t, "POST", s.URL+"/v1/login", jsonBody(`{"email":"`+email+`","password":"`+pw+`"}`))
		if resp.StatusCode != 401 || body["error"] != "mfa_required" {
			t.Fatalf("login with a key: %d %v", resp.StatusCode, body)
		}
		methods, _ := json.Marshal(body["methods"])
		if !strings.Contains(string(methods), `"webauthn"`) {
			t.Fatalf("methods: %s", methods)
		}
		tok, _ := body["mfa_token"].(string)
		if !strings.HasPrefix(tok, "ghm_us-east1_") {
			t.Fatalf("mfa_token %q", tok)
		}
		w, ok := body["webauthn"].(map[string]any)
		if !ok {
			t.Fatalf("mfa_required without a webauthn ceremony: %v", body)
		}
		c := ceremonyOf(t, "mfa_required.webauthn", w)
		opts, err := virtualwebauthn.ParseAssertionOptions(c.Options)
		if err != nil || opts.RelyingPartyID != e2eRP.ID || !slices.Contains(opts.AllowCredentials, credID) {
			t.Fatalf("assertion options %s: %v", c.Options, err)
		}
		return tok, c
	}
	tok, c := startMFA()
	first, good := c, k.assert(t, c, e2eRP)
	mfaBody := func(tok, ceremonyID, credential string) string {
		return `{"mfa_token":"` + tok + `","webauthn":` + waFinish(ceremonyID, credential) + `}`
	}
	code, tokens := mfaLogin(t, s.URL, mfaBody(tok, c.ID, good))
	if code != 200 {
		t.Fatalf("WebAuthn second factor: %d %v", code, tokens)
	}
	aal2 := tokens["access_token"].(string)
	if amr, acr := amrOf(t, aal2); acr != "aal2" || !slices.Equal(amr, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("claims after WebAuthn: amr %v acr %s", amr, acr)
	}
	if code, b := mfaLogin(t, s.URL, mfaBody(tok, c.ID, good)); code != 401 || b["error"] != "invalid_mfa_token" {
		t.Fatalf("a used mfa_token: %d %v", code, b)
	}

	// 4. Replays with a fresh mfa_token: the old response against the
	// fresh ceremony, then the used ceremony with its response.
	tok, c = startMFA()
	if code, b := mfaLogin(t, s.URL, mfaBody(tok, c.ID, good)); code != 401 || b["error"] != "invalid_code" {
		t.Fatalf("the old response against a fresh ceremony: %d %v", code, b)
	}
	tok, _ = startMFA()
	if code, b := mfaLogin(t, s.URL, mfaBody(tok, first.ID, good)); code != 401 || b["error"] != "invalid_code" {
		t.Fatalf("a replayed ceremony and response: %d %v", code, b)
	}

	// 5. Assertions for a wrong origin or RP ID are refused.
	evilRP := e2eRP
	evilRP.ID = "evil.example"
	for _, party := range []virtualwebauthn.RelyingParty{evilOrigin, evilRP} {
		tok, c := startMFA()
		if code, b := mfaLogin(t, s.URL, mfaBody(tok, c.ID, k.assert(t, c, party))); code != 401 || b["error"] != "invalid_code" {
			t.Fatalf("assertion as seen from %+v: %d %v", party, code, b)
		}
	}
	// The key still works afterwards (the failures left its counter alone).
	tok, c = startMFA()
	if code, b := mfaLogin(t, s.URL, mfaBody(tok, c.ID, k.assert(t, c, e2eRP))); code != 200 {
		t.Fatalf("WebAuthn second factor after refused ones: %d %v", code, b)
	}

	// 6. Passwordless: the credential is discoverable and carries the user
	// handle.
	passkeyBegin := func() waCeremony {
		t.Helper()
		resp, body := call(t, "POST", s.URL+"/v1/login/passkey/begin", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("passkey/begin: %d %v", resp.StatusCode, body)
		}
		c := ceremonyOf(t, "passkey/begin", body)
		if !strings.Contains(c.Options, `"userVerification":"required"`) {
			t.Errorf("passkey options do not require user verification: %s", c.Options)
		}
		return c
	}
	pc := passkeyBegin()
	presp := k.assert(t, pc, e2eRP)
	resp, pk := call(t, "POST", s.URL+"/v1/login/passkey/finish", jsonBody(waFinish(pc.ID, presp)))
	if resp.StatusCode != 200 {
		t.Fatalf("passkey/finish: %d %v", resp.StatusCode, pk)
	}
	for _, f := range []string{"access_token", "refresh_token", "session_id"} {
		if v, _ := pk[f].(string); v == "" {
			t.Fatalf("passkey token response lacks %s: %v", f, pk)
		}
	}
	if amr, acr := amrOf(t, pk["access_token"].(string)); slices.Contains(amr, "pwd") || !slices.Equal(amr, []string{"hwk", "mfa"}) || acr != "aal2" {
		t.Fatalf("passkey claims: amr %v acr %s", amr, acr)
	}
	resp, me := call(t, "GET", s.URL+"/v1/me", nil, bearer(pk["access_token"].(string))...)
	if resp.StatusCode != 200 || me["user_id"] != uid {
		t.Fatalf("/v1/me after a passkey login: %d %v", resp.StatusCode, me)
	}
	if resp, b := call(t, "POST", s.URL+"/v1/login/passkey/finish", jsonBody(waFinish(pc.ID, presp))); resp.StatusCode != 401 {
		t.Fatalf("a replayed passkey login: %d %v", resp.StatusCode, b)
	}
	// Without user verification, or from a wrong origin: refused.
	noUV := *k
	noUV.auth.Options.UserNotVerified = true
	pc = passkeyBegin()
	if resp, b := call(t, "POST", s.URL+"/v1/login/passkey/finish", jsonBody(waFinish(pc.ID, noUV.assert(t, pc, e2eRP)))); resp.StatusCode != 401 {
		t.Fatalf("a passkey login without user verification: %d %v", resp.StatusCode, b)
	}
	k.cred.Counter = noUV.cred.Counter
	pc = passkeyBegin()
	if resp, b := call(t, "POST", s.URL+"/v1/login/passkey/finish", jsonBody(waFinish(pc.ID, k.assert(t, pc, evilOrigin)))); resp.StatusCode != 401 {
		t.Fatalf("a passkey login from a wrong origin: %d %v", resp.StatusCode, b)
	}

	// 7. Removing the key needs a step-up: the password-only session is
	// refused, the aal2 one may, and the other sessions end.
	resp, body = call(t, "DELETE", s.URL+"/v1/mfa/webauthn/"+credID, nil, bearer(tokA)...)
	if resp.StatusCode != 403 || body["error"] != "step_up_required" {
		t.Fatalf("remove without step-up: %d %v", resp.StatusCode, body)
	}
	if resp, body := call(t, "DELETE", s.URL+"/v1/mfa/webauthn/"+credID, nil, bearer(aal2)...); resp.StatusCode != 204 {
		t.Fatalf("remove with step-up: %d %v", resp.StatusCode, body)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(tokA)...); resp.StatusCode != 401 {
		t.Fatalf("other sessions must end when a key is removed: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "GET", s.URL+"/v1/me", nil, bearer(aal2)...); resp.StatusCode != 200 {
		t.Fatalf("the removing session ended: %d", resp.StatusCode)
	}
	if resp, body := call(t, "DELETE", s.URL+"/v1/mfa/webauthn/"+credID, nil, bearer(aal2)...); resp.StatusCode != 404 {
		t.Fatalf("removing it twice: %d %v", resp.StatusCode, body)
	}
	// The password alone suffices again, and the passkey is gone.
	login(t, s.URL, email, pw)
	pc = passkeyBegin()
	if resp, b := call(t, "POST", s.URL+"/v1/login/passkey/finish", jsonBody(waFinish(pc.ID, k.assert(t, pc, e2eRP)))); resp.StatusCode != 401 {
		t.Fatalf("a passkey login with a removed key: %d %v", resp.StatusCode, b)
	}
}

// must16 is the user id's 16 bytes: Gatehouse's WebAuthn user handle.
func must16(t *testing.T, id string) []byte {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	return u[:]
}
