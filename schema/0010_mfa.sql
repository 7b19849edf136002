-- Second factors (package app/mfa). Every table is regional: home_region is
-- copied from the user's row when a row is written (or, for a passwordless
-- WebAuthn ceremony that has no user yet, is the region of the process that
-- began it), and on CockroachDB it decides the row's home
-- (cockroach/0005_localities_mfa.sql). No foreign keys, like the other
-- regional tables: the store checks the user exists in the INSERT itself.

-- TOTP enrolments: at most one per user (the primary key), pending until a
-- first valid code confirms it. id changes with every new enrolment, so a
-- check made against one seed can never be applied to another. sealed_seed
-- is the AES-256-GCM-sealed seed, never the plain one. last_step is the
-- highest time step accepted: the single-use compare-and-set is
-- UPDATE ... WHERE last_step < $step.
CREATE TABLE IF NOT EXISTS totp_enrolments (
    user_id      UUID PRIMARY KEY,
    id           UUID NOT NULL,
    home_region  TEXT NOT NULL,
    sealed_seed  BYTEA NOT NULL,
    confirmed    BOOL NOT NULL DEFAULT false,
    last_step    INT8 NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ NULL,
    CONSTRAINT totp_enrolments_confirmed_check CHECK (confirmed = (confirmed_at IS NOT NULL))
);

-- Recovery code sets: the user's current set (one per user). The salt is
-- random per set and enters every code's hash. Regenerating replaces the
-- row and all of the set's codes in one transaction.
CREATE TABLE IF NOT EXISTS recovery_code_sets (
    user_id     UUID PRIMARY KEY,
    id          UUID NOT NULL,
    home_region TEXT NOT NULL,
    salt        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Recovery codes: one row per code of a set, only its 32-byte hash kept.
-- The key starts with user_id so that replacing or deleting a user's codes
-- is one key range, and ends with code_hash so that consuming a code is a
-- point UPDATE ... WHERE used_at IS NULL. code_index keeps the set's order.
CREATE TABLE IF NOT EXISTS recovery_codes (
    user_id     UUID NOT NULL,
    set_id      UUID NOT NULL,
    code_hash   BYTEA NOT NULL,
    home_region TEXT NOT NULL,
    code_index  INT4 NOT NULL,
    used_at     TIMESTAMPTZ NULL,
    PRIMARY KEY (user_id, set_id, code_hash)
);

-- WebAuthn credentials (security keys and passkeys). The credential ID is
-- the primary key: it is globally unique, whoever owns it, so registering an
-- ID that exists is refused by the key itself (INSERT ... ON CONFLICT DO
-- NOTHING). sign_count is the highest signature counter accepted (uint32);
-- flags the authenticator data flags as last seen; transports are
-- space-separated; a credential with clone_warning set is refused.
CREATE TABLE IF NOT EXISTS webauthn_credentials (
    id                 BYTEA PRIMARY KEY,
    user_id            UUID NOT NULL,
    home_region        TEXT NOT NULL,
    public_key         BYTEA NOT NULL,
    attestation_type   TEXT NOT NULL DEFAULT '',
    attestation_format TEXT NOT NULL DEFAULT '',
    transports         TEXT NOT NULL DEFAULT '',
    aaguid             BYTEA NULL,
    flags              INT4 NOT NULL DEFAULT 0,
    sign_count         INT8 NOT NULL DEFAULT 0,
    clone_warning      BOOL NOT NULL DEFAULT false,
    attachment         TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    last_used_at       TIMESTAMPTZ NULL,
    CONSTRAINT webauthn_credentials_id_check CHECK (length(id) BETWEEN 1 AND 1023),
    CONSTRAINT webauthn_credentials_flags_check CHECK (flags BETWEEN 0 AND 255),
    CONSTRAINT webauthn_credentials_sign_count_check CHECK (sign_count BETWEEN 0 AND 4294967295)
);

CREATE INDEX IF NOT EXISTS webauthn_credentials_user_id_idx ON webauthn_credentials (user_id);

-- WebAuthn ceremonies: the server side (challenge, session data JSON kept
-- byte for byte) of one registration or login between begin and finish.
-- Taking one is DELETE ... RETURNING, so it is used at most once. user_id is
-- NULL for a passwordless (discoverable) login; such rows are homed in the
-- region that began the ceremony. Rows past expires_at are never returned
-- and may be purged (expires_at index). The same single-use table keeps
-- pending second-factor logins (purpose mfa_login: a correct password
-- waiting for its second factor, keyed by the SHA-256 of the mfa_token).
CREATE TABLE IF NOT EXISTS webauthn_ceremonies (
    id           TEXT PRIMARY KEY,
    user_id      UUID NULL,
    home_region  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    session_data BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    expires_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT webauthn_ceremonies_purpose_check CHECK (purpose IN ('register', 'login', 'passkey', 'mfa_login'))
);

CREATE INDEX IF NOT EXISTS webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);
