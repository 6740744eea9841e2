CREATE TABLE "ingest_alerts" (
	"source" text NOT NULL,
	"alert_key" text NOT NULL,
	"status" text NOT NULL,
	"run_ids" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "ingest_alerts_source_alert_key_pk" PRIMARY KEY("source","alert_key")
);
--> statement-breakpoint
CREATE TABLE "ingest_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"inbox_id" bigint NOT NULL,
	"source" text NOT NULL,
	"dedup_key" text NOT NULL,
	"alert_key" text NOT NULL,
	"type" text NOT NULL,
	"resolved" boolean NOT NULL,
	"correlation_id" text NOT NULL,
	"outcome" text NOT NULL,
	"playbook" text,
	"run_id" text,
	"group_key" text,
	"event" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ingest_groups" (
	"playbook" text NOT NULL,
	"group_key" text NOT NULL,
	"run_id" text NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"window_ends_at" timestamp with time zone NOT NULL,
	"members" integer NOT NULL,
	CONSTRAINT "ingest_groups_playbook_group_key_pk" PRIMARY KEY("playbook","group_key")
);
--> statement-breakpoint
CREATE TABLE "ingest_inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"delivery_key" text NOT NULL,
	"webhook_id" text,
	"received_at" timestamp with time zone NOT NULL,
	"headers" jsonb NOT NULL,
	"body" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"processed_at" timestamp with time zone,
	"completions" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
ALTER TABLE "ingest_events" ADD CONSTRAINT "ingest_events_inbox_id_ingest_inbox_id_fk" FOREIGN KEY ("inbox_id") REFERENCES "public"."ingest_inbox"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "ingest_events_dedup_uq" ON "ingest_events" USING btree ("source","dedup_key");--> statement-breakpoint
CREATE INDEX "ingest_events_run_idx" ON "ingest_events" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "ingest_events_outcome_idx" ON "ingest_events" USING btree ("outcome");--> statement-breakpoint
CREATE UNIQUE INDEX "ingest_inbox_delivery_uq" ON "ingest_inbox" USING btree ("source","delivery_key");--> statement-breakpoint
CREATE UNIQUE INDEX "ingest_inbox_webhook_id_uq" ON "ingest_inbox" USING btree ("source","webhook_id");--> statement-breakpoint
CREATE INDEX "ingest_inbox_due_idx" ON "ingest_inbox" USING btree ("next_attempt_at") WHERE status in ('pending', 'processing');--> statement-breakpoint
CREATE INDEX "ingest_inbox_dead_idx" ON "ingest_inbox" USING btree ("id") WHERE status = 'dead';