ALTER TABLE "audit_outbox" ALTER COLUMN "at" SET DATA TYPE timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "audit_outbox" ADD COLUMN "mac" text;