-- No statement looks refresh tokens up by session: a session's tokens die
-- with the session (every redemption joins it), so the index only cost an
-- insertion into a second B-tree on every rotation.
DROP INDEX IF EXISTS refresh_tokens_session_id_idx;
