-- The chain hashes an entry's time in milliseconds; with microseconds stored, an edit of less than
-- a millisecond went unnoticed. Older values are truncated, not rounded (a plain cast rounds
-- .123999 up to .124): drivers read them truncated, so that is what their hashes cover.
ALTER TABLE "audit_events" ALTER COLUMN "at" SET DATA TYPE timestamp (3) with time zone USING date_trunc('milliseconds', "at");
