-- Operating services (SPEC §10): operations other than deploy and rollback run as
-- deployments of their own kind (same queue, locks, targets, logs and events); accessories'
-- state; service events (drift); jump hosts; server events for bootstrap.

ALTER TABLE deployments
    -- What the run does. 'deploy' and 'rollback' roll out a version; the others operate
    -- what runs (SPEC §10).
    ADD COLUMN kind text NOT NULL DEFAULT 'deploy' CHECK (kind IN (
        'deploy', 'rollback', 'restart', 'stop', 'start', 'remove', 'exec',
        'accessory_boot', 'accessory_reboot', 'accessory_remove')),
    -- An operation's parameters and result, by kind: exec {command, host, role, exit_code},
    -- accessory_* {accessory}; null for deploy and rollback.
    ADD COLUMN operation jsonb;
UPDATE deployments SET kind = 'rollback' WHERE rollback_of IS NOT NULL;
CREATE INDEX deployments_org_service_kind_idx ON deployments (org, service, destination, kind, id DESC);

ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check CHECK (kind IN (
    'deploy_started', 'deploy_resumed', 'host_started', 'host_succeeded', 'host_failed',
    'host_skipped', 'deploy_completed', 'deploy_failed', 'cancel_requested', 'cancelled',
    'rollback_started', 'rollback_completed', 'rollback_failed', 'lock_acquired',
    'lock_waiting', 'lock_released',
    'wave_started', 'wave_completed', 'bake_started', 'bake_passed', 'bake_failed',
    'promoted', 'aborted', 'monitor_started', 'monitor_passed', 'monitor_failed',
    'switched_back', 'window_waiting', 'expired', 'host_unhealthy', 'promote_requested',
    'abort_requested', 'switch_back_requested', 'previous_retired',
    'operation_started', 'operation_completed', 'operation_failed',
    'accessory_booted', 'accessory_present', 'accessory_removed', 'exec_audit'));

-- What Convoy noticed about a service outside a run: drift found by an inspection.
CREATE TABLE service_events (
    id          bigserial PRIMARY KEY,
    org         text NOT NULL,
    service     text NOT NULL,
    destination text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('drift_detected', 'drift_cleared')),
    message     text NOT NULL DEFAULT '',
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_events_service_idx ON service_events (org, service, destination, id);

-- A server reached through a jump host: {"server_id": uuid} (another registered server of
-- the org) or {"user", "host", "port", "host_key"} (pinned on first contact when absent).
ALTER TABLE servers ADD COLUMN ssh_proxy jsonb;

ALTER TABLE server_events DROP CONSTRAINT server_events_kind_check;
ALTER TABLE server_events ADD CONSTRAINT server_events_kind_check CHECK (kind IN (
    'host_key_pinned', 'host_key_mismatch', 'bootstrap_started', 'bootstrap_completed',
    'bootstrap_failed'));
