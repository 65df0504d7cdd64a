-- The engine: more event kinds, and a wake-up for idle workers.

ALTER TABLE deployment_events DROP CONSTRAINT deployment_events_kind_check;
ALTER TABLE deployment_events ADD CONSTRAINT deployment_events_kind_check CHECK (kind IN (
    'deploy_started', 'deploy_resumed', 'host_started', 'host_succeeded', 'host_failed',
    'host_skipped', 'deploy_completed', 'deploy_failed', 'cancel_requested', 'cancelled',
    'rollback_started', 'rollback_completed', 'rollback_failed', 'lock_acquired',
    'lock_waiting', 'lock_released'));

-- Workers LISTEN on convoy_jobs; a new or re-queued job wakes one up at once instead of
-- at the next poll.
CREATE FUNCTION convoy_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('convoy_jobs', NEW.queue_key);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION convoy_jobs_notify();

-- Finished or failed jobs free their service: wake the next one.
CREATE TRIGGER jobs_notify_done AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status IN ('done', 'failed')) EXECUTE FUNCTION convoy_jobs_notify();
