-- The outbox: messages for the mailer, written in the same transaction as
-- the change that causes them, so none is lost or sent for a change that
-- rolled back.
CREATE TABLE IF NOT EXISTS outbox (
    id          UUID PRIMARY KEY,
    home_region TEXT NOT NULL,
    kind        TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    payload     JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ NULL
);

CREATE INDEX IF NOT EXISTS outbox_unsent_idx ON outbox (home_region, created_at) WHERE sent_at IS NULL;
