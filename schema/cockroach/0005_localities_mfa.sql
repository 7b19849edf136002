-- CockroachDB only. REGIONAL BY ROW for the second-factor tables that
-- portable migration 0010_mfa added (totp_enrolments, recovery_code_sets,
-- recovery_codes, webauthn_credentials, webauthn_ceremonies), exactly as
-- 0002_localities does for the first regional tables: a STORED, NOT VISIBLE
-- crdb_region computed from home_region, then SET LOCALITY.
--
-- The primary keys do not name crdb_region, so they stay globally unique:
-- a registered WebAuthn credential ID is unique across every region (what
-- AddWebAuthnCredential relies on), at the price of a cross-region
-- uniqueness check on each insert. Lookups by key search the local
-- partition first. A passwordless ceremony is homed in the region that began
-- it (the store's Options.Region), where its finish request is served.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE totp_enrolments ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE totp_enrolments SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE recovery_code_sets ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE recovery_code_sets SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE recovery_codes ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE recovery_codes SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE webauthn_credentials ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE webauthn_credentials SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE webauthn_ceremonies ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE webauthn_ceremonies SET LOCALITY REGIONAL BY ROW AS crdb_region;
