-- Rows stored before this migration covered the resolution_s seconds before their "at".
ALTER TABLE "slo_samples" ADD COLUMN "window_start" timestamp with time zone;--> statement-breakpoint
UPDATE "slo_samples" SET "window_start" = "at" - make_interval(secs => "resolution_s");--> statement-breakpoint
ALTER TABLE "slo_samples" ALTER COLUMN "window_start" SET NOT NULL;
