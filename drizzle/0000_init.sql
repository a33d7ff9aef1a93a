CREATE TABLE `bodies` (
	`operation_id` integer PRIMARY KEY NOT NULL,
	`time` integer NOT NULL,
	`request_body` text,
	`request_truncated` integer DEFAULT false NOT NULL,
	`response_body` text,
	`response_truncated` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `operations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`cycle_id` integer,
	`identity_id` integer,
	`http_method` text NOT NULL,
	`path` text NOT NULL,
	`query` text DEFAULT '' NOT NULL,
	`http_status` integer,
	`resource_type` text NOT NULL,
	`operation` text NOT NULL,
	`provisioning_action` text NOT NULL,
	`status` text NOT NULL,
	`identity_type` text,
	`identity` text,
	`external_id` text,
	`target_id` text,
	`error_code` text,
	`scim_type` text,
	`reason` text,
	`modified_properties` text DEFAULT '[]' NOT NULL,
	`members` text DEFAULT '[]' NOT NULL,
	`request_bytes` integer DEFAULT 0 NOT NULL,
	`response_bytes` integer DEFAULT 0 NOT NULL,
	`token_fingerprint` text,
	`client_ip` text,
	`user_agent` text
);
--> statement-breakpoint
CREATE INDEX `operations_time_idx` ON `operations` (`time`);--> statement-breakpoint
CREATE INDEX `operations_cycle_idx` ON `operations` (`cycle_id`,`id`);--> statement-breakpoint
CREATE INDEX `operations_identity_idx` ON `operations` (`identity_id`,`id`);--> statement-breakpoint
CREATE INDEX `operations_status_idx` ON `operations` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `operations_error_code_idx` ON `operations` (`error_code`,`id`) WHERE "operations"."error_code" is not null;