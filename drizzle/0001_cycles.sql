CREATE TABLE `cycles` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer NOT NULL,
	`state` text NOT NULL,
	`kind` text NOT NULL,
	`probe_operation_id` integer,
	`probe_status` integer,
	`probe_outcome` text,
	`probe_error_code` text,
	`total` integer DEFAULT 0 NOT NULL,
	`successes` integer DEFAULT 0 NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`warnings` integer DEFAULT 0 NOT NULL,
	`deletes` integer DEFAULT 0 NOT NULL,
	`throttled` integer DEFAULT 0 NOT NULL,
	`users_touched` integer DEFAULT 0 NOT NULL,
	`groups_touched` integer DEFAULT 0 NOT NULL,
	`members_touched` integer DEFAULT 0 NOT NULL,
	`provisioning_ops` integer DEFAULT 0 NOT NULL,
	`lookups` integer DEFAULT 0 NOT NULL,
	`known_identities` integer DEFAULT 0 NOT NULL,
	`counts_by_operation` text DEFAULT '{}' NOT NULL,
	`counts_by_error_code` text DEFAULT '{}' NOT NULL,
	`latency_histogram` text DEFAULT '[]' NOT NULL,
	`latency_sum_ms` integer DEFAULT 0 NOT NULL,
	`latency_max_ms` integer DEFAULT 0 NOT NULL,
	`expected_objects` integer,
	`processed_objects` integer DEFAULT 0 NOT NULL,
	`closed_at` integer
);
--> statement-breakpoint
CREATE INDEX `cycles_started_idx` ON `cycles` (`started_at`);--> statement-breakpoint
CREATE INDEX `cycles_kind_idx` ON `cycles` (`kind`,`id`);--> statement-breakpoint
CREATE INDEX `cycles_running_idx` ON `cycles` (`id`) WHERE "cycles"."state" = 'running';--> statement-breakpoint
CREATE TABLE `identities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type` text NOT NULL,
	`key` text NOT NULL,
	`name` text,
	`external_id` text,
	`target_id` text,
	`last_operation` text,
	`last_operation_id` integer,
	`last_status` text,
	`last_http_status` integer,
	`last_error_code` text,
	`last_reason` text,
	`last_error_at` integer,
	`failing_streak` integer DEFAULT 0 NOT NULL,
	`failing_since` integer,
	`streak_base` integer DEFAULT 0 NOT NULL,
	`last_cycle_id` integer,
	`last_failed_cycle_id` integer,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`active` integer,
	`deleted` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `identities_type_key_idx` ON `identities` (`type`,`key`);--> statement-breakpoint
CREATE INDEX `identities_type_target_idx` ON `identities` (`type`,`target_id`);--> statement-breakpoint
CREATE INDEX `identities_type_name_idx` ON `identities` (`type`,"name" collate nocase);--> statement-breakpoint
CREATE INDEX `identities_status_idx` ON `identities` (`last_status`,`id`);--> statement-breakpoint
CREATE INDEX `identities_failing_idx` ON `identities` (`id`) WHERE "identities"."failing_streak" > 0;--> statement-breakpoint
CREATE TABLE `memberships` (
	`group_identity_id` integer NOT NULL,
	`member_target_id` text NOT NULL,
	`since` integer NOT NULL,
	PRIMARY KEY(`group_identity_id`, `member_target_id`)
);
--> statement-breakpoint
CREATE INDEX `memberships_member_idx` ON `memberships` (`member_target_id`);