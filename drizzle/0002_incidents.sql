CREATE TABLE `incidents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`rule` text NOT NULL,
	`scope` text NOT NULL,
	`severity` text NOT NULL,
	`state` text NOT NULL,
	`entra_reason` text,
	`summary` text NOT NULL,
	`reason_key` text NOT NULL,
	`evidence` text NOT NULL,
	`started_at` integer NOT NULL,
	`fired_at` integer,
	`last_true_at` integer NOT NULL,
	`cleared_at` integer,
	`resolved_at` integer,
	`acknowledged_at` integer,
	`acknowledged_by` text,
	`ack_comment` text,
	`inhibited_by` text,
	`inhibited_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `incidents_open_key_idx` ON `incidents` (`key`) WHERE "incidents"."state" <> 'resolved';--> statement-breakpoint
CREATE INDEX `incidents_rule_idx` ON `incidents` (`rule`,`id`);--> statement-breakpoint
CREATE INDEX `incidents_state_idx` ON `incidents` (`state`,`id`);--> statement-breakpoint
CREATE TABLE `silences` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`rule` text NOT NULL,
	`identity` text,
	`comment` text DEFAULT '' NOT NULL,
	`created_by` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`ended_at` integer
);
--> statement-breakpoint
CREATE INDEX `silences_expires_idx` ON `silences` (`expires_at`);--> statement-breakpoint
CREATE TABLE `delivery_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`outbox_id` integer NOT NULL,
	`at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`ok` integer NOT NULL,
	`retryable` integer,
	`error` text,
	`response_code` integer,
	`response` text
);
--> statement-breakpoint
CREATE INDEX `delivery_attempts_outbox_idx` ON `delivery_attempts` (`outbox_id`,`id`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`incident_id` integer,
	`event` text NOT NULL,
	`sequence` integer NOT NULL,
	`reason_key` text,
	`created_at` integer NOT NULL,
	`recipients` text DEFAULT '' NOT NULL,
	`subject` text NOT NULL,
	`text` text NOT NULL,
	`html` text NOT NULL,
	`state` text DEFAULT 'unsent' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_attempt_at` integer,
	`last_error` text,
	`sent_at` integer,
	`message_id` text NOT NULL,
	`response` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_incident_event_seq_idx` ON `outbox` (`incident_id`,`event`,`sequence`);--> statement-breakpoint
CREATE INDEX `outbox_due_idx` ON `outbox` (`next_attempt_at`) WHERE "outbox"."state" in ('unsent', 'sending');--> statement-breakpoint
CREATE INDEX `outbox_incident_idx` ON `outbox` (`incident_id`,`id`);