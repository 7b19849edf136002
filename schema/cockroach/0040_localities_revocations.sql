-- CockroachDB only. session_revocations (schema/0040): GLOBAL, like
-- email_directory (docs: ALTER TABLE, "Set the table locality to GLOBAL",
-- v21.1+). Every region's servers poll it a few times a second, so its
-- reads must be local everywhere; writes (one row per revoked session) use
-- the non-blocking transaction protocol and take a few hundred
-- milliseconds, which the revoking server pays in parallel with the direct
-- fan-out to the other regions' Redis (README, "Regions").
ALTER TABLE session_revocations SET LOCALITY GLOBAL;
