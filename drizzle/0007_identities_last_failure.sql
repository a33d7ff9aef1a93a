ALTER TABLE `identities` ADD `last_error_operation_id` integer;--> statement-breakpoint
ALTER TABLE `identities` ADD `last_error_http_status` integer;