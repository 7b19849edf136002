-- The global directory: hash(normalised email) -> (user, home region).
-- Read locally in every region; written at sign-up and email change only.
CREATE TABLE IF NOT EXISTS email_directory (
    email_hash  BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL,
    home_region TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
