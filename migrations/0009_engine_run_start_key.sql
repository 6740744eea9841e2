ALTER TABLE "engine_runs" ADD COLUMN "start_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "engine_runs_start_key_uq" ON "engine_runs" USING btree ("start_key");