ALTER TABLE server_events DROP CONSTRAINT server_events_kind_check;
ALTER TABLE server_events ADD CONSTRAINT server_events_kind_check CHECK (kind IN (
    'host_key_pinned', 'host_key_mismatch'));
ALTER TABLE servers DROP COLUMN ssh_proxy;
DROP TABLE service_events;
ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check CHECK (kind IN (
    'deploy_started', 'deploy_resumed', 'host_started', 'host_succeeded', 'host_failed',
    'host_skipped', 'deploy_completed', 'deploy_failed', 'cancel_requested', 'cancelled',
    'rollback_started', 'rollback_completed', 'rollback_failed', 'lock_acquired',
    'lock_waiting', 'lock_released',
    'wave_started', 'wave_completed', 'bake_started', 'bake_passed', 'bake_failed',
    'promoted', 'aborted', 'monitor_started', 'monitor_passed', 'monitor_failed',
    'switched_back', 'window_waiting', 'expired', 'host_unhealthy', 'promote_requested',
    'abort_requested', 'switch_back_requested', 'previous_retired'));
DROP INDEX deployments_org_service_kind_idx;
ALTER TABLE deployments DROP COLUMN operation, DROP COLUMN kind;
