-- Password resets: only a SHA-256 of the emailed token is stored.
CREATE TABLE IF NOT EXISTS password_resets (
    token_hash  BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL,
    home_region TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ NULL
);

CREATE INDEX IF NOT EXISTS password_resets_user_id_idx ON password_resets (user_id);
