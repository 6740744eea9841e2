CREATE TABLE "gate_budgets" (
	"slo" text PRIMARY KEY NOT NULL,
	"service" text NOT NULL,
	"status" jsonb NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gate_freezes" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"services" jsonb NOT NULL,
	"slo" text,
	"blocks" text NOT NULL,
	"reason" text NOT NULL,
	"evidence" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"until" timestamp with time zone,
	"lifted_at" timestamp with time zone,
	"lifted_by" text,
	"lift_reason" text,
	"run_id" text
);
--> statement-breakpoint
CREATE TABLE "gate_overrides" (
	"id" text PRIMARY KEY NOT NULL,
	"service" text NOT NULL,
	"change_id" text,
	"reason" text NOT NULL,
	"requested_by" text NOT NULL,
	"approvers" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"until" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "gate_freezes_one_auto_per_slo" ON "gate_freezes" USING btree ("slo") WHERE kind = 'auto' and lifted_at is null;--> statement-breakpoint
CREATE INDEX "gate_freezes_open" ON "gate_freezes" USING btree ("lifted_at");