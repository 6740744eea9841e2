CREATE TABLE "drill_armed_scenarios" (
	"id" text PRIMARY KEY NOT NULL,
	"scenario" text NOT NULL,
	"playbook" text NOT NULL,
	"start" jsonb NOT NULL,
	"correlation_id" text NOT NULL,
	"state" text NOT NULL,
	"armed_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"owner" text,
	"lease_until" timestamp (3) with time zone,
	"run_id" text,
	"ended_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "drill_armed_scenarios_state_idx" ON "drill_armed_scenarios" USING btree ("state");