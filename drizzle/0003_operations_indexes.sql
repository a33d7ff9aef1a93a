CREATE TABLE `operation_terms` (
	`field` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`field`, `value`)
);
--> statement-breakpoint
CREATE INDEX `bodies_time_idx` ON `bodies` (`time`);--> statement-breakpoint
CREATE INDEX `operations_identity_text_idx` ON `operations` (`identity`,`id`);--> statement-breakpoint
CREATE INDEX `operations_target_id_idx` ON `operations` (`target_id`,`id`);--> statement-breakpoint
CREATE INDEX `operations_resource_type_idx` ON `operations` (`resource_type`,`id`);--> statement-breakpoint
CREATE INDEX `operations_operation_idx` ON `operations` (`operation`,`id`);--> statement-breakpoint
CREATE INDEX `operations_action_idx` ON `operations` (`provisioning_action`,`id`);--> statement-breakpoint
CREATE INDEX `operations_http_status_idx` ON `operations` (`http_status`,`id`);--> statement-breakpoint
CREATE INDEX `operations_reason_idx` ON `operations` (`reason`,`id`) WHERE "operations"."reason" is not null;--> statement-breakpoint
-- operation_terms (hand-written): the distinct values `q` searches, kept by triggers so that every writer
-- (recorder, rebuilds, benchmarks) maintains them. INSERT OR IGNORE on the primary key is one index probe.
CREATE TRIGGER `operations_terms_ai` AFTER INSERT ON `operations` BEGIN
	INSERT OR IGNORE INTO `operation_terms` (`field`, `value`)
	SELECT 'identity', new.`identity` WHERE new.`identity` IS NOT NULL
	UNION ALL SELECT 'targetId', new.`target_id` WHERE new.`target_id` IS NOT NULL
	UNION ALL SELECT 'reason', new.`reason` WHERE new.`reason` IS NOT NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `operations_terms_au` AFTER UPDATE OF `identity`, `target_id`, `reason` ON `operations` BEGIN
	INSERT OR IGNORE INTO `operation_terms` (`field`, `value`)
	SELECT 'identity', new.`identity` WHERE new.`identity` IS NOT NULL
	UNION ALL SELECT 'targetId', new.`target_id` WHERE new.`target_id` IS NOT NULL
	UNION ALL SELECT 'reason', new.`reason` WHERE new.`reason` IS NOT NULL;
END;
--> statement-breakpoint
INSERT OR IGNORE INTO `operation_terms` (`field`, `value`)
	SELECT 'identity', `identity` FROM `operations` WHERE `identity` IS NOT NULL
	UNION ALL SELECT 'targetId', `target_id` FROM `operations` WHERE `target_id` IS NOT NULL
	UNION ALL SELECT 'reason', `reason` FROM `operations` WHERE `reason` IS NOT NULL;
