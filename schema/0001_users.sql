-- Users: one row per account, homed in the user's region.
CREATE TABLE IF NOT EXISTS users (
    id                   UUID PRIMARY KEY,
    home_region          TEXT NOT NULL,
    email                TEXT NOT NULL,
    email_verified       BOOL NOT NULL DEFAULT false,
    external_id          TEXT NULL,
    status               TEXT NOT NULL DEFAULT 'active',
    must_change_password BOOL NOT NULL DEFAULT false,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_status_check CHECK (status IN ('active', 'banned'))
);

CREATE UNIQUE INDEX IF NOT EXISTS users_external_id_key ON users (external_id);
