CREATE TABLE "slo_alert_states" (
	"slo" text NOT NULL,
	"severity" text NOT NULL,
	"status" text NOT NULL,
	"since" timestamp with time zone NOT NULL,
	CONSTRAINT "slo_alert_states_slo_severity_pk" PRIMARY KEY("slo","severity")
);
--> statement-breakpoint
CREATE TABLE "slo_samples" (
	"slo" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"resolution_s" integer NOT NULL,
	"errors" double precision NOT NULL,
	"total" double precision NOT NULL,
	"budget_remaining" real,
	"burn_rate" real,
	CONSTRAINT "slo_samples_slo_resolution_s_at_pk" PRIMARY KEY("slo","resolution_s","at")
);
