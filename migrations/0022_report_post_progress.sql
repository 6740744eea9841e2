ALTER TABLE "report_periods" ADD COLUMN "post_progress" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "report_periods" ADD COLUMN "post_lease_by" text;--> statement-breakpoint
ALTER TABLE "report_periods" ADD COLUMN "post_lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "report_periods" ADD COLUMN "post_tries" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "report_periods" ADD COLUMN "post_next_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "report_periods" ADD COLUMN "post_error" text;