CREATE TABLE "ingest_effects" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"inbox_id" bigint NOT NULL,
	"event_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"run_handle" text NOT NULL,
	"playbook" text,
	"signal" text,
	"payload" jsonb NOT NULL,
	"run_id" text,
	"done_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "ingest_inbox" ADD COLUMN "decided_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "ingest_effects" ADD CONSTRAINT "ingest_effects_inbox_id_ingest_inbox_id_fk" FOREIGN KEY ("inbox_id") REFERENCES "public"."ingest_inbox"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ingest_effects_pending_idx" ON "ingest_effects" USING btree ("inbox_id","id") WHERE done_at is null;--> statement-breakpoint
CREATE INDEX "ingest_effects_handle_idx" ON "ingest_effects" USING btree ("run_handle");