-- operation_terms is now kept by an ingest stage (server/store/terms.ts): a trigger on `operations`, even an
-- empty one, made every insert about 20 µs dearer with the table's indexes.
DROP TRIGGER IF EXISTS `operations_terms_ai`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `operations_terms_au`;
