-- Set when a login used a password found in a breach corpus: the login
-- succeeded, and the account is asked to change its password (/v1/me).
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_breached BOOL NOT NULL DEFAULT false;
