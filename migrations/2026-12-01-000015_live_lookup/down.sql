DROP INDEX deployment_targets_live_idx;
DROP TRIGGER deployment_targets_service ON deployment_targets;
DROP FUNCTION deployment_targets_service();
ALTER TABLE deployment_targets DROP COLUMN destination;
ALTER TABLE deployment_targets DROP COLUMN service;
