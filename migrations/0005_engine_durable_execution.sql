CREATE TABLE "engine_attempts" (
	"step_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"run_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"worker" text NOT NULL,
	"takeovers" integer DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"output" jsonb,
	"error" jsonb,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "engine_dead_letters" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"step_id" text NOT NULL,
	"step_key" text NOT NULL,
	"action" text,
	"attempts" integer NOT NULL,
	"reason" text NOT NULL,
	"error" jsonb NOT NULL,
	"context" jsonb NOT NULL,
	"correlation_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"retried_at" timestamp with time zone,
	"retried_by" text
);
--> statement-breakpoint
CREATE TABLE "engine_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "engine_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"playbook" text NOT NULL,
	"playbook_hash" text NOT NULL,
	"definition" jsonb NOT NULL,
	"state" text NOT NULL,
	"trigger" jsonb,
	"inputs" jsonb NOT NULL,
	"correlation_id" text NOT NULL,
	"drill" jsonb,
	"started_by" text NOT NULL,
	"trace_context" jsonb,
	"error" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "engine_steps" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"step_key" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"wake_at" timestamp with time zone,
	"lease_owner" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"completed_seq" integer,
	"spec" jsonb NOT NULL,
	"output" jsonb,
	"error" jsonb,
	"decision" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"deadline_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "engine_attempts" ADD CONSTRAINT "engine_attempts_step_id_engine_steps_id_fk" FOREIGN KEY ("step_id") REFERENCES "public"."engine_steps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "engine_events" ADD CONSTRAINT "engine_events_run_id_engine_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."engine_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "engine_steps" ADD CONSTRAINT "engine_steps_run_id_engine_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."engine_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "engine_attempts_step_attempt_idx" ON "engine_attempts" USING btree ("step_id","attempt");--> statement-breakpoint
CREATE INDEX "engine_attempts_run_idx" ON "engine_attempts" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "engine_dead_letters_open_idx" ON "engine_dead_letters" USING btree ("created_at") WHERE retried_at is null;--> statement-breakpoint
CREATE INDEX "engine_events_run_type_idx" ON "engine_events" USING btree ("run_id","type");--> statement-breakpoint
CREATE INDEX "engine_runs_state_idx" ON "engine_runs" USING btree ("state","created_at");--> statement-breakpoint
CREATE INDEX "engine_runs_correlation_idx" ON "engine_runs" USING btree ("correlation_id");--> statement-breakpoint
CREATE INDEX "engine_runs_created_idx" ON "engine_runs" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "engine_steps_run_key_idx" ON "engine_steps" USING btree ("run_id","step_key");--> statement-breakpoint
CREATE INDEX "engine_steps_wake_idx" ON "engine_steps" USING btree ("wake_at") WHERE wake_at is not null;--> statement-breakpoint
CREATE INDEX "engine_steps_status_idx" ON "engine_steps" USING btree ("status","kind");