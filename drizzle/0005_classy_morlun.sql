DROP INDEX `outbox_incident_event_seq_idx`;--> statement-breakpoint
ALTER TABLE `outbox` ADD `receiver` text DEFAULT 'email' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_receiver_incident_event_seq_idx` ON `outbox` (`receiver`,`incident_id`,`event`,`sequence`);