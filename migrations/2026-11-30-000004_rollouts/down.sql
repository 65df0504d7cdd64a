DROP TABLE service_windows;
ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check CHECK (kind IN (
    'deploy_started', 'deploy_resumed', 'host_started', 'host_succeeded', 'host_failed',
    'host_skipped', 'deploy_completed', 'deploy_failed', 'cancel_requested', 'cancelled',
    'rollback_started', 'rollback_completed', 'rollback_failed', 'lock_acquired',
    'lock_waiting', 'lock_released'));
ALTER TABLE deployment_targets DROP COLUMN steps, DROP COLUMN wave;
ALTER TABLE deployments DROP COLUMN strategy, DROP COLUMN wave, DROP COLUMN waves,
    DROP COLUMN gate, DROP COLUMN promote_requested_at, DROP COLUMN abort_requested_at,
    DROP COLUMN switch_back_requested_at;
ALTER TABLE deployments DROP CONSTRAINT deployments_status_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_status_check CHECK (status IN (
    'pending', 'scheduled', 'deploying', 'deployed', 'failed', 'cancelled', 'rolled_back'));
