-- Security events: the audit trail of what happened to an account.
CREATE TABLE IF NOT EXISTS security_events (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    home_region TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    detail      JSONB NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS security_events_user_id_idx ON security_events (user_id, created_at);
