-- The protect-legacy job walks the credentials still of kind 'legacy' in
-- user_id order (keyset pagination). This partial index holds only those
-- rows, so the walk does not scan the argon2id and wrapped majority, and it
-- shrinks to nothing as imported users log in or get wrapped. Partial
-- indexes exist on PostgreSQL and on CockroachDB (v20.2+); on CockroachDB
-- the index is partitioned by crdb_region like every index of this
-- REGIONAL BY ROW table (0002_localities.sql).
CREATE INDEX IF NOT EXISTS credentials_legacy_idx ON credentials (user_id) WHERE kind = 'legacy';
