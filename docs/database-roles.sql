-- Quench's production database roles (docs/database-roles.md explains each line).
-- Run once, as a PostgreSQL administrator:  psql -v ON_ERROR_STOP=1 -f docs/database-roles.sql
-- Replace the two passwords (or use your own authentication); keep the role names or rename
-- them everywhere in this file. test/integration/audit-roles.test.ts runs this very file.

-- 1. On the cluster: the owner (runs migrations, owns every table, never used by the
--    service) and the service role (what `quench serve` connects as). Neither is a superuser,
--    and the service role is not a member of the owner.
CREATE ROLE quench_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE quench_service NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE quench_owner LOGIN PASSWORD 'change-me-owner';
ALTER ROLE quench_service LOGIN PASSWORD 'change-me-service';
CREATE DATABASE quench OWNER quench_owner;
REVOKE ALL ON DATABASE quench FROM PUBLIC;
GRANT CONNECT ON DATABASE quench TO quench_service;

\connect quench

-- 2. In the database. The owner owns the schemas Quench creates objects in.
ALTER SCHEMA public OWNER TO quench_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO quench_service;
-- drizzle's migration bookkeeping; the service only reads it (readiness, "anything pending?").
CREATE SCHEMA drizzle AUTHORIZATION quench_owner;
GRANT USAGE ON SCHEMA drizzle TO quench_service;

-- 3. Default privileges: every table and sequence the owner creates from now on (the first
--    `quench migrate` and every later migration) is usable by the service at once, in the same
--    statement that creates it, so no "grant after migrate" step can be forgotten. They apply
--    only to objects created BY quench_owner: always migrate as quench_owner.
ALTER DEFAULT PRIVILEGES FOR ROLE quench_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO quench_service;
ALTER DEFAULT PRIVILEGES FOR ROLE quench_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO quench_service;
ALTER DEFAULT PRIVILEGES FOR ROLE quench_owner IN SCHEMA drizzle
  GRANT SELECT ON TABLES TO quench_service;

-- 4. The audit trail: read and append only. Default privileges cannot leave one table out, so
--    migration 0007 takes UPDATE, DELETE, TRUNCATE, REFERENCES and TRIGGER on audit_events back
--    from every role but the owner when it runs. On a database that is already migrated, run
--    this after moving ownership (docs/database-roles.md, "an existing installation"):
--      REVOKE ALL ON audit_events FROM quench_service;
--      GRANT SELECT, INSERT ON audit_events TO quench_service;
--    The audit outbox (entries committed, not yet chained): read, append, and delete, which its
--    trigger allows only for an entry already chained unchanged. Migration 0015 takes UPDATE,
--    TRUNCATE, REFERENCES and TRIGGER back the same way; on an existing installation:
--      REVOKE ALL ON audit_outbox FROM quench_service;
--      GRANT SELECT, INSERT, DELETE ON audit_outbox TO quench_service;
