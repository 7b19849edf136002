package mfa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Limits of the MFA endpoints' request bodies.
const (
	MaxRequestBytes = 64 << 10
	maxTokenLen     = 2048
	maxJSONDepth    = 32
)

// CodeRequest is the body of POST /v1/mfa/totp/confirm: {"code": "123456"}.
type CodeRequest struct {
	Code string
}

// WebAuthnResponse carries a WebAuthn ceremony's answer: the ceremony ID
// from the begin step and the PublicKeyCredential JSON from the browser. It
// is the body of the register and passkey finish endpoints and the
// "webauthn" member of POST /v1/login/mfa.
type WebAuthnResponse struct {
	CeremonyID string
	Credential json.RawMessage // a JSON object, passed to the library as is
}

// MFALoginRequest is the body of POST /v1/login/mfa: mfa_token and exactly
// one of totp_code, recovery_code and webauthn.
type MFALoginRequest struct {
	MFAToken     string
	TOTPCode     string            // when Method is MethodTOTP
	RecoveryCode string            // normalized, when Method is MethodRecoveryCode
	WebAuthn     *WebAuthnResponse // when Method is MethodWebAuthn
	Method       string
	// ChallengeSolution is the raw challenge_solution member, when sent
	// (checked by the defense, like the login's).
	ChallengeSolution json.RawMessage
}

// Second-factor methods, as named in mfa_required's "methods".
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
	MethodWebAuthn     = "webauthn"
)

func invalid(msg string) error { return errs.Invalid("invalid_request", msg) }

// DecodeCodeRequest reads and validates {"code"}: six digits.
func DecodeCodeRequest(r io.Reader) (CodeRequest, error) {
	m, err := decodeStrict(r, "code")
	if err != nil {
		return CodeRequest{}, err
	}
	code, err := stringField(m, "code")
	if err != nil {
		return CodeRequest{}, err
	}
	if code == nil || !validTOTPCode(*code) {
		return CodeRequest{}, invalid("code must be six digits")
	}
	return CodeRequest{Code: *code}, nil
}

// DecodeWebAuthnResponse reads and validates {"ceremony_id", "credential"}.
func DecodeWebAuthnResponse(r io.Reader) (WebAuthnResponse, error) {
	m, err := decodeStrict(r, "ceremony_id", "credential")
	if err != nil {
		return WebAuthnResponse{}, err
	}
	return webAuthnResponse(m)
}

func webAuthnResponse(m map[string]json.RawMessage) (WebAuthnResponse, error) {
	id, err := stringField(m, "ceremony_id")
	if err != nil {
		return WebAuthnResponse{}, err
	}
	if id == nil || !validCeremonyID(*id) {
		return WebAuthnResponse{}, invalid("ceremony_id is missing or malformed")
	}
	c := bytes.TrimSpace(m["credential"])
	if len(c) < 2 || c[0] != '{' {
		return WebAuthnResponse{}, invalid("credential must be a JSON object")
	}
	return WebAuthnResponse{CeremonyID: *id, Credential: json.RawMessage(bytes.Clone(c))}, nil
}

// DecodeMFALoginRequest reads and validates the body of POST /v1/login/mfa.
func DecodeMFALoginRequest(r io.Reader) (MFALoginRequest, error) {
	m, err := decodeStrict(r, "mfa_token", "totp_code", "recovery_code", "webauthn", "challenge_solution")
	if err != nil {
		return MFALoginRequest{}, err
	}
	var solution json.RawMessage
	if raw := bytes.TrimSpace(m["challenge_solution"]); len(raw) > 0 && string(raw) != "null" {
		solution = json.RawMessage(bytes.Clone(raw))
	}
	token, err := stringField(m, "mfa_token")
	if err != nil {
		return MFALoginRequest{}, err
	}
	if token == nil || !validToken(*token) {
		return MFALoginRequest{}, invalid("mfa_token is missing or malformed")
	}
	req := MFALoginRequest{MFAToken: *token, ChallengeSolution: solution}
	n := 0
	if _, ok := m["totp_code"]; ok {
		n++
		code, err := stringField(m, "totp_code")
		if err != nil {
			return MFALoginRequest{}, err
		}
		if code == nil || !validTOTPCode(*code) {
			return MFALoginRequest{}, invalid("totp_code must be six digits")
		}
		req.TOTPCode, req.Method = *code, MethodTOTP
	}
	if _, ok := m["recovery_code"]; ok {
		n++
		code, err := stringField(m, "recovery_code")
		if err != nil {
			return MFALoginRequest{}, err
		}
		var norm string
		if code != nil {
			norm, ok = NormalizeRecoveryCode(*code)
		}
		if code == nil || !ok {
			return MFALoginRequest{}, invalid("recovery_code is malformed")
		}
		req.RecoveryCode, req.Method = norm, MethodRecoveryCode
	}
	if raw, ok := m["webauthn"]; ok {
		n++
		wm, err := objectFields(raw, "webauthn", "ceremony_id", "credential")
		if err != nil {
			return MFALoginRequest{}, err
		}
		w, err := webAuthnResponse(wm)
		if err != nil {
			return MFALoginRequest{}, err
		}
		req.WebAuthn, req.Method = &w, MethodWebAuthn
	}
	if n != 1 {
		return MFALoginRequest{}, invalid("give exactly one of totp_code, recovery_code and webauthn")
	}
	return req, nil
}

// stringField returns the string member name of m; nil when absent. A
// member of another type (null included) is an error.
func stringField(m map[string]json.RawMessage, name string) (*string, error) {
	raw, ok := m[name]
	if !ok {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return nil, invalid("field " + name + " must be a string")
	}
	return &s, nil
}

// objectFields splits a JSON object into its members, refusing any member
// not in allowed (names match exactly, case included).
func objectFields(raw json.RawMessage, what string, allowed ...string) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, invalid(what + " must be a JSON object")
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return nil, invalid(fmt.Sprintf("unknown field %q", k))
		}
	}
	return m, nil
}

// validToken accepts 1 to 2048 visible ASCII characters.
func validToken(s string) bool {
	if s == "" || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// decodeStrict reads one JSON object of at most MaxRequestBytes and returns
// its members: valid UTF-8, no duplicate keys at any depth, only the allowed
// member names (exact case), nothing after it.
func decodeStrict(r io.Reader, allowed ...string) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return nil, errs.Wrap(errs.KindInvalid, "invalid_request", "the body could not be read", err)
	}
	if len(body) > MaxRequestBytes {
		return nil, errs.E(errs.KindTooLarge, "request_too_large", "the request body is over 64 KiB")
	}
	if !utf8.Valid(body) {
		return nil, invalid("the body is not valid UTF-8")
	}
	if err := checkJSON(body); err != nil {
		return nil, invalid(err.Error())
	}
	return objectFields(body, "the body", allowed...)
}

// checkJSON accepts exactly one JSON object, nested at most maxJSONDepth
// deep, with no key repeated within an object.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the request body is empty")
		}
		return errors.New("the body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("the body must be a JSON object")
	}
	if err := checkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the body must hold exactly one JSON object")
	}
	return nil
}

// checkObject reads the rest of an object whose '{' was read.
func checkObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("the body is not valid JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("the body is not valid JSON")
		}
		if seen[key] {
			return fmt.Errorf("duplicate field %q", key)
		}
		seen[key] = true
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errors.New("the body is not valid JSON")
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("the body is not valid JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxJSONDepth {
		return errors.New("the body is nested too deeply")
	}
	switch d {
	case '{':
		return checkObject(dec, depth+1)
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return errors.New("the body is not valid JSON")
		}
		return nil
	}
	return errors.New("the body is not valid JSON")
}
