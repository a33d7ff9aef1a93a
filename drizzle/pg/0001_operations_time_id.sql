DROP INDEX "operations_time_idx";--> statement-breakpoint
CREATE INDEX "operations_time_idx" ON "operations" USING btree ("time","id");