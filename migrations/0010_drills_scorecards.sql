CREATE TABLE "drill_scorecards" (
	"run_id" text PRIMARY KEY NOT NULL,
	"playbook" text NOT NULL,
	"final_state" text NOT NULL,
	"gaps" jsonb NOT NULL,
	"scorecard" jsonb NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"scored_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "drill_scorecards_ended_idx" ON "drill_scorecards" USING btree ("ended_at");