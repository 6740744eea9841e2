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
CREATE TABLE "chat_reviews" (
	"step_id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"verdict" text NOT NULL,
	"note" text,
	"reviewer" text NOT NULL,
	"reviewer_name" text NOT NULL,
	"via" text NOT NULL,
	"reviewed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "outbox_id" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_outbox_id_idx" ON "audit_events" USING btree ("outbox_id");