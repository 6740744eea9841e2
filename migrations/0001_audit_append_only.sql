-- The audit trail is append-only: any UPDATE, DELETE or TRUNCATE through any connection
-- (the application's included) fails. Only a superuser who disables these triggers can
-- alter rows, and `quench audit verify` then finds the broken hash.
CREATE OR REPLACE FUNCTION quench_audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION quench_audit_reject_change();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION quench_audit_reject_change();
