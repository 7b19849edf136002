-- OpenID Connect provider (issue 16): registered clients, authorization
-- codes and remembered consent.
--
-- oauth_clients is read on every authorize and token request in every
-- region and written only by an administrator: GLOBAL on CockroachDB
-- (cockroach/0030_localities_oidc.sql). Secrets are 256 random bits; only
-- their SHA-256 is kept. During a rotation the previous secret stays valid
-- until previous_secret_expires_at.
CREATE TABLE IF NOT EXISTS oauth_clients (
    id                          TEXT PRIMARY KEY,
    name                        TEXT NOT NULL,
    confidential                BOOL NOT NULL,
    first_party                 BOOL NOT NULL DEFAULT false,
    secret_hash                 BYTEA NULL,
    previous_secret_hash        BYTEA NULL,
    previous_secret_expires_at  TIMESTAMPTZ NULL,
    redirect_uris               TEXT[] NOT NULL,
    post_logout_redirect_uris   TEXT[] NOT NULL,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL
);

-- An authorization code: only its SHA-256 is stored, with everything it is
-- bound to. used_at and session_id are set together by the one UPDATE that
-- redeems it; a second redemption finds used_at set, sets replayed_at and
-- revokes session_id; the first redemption checks replayed_at once its
-- session exists, so a replay racing it still revokes what it issued.
CREATE TABLE IF NOT EXISTS authorization_codes (
    code_hash       BYTEA PRIMARY KEY,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    user_id         UUID NOT NULL,
    home_region     TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT NOT NULL DEFAULT '',
    code_challenge  TEXT NOT NULL DEFAULT '',
    auth_time       TIMESTAMPTZ NOT NULL,
    amr             TEXT NOT NULL DEFAULT '',
    acr             TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ NULL,
    session_id      UUID NULL,
    replayed_at     TIMESTAMPTZ NULL
);

-- Consent a user gave a third-party client, one row per (user, client).
CREATE TABLE IF NOT EXISTS oauth_grants (
    user_id      UUID NOT NULL,
    client_id    TEXT NOT NULL,
    home_region  TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
