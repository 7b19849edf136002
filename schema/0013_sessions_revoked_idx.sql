-- Sessions revoked recently, per region: each server re-publishes their
-- revocation marks to its region's Redis every few seconds, so a Redis that
-- restarted empty, or a revocation made by another region during a
-- failover, is covered within seconds (Redis is never the source of truth).
CREATE INDEX IF NOT EXISTS sessions_revoked_at_idx ON sessions (home_region, revoked_at) WHERE revoked_at IS NOT NULL;
