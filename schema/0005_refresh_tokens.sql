-- Refresh tokens: only a SHA-256 of the token is stored. A used token keeps
-- its row (used_at set) so that presenting it again is recognised as reuse.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  BYTEA PRIMARY KEY,
    session_id  UUID NOT NULL,
    user_id     UUID NOT NULL,
    home_region TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ NULL,
    replaced_by BYTEA NULL
);

CREATE INDEX IF NOT EXISTS refresh_tokens_session_id_idx ON refresh_tokens (session_id);
