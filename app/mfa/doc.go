// Package mfa is Gatehouse's second-factor logic: TOTP enrolment and
// single-use verification (RFC 6238), recovery codes, WebAuthn registration
// and assertion as a second factor or as a passwordless passkey login, the
// amr/acr values of a login, and strict decoders for the MFA endpoints' JSON.
//
// It decides and calls a Store it is given; it owns no I/O of its own. Every
// check that must hold under concurrency (a TOTP step used once, a recovery
// code consumed once, a WebAuthn ceremony taken once) is a compare-and-set
// the Store performs atomically, as each method's contract spells out.
//
// Throttling failed attempts is not done here: callers feed the results into
// the defense package. Nothing here logs, and no error message ever carries a
// seed, a code or a key.
package mfa
