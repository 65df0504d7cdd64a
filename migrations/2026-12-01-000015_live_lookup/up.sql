-- What is live is decided per (service, destination, server, role): its newest target
-- that switched the host and was not undone (db/models/inventory.rs). A target carries
-- its deployment's service and destination (which never change), so that one index walk
-- per pair finds that target, instead of sorting every target of the service
-- (GET /v1/deployments' `live`: 190 ms at 10,000 deployments before, docs/API.md).
ALTER TABLE deployment_targets ADD COLUMN service text NOT NULL DEFAULT '';
ALTER TABLE deployment_targets ADD COLUMN destination text NOT NULL DEFAULT '';
UPDATE deployment_targets t SET service = d.service, destination = d.destination
    FROM deployments d WHERE d.id = t.deployment_id;

CREATE FUNCTION deployment_targets_service() RETURNS trigger AS $$
BEGIN
    SELECT d.service, d.destination INTO NEW.service, NEW.destination
        FROM deployments d WHERE d.id = NEW.deployment_id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deployment_targets_service BEFORE INSERT ON deployment_targets
    FOR EACH ROW EXECUTE FUNCTION deployment_targets_service();

CREATE INDEX deployment_targets_live_idx ON deployment_targets
    (org, service, destination, server_id, role, finished_at DESC NULLS LAST, deployment_id DESC);
