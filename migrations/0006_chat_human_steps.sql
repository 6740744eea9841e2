CREATE TABLE "chat_group_cursors" (
	"group_id" text PRIMARY KEY NOT NULL,
	"cursor" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat_human_steps" (
	"step_id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"correlation_id" text NOT NULL,
	"view" jsonb NOT NULL,
	"playbook" text NOT NULL,
	"severity" text,
	"status" text NOT NULL,
	"assign" jsonb,
	"level" integer DEFAULT 1 NOT NULL,
	"group_id" text,
	"assignees" jsonb NOT NULL,
	"sla" jsonb,
	"queued_at" timestamp with time zone NOT NULL,
	"offered_at" timestamp with time zone,
	"decided_at" timestamp with time zone,
	"reminded_at" timestamp with time zone,
	"escalated_at" timestamp with time zone,
	"timer_at" timestamp with time zone,
	"channel" text,
	"message_ts" text,
	"flagged_for_review" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chat_inbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"item" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"processed_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error" text,
	CONSTRAINT "chat_inbox_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "chat_run_threads" (
	"run_id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"ts" text NOT NULL,
	"acknowledged_by" text,
	"acknowledged_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "chat_human_steps_timer_idx" ON "chat_human_steps" USING btree ("timer_at") WHERE timer_at is not null;--> statement-breakpoint
CREATE INDEX "chat_human_steps_queue_idx" ON "chat_human_steps" USING btree ("group_id","status","queued_at");--> statement-breakpoint
CREATE INDEX "chat_human_steps_run_idx" ON "chat_human_steps" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "chat_inbox_pending_idx" ON "chat_inbox" USING btree ("received_at") WHERE processed_at is null;