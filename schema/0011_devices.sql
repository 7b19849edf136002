-- Trusted devices: a device that completed a login (with its second factor
-- when the account has one) gets a random device token; only its SHA-256
-- is stored. Presenting it lowers the login's risk: the device is exempt
-- from the lock and from challenges up to a much higher bound.
CREATE TABLE IF NOT EXISTS trusted_devices (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL,
    home_region  TEXT NOT NULL,
    token_hash   BYTEA NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS trusted_devices_token_hash_key ON trusted_devices (token_hash);

CREATE INDEX IF NOT EXISTS trusted_devices_user_id_idx ON trusted_devices (user_id);
