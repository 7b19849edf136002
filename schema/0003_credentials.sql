-- Password credentials. kind is 'argon2id' for Gatehouse's own hashes,
-- 'legacy' for an imported hash kept as it was, 'wrapped' for an imported
-- fast hash protected as argon2id(pepper(legacy digest)); recipe describes
-- how to re-derive the legacy digest for 'legacy' and 'wrapped' rows.
CREATE TABLE IF NOT EXISTS credentials (
    user_id     UUID PRIMARY KEY,
    home_region TEXT NOT NULL,
    kind        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    recipe      JSONB NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT credentials_kind_check CHECK (kind IN ('argon2id', 'legacy', 'wrapped'))
);
