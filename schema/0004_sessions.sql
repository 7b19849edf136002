-- Sessions: one per login; the refresh-token family hangs off it.
CREATE TABLE IF NOT EXISTS sessions (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL,
    home_region   TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    amr           TEXT NOT NULL DEFAULT '',
    acr           TEXT NOT NULL DEFAULT '',
    auth_time     TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    revoked_at    TIMESTAMPTZ NULL,
    revoke_reason TEXT NULL
);

CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);
