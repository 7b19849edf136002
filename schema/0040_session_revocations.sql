-- Revoked sessions, for every region (issue 14). Each server writes a row
-- per session it revokes, and every server reads the rows revoked since
-- its last poll a few times a second to mark them in its own region's
-- Redis, so a revocation reaches a region even when that region's Redis
-- could not be written directly, and a Redis that restarted empty is
-- reloaded from here. GLOBAL on CockroachDB (cockroach/0040): reads are
-- local in every region. Rows are deleted once expires_at (the end of the
-- last access token of the session) has passed.
CREATE TABLE IF NOT EXISTS session_revocations (
    session_id UUID PRIMARY KEY,
    revoked_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS session_revocations_revoked_at_idx ON session_revocations (revoked_at);
CREATE INDEX IF NOT EXISTS session_revocations_expires_at_idx ON session_revocations (expires_at);
