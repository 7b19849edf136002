-- Leases of background maintenance (the retention purge): one holder per
-- name (e.g. "purge:us-east1") at a time, until expires_at. A holder renews
-- its lease; another instance takes it only once it has run out.
CREATE TABLE IF NOT EXISTS maintenance_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
