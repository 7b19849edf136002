-- CockroachDB only. Table localities, after 0001_regions made the database
-- multi-region. Rendered as a Go text/template with store.Topology; one DDL
-- statement per step. See README.md in this folder.
--
-- users, credentials, sessions, refresh_tokens: REGIONAL BY ROW, each row
-- homed in the region named by its home_region column.
--
-- ALTER TABLE ... SET LOCALITY REGIONAL BY ROW AS <column> (docs: ALTER
-- TABLE, "Set the table locality to REGIONAL BY ROW", v21.1+) accepts "any
-- column definition you like ... as long as the column is of type
-- crdb_internal_region and is not nullable", and shows a STORED computed
-- column whose expression is a CASE returning region names. home_region is
-- TEXT; the docs show no cast of a STRING column to crdb_internal_region in
-- a computed column, so the column below is the documented CASE, generated
-- from the topology's region list. A home_region that is not in that list
-- makes the CASE NULL and the write fails on NOT NULL: adding a region
-- later means replacing this column (README.md, "Adding a region").
--
-- The column is NOT VISIBLE (like the crdb_region CockroachDB creates by
-- itself) so SELECT * and the portable queries do not see it, and it is
-- computed, so INSERT/UPDATE never name it.
--
-- What REGIONAL BY ROW does to keys (docs: "Table Localities", "Indexes on
-- REGIONAL BY ROW tables"; ALTER TABLE, "Add a unique index to a REGIONAL
-- BY ROW table" and "Using implicit vs. explicit index partitioning"):
--   * the primary key and every secondary index (sessions_user_id_idx,
--     refresh_tokens_session_id_idx, users_external_id_key) are implicitly
--     partitioned by crdb_region, which becomes their hidden first column;
--     converting an existing table rewrites the primary index and all
--     indexes;
--   * PRIMARY KEY and UNIQUE constraints that do not name crdb_region stay
--     globally unique, so every INSERT (and every UPDATE of a unique column)
--     gets a uniqueness check that reads the other regions' partitions. Our
--     keys (users.id, credentials.user_id, sessions.id,
--     refresh_tokens.token_hash, users.external_id) are supplied by the
--     application, not DEFAULT gen_random_uuid(), so the checks are not
--     skipped: writes pay a cross-region round trip;
--   * lookups by a unique key without crdb_region use locality optimized
--     search: local partition first, remote regions only on a miss;
--   * while ADD REGION / DROP REGION runs, index changes and locality
--     changes on REGIONAL BY ROW tables fail, and the other way round.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE users ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE users SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE credentials ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE credentials SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE sessions ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE sessions SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE refresh_tokens SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- email_directory: GLOBAL (docs: ALTER TABLE, "Set the table locality to
-- GLOBAL", v21.1+). Reads are served locally in every region; writes
-- (sign-up, email change) use the non-blocking transaction protocol and are
-- slower. Setting GLOBAL on a table that is already GLOBAL, or REGIONAL BY
-- ROW AS crdb_region on a table that already has it, returns without a
-- change (CockroachDB source, alter_table_locality.go; the docs are silent).
ALTER TABLE email_directory SET LOCALITY GLOBAL;
