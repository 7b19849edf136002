-- The audit trail and event stream: every auth event, one row each.
--
-- A row is written in the same transaction as the change it records (or,
-- for events that change nothing, such as a failed login, appended in
-- batches off the request path). published_at stays NULL until a relay has
-- handed the event to the broker; the partial index keeps the relay's scan
-- and the backlog metrics to the unpublished rows of one region.
--
-- The primary key leads with user_id, so one user's history is one index
-- range; it includes occurred_at because a partitioned table's keys must
-- contain the partition key. On PostgreSQL the store's partition job
-- turns this table into one partitioned by day (PARTITION BY RANGE is not
-- CockroachDB syntax, so it cannot live here); on CockroachDB the table is
-- REGIONAL BY ROW with row-level TTL (cockroach/0020_auth_events.sql).
CREATE TABLE IF NOT EXISTS auth_events (
    user_id      UUID NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    id           UUID NOT NULL,
    home_region  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    data         JSONB NOT NULL DEFAULT '{}',
    published_at TIMESTAMPTZ NULL,
    PRIMARY KEY (user_id, occurred_at, id)
);

CREATE INDEX IF NOT EXISTS auth_events_unpublished_idx ON auth_events (home_region, occurred_at, id) WHERE published_at IS NULL;

-- One relay per region publishes at a time: it holds the region's lease,
-- taken and renewed with a conditional UPDATE … RETURNING (no advisory
-- locks, which CockroachDB does not have).
CREATE TABLE IF NOT EXISTS event_relay_leases (
    region     TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
