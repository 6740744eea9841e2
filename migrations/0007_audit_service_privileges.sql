-- The service role may read and append to the audit trail, nothing else. When the tables are
-- created by a migration role whose default privileges grant the service role UPDATE and
-- DELETE on new tables (the documented set-up, docs/database-roles.md), audit_events gets
-- them too: there is no way to exclude one table from default privileges, so they are taken
-- back here. Only the owner (the migration role) keeps them; it runs migrations, not the
-- service. On a single-role installation (or PGlite) there is no other grantee and this does
-- nothing.
DO $$
DECLARE
  grantee_name text;
BEGIN
  FOR grantee_name IN
    SELECT DISTINCT a.grantee::regrole::text
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = 'audit_events'::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
  LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM %s', grantee_name);
  END LOOP;
  REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM PUBLIC;
END;
$$;
