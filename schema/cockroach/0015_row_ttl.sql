-- CockroachDB only. Row-level TTL for the rows that only pile up (issue
-- 15, retention): CockroachDB's TTL job deletes a row once the TIMESTAMPTZ
-- its ttl_expiration_expression gives is in the past (a NULL never
-- expires), in batches, off the request path. `gatehouse purge` and the
-- server's purge loop do the same on PostgreSQL and also remove what an
-- expression cannot express (refresh tokens of revoked sessions, used
-- resets before their expiry). Syntax: "Batch Delete Expired Data with
-- Row-Level TTL", CockroachDB v22.2 and later (ALTER TABLE ... SET
-- (ttl_expiration_expression = ..., ttl_job_cron = ...)).

ALTER TABLE webauthn_ceremonies SET (ttl_expiration_expression = 'expires_at', ttl_job_cron = '@hourly');

ALTER TABLE password_resets SET (ttl_expiration_expression = 'expires_at', ttl_job_cron = '@hourly');

ALTER TABLE sessions SET (ttl_expiration_expression = 'expires_at', ttl_job_cron = '@daily');

ALTER TABLE refresh_tokens SET (ttl_expiration_expression = 'expires_at', ttl_job_cron = '@daily');

ALTER TABLE outbox SET (ttl_expiration_expression = 'sent_at + INTERVAL ''7 days''', ttl_job_cron = '@daily');
