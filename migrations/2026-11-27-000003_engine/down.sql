DROP TRIGGER jobs_notify_done ON jobs;
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION convoy_jobs_notify();
ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check CHECK (kind IN (
    'deploy_started', 'host_started', 'host_succeeded', 'host_failed', 'deploy_completed',
    'deploy_failed', 'cancel_requested', 'cancelled', 'rollback_started', 'rollback_completed',
    'rollback_failed'));
