CREATE TABLE "audit_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text NOT NULL,
	"action" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"data" jsonb NOT NULL,
	"correlation_id" text,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "outbox_id" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_outbox_id_idx" ON "audit_events" USING btree ("outbox_id");
--> statement-breakpoint
-- The outbox keeps the trail's tamper story for entries not yet chained: the service role may
-- insert and read them, and delete one only after an identical entry is in audit_events
-- (which it cannot change), i.e. only by chaining it. UPDATE and TRUNCATE are rejected.
CREATE OR REPLACE FUNCTION quench_audit_outbox_release() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM audit_events e
    WHERE e.outbox_id = OLD.id AND e.at = OLD.at AND e.actor_type = OLD.actor_type AND e.actor_id = OLD.actor_id
      AND e.action = OLD.action AND e.subject_type = OLD.subject_type AND e.subject_id = OLD.subject_id
      AND e.data = OLD.data AND e.correlation_id IS NOT DISTINCT FROM OLD.correlation_id
  ) THEN
    RAISE EXCEPTION 'audit_outbox entry % may only be deleted once it is chained into audit_events unchanged', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN OLD;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION quench_audit_outbox_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_outbox entries are never changed: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_outbox_release_only_chained
  BEFORE DELETE ON audit_outbox
  FOR EACH ROW EXECUTE FUNCTION quench_audit_outbox_release();
--> statement-breakpoint
CREATE TRIGGER audit_outbox_no_update
  BEFORE UPDATE ON audit_outbox
  FOR EACH ROW EXECUTE FUNCTION quench_audit_outbox_reject_change();
--> statement-breakpoint
CREATE TRIGGER audit_outbox_no_truncate
  BEFORE TRUNCATE ON audit_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION quench_audit_outbox_reject_change();
--> statement-breakpoint
-- As migration 0007 does for audit_events: default privileges may have granted the service
-- role UPDATE/TRUNCATE/TRIGGER on the new table; only the owner keeps them.
DO $$
DECLARE
  grantee_name text;
BEGIN
  FOR grantee_name IN
    SELECT DISTINCT a.grantee::regrole::text
    FROM pg_class c, aclexplode(c.relacl) a
    WHERE c.oid = 'audit_outbox'::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
  LOOP
    EXECUTE format('REVOKE UPDATE, TRUNCATE, REFERENCES, TRIGGER ON audit_outbox FROM %s', grantee_name);
  END LOOP;
  REVOKE UPDATE, TRUNCATE, REFERENCES, TRIGGER ON audit_outbox FROM PUBLIC;
END;
$$;
