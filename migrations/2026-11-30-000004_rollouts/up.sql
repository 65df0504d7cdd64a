-- Rollouts (SPEC §9): the strategy a deployment runs, where it is, the requests that steer
-- it, the steps of each target, recurring service windows.

ALTER TABLE deployments DROP CONSTRAINT deployments_status_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_status_check CHECK (status IN (
    'pending', 'scheduled', 'deploying', 'deployed', 'failed', 'cancelled', 'rolled_back',
    'awaiting_promotion', 'monitoring', 'paused', 'aborted', 'expired'));

ALTER TABLE deployments
    -- The validated strategy (null: Kamal's boot groups).
    ADD COLUMN strategy jsonb,
    -- The wave being deployed (1-based; 0 before the first) and how many there are.
    ADD COLUMN wave integer NOT NULL DEFAULT 0,
    ADD COLUMN waves integer NOT NULL DEFAULT 0,
    -- The gate the deployment is in: {"kind": "bake"|"promotion"|"wait"|"monitor"|"window",
    -- "wave": n, "since": ts, "until": ts}; null outside gates.
    ADD COLUMN gate jsonb,
    ADD COLUMN promote_requested_at timestamptz,
    ADD COLUMN abort_requested_at timestamptz,
    ADD COLUMN switch_back_requested_at timestamptz;

ALTER TABLE deployment_targets
    -- [{name, started_at, ended_at, outcome, duration_ms}], in the order they ran.
    ADD COLUMN steps jsonb NOT NULL DEFAULT '[]',
    -- The wave the target's host is in (1-based).
    ADD COLUMN wave integer;

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

-- Recurring deployment windows of a service (SPEC §9): [{days, start, end, time_zone}].
CREATE TABLE service_windows (
    org         text NOT NULL,
    service     text NOT NULL,
    destination text NOT NULL DEFAULT '',
    windows     jsonb NOT NULL DEFAULT '[]',
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org, service, destination)
);
