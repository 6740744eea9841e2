CREATE TABLE "report_periods" (
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"origin" text NOT NULL,
	"claimed_by" text NOT NULL,
	"claimed_at" timestamp with time zone NOT NULL,
	"report" jsonb,
	"completed_at" timestamp with time zone,
	"posted_at" timestamp with time zone,
	CONSTRAINT "report_periods_period_start_period_end_pk" PRIMARY KEY("period_start","period_end")
);
