CREATE TABLE "chat_reviews" (
	"step_id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"verdict" text NOT NULL,
	"note" text,
	"reviewer" text NOT NULL,
	"reviewer_name" text NOT NULL,
	"via" text NOT NULL,
	"reviewed_at" timestamp with time zone NOT NULL
);
