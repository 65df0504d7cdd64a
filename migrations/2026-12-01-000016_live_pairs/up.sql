-- What is live on each (service, destination, server, role), kept up to date as the runner
-- records its work, so that readers (`live` on deployments, the `live` filter, the
-- services) do one index lookup instead of walking the targets of every pair they show
-- (GET /v1/deployments: about 9 ms a page of 100 at 10,000 deployments, docs/ENGINE.md).
--
-- The live rule (docs/OPERATIONS.md, "What is live") is written once, in
-- `live_pair_refresh` below. A target put its host on its deployment's version when it
-- ended `succeeded`, or `failed` because the host turned unhealthy after its switch (a
-- `host_unhealthy` event for the server: the runner ends such a target `failed` while the
-- host serves the new version). It stopped being live when the failure policy, a cancel
-- or an abort returned the host (`step` `rolled_back: ...`), on a blue-green switch-back
-- (`switched_back`), when a rollback deployment replaced the whole deployment (status
-- `rolled_back`), or when a later `remove` run succeeded on the same server and role (its
-- target ended `succeeded` after the switch). Deleted deployments are left out, and so are
-- the other operations (restart, stop, ...): only `deploy` and `rollback` runs put a
-- version on a host. Of the targets the rule keeps, the one that ended last is live.
-- Deleted servers are left out by the readers (every target of a pair is on its server).
CREATE TABLE live_pairs (
    org           text NOT NULL,
    service       text NOT NULL,
    destination   text NOT NULL,
    server_id     uuid NOT NULL REFERENCES servers (id),
    role          text NOT NULL,
    -- NULL: nothing is live there (any more).
    deployment_id uuid REFERENCES deployments (id),
    -- When the live target ended (the host's switch, as recorded).
    since         timestamptz,
    PRIMARY KEY (org, service, destination, server_id, role)
);
CREATE INDEX live_pairs_deployment_idx ON live_pairs (deployment_id)
    WHERE deployment_id IS NOT NULL;
CREATE INDEX live_pairs_server_idx ON live_pairs (org, server_id)
    WHERE deployment_id IS NOT NULL;

-- Recomputes one pair under its row's lock: a change committed meanwhile by another
-- transaction is seen (each statement of the function reads afresh), so the last
-- transaction to touch a pair writes what all of them together left.
CREATE FUNCTION live_pair_refresh(p_org text, p_service text, p_destination text,
                                  p_server uuid, p_role text) RETURNS void AS $$
DECLARE
    live_id uuid;
    live_since timestamptz;
BEGIN
    INSERT INTO live_pairs (org, service, destination, server_id, role)
        VALUES (p_org, p_service, p_destination, p_server, p_role)
        ON CONFLICT DO NOTHING;
    PERFORM 1 FROM live_pairs
        WHERE org = p_org AND service = p_service AND destination = p_destination
          AND server_id = p_server AND role = p_role
        FOR UPDATE;
    SELECT d.id, COALESCE(t.finished_at, t.updated_at) INTO live_id, live_since
    FROM deployment_targets t
    JOIN deployments d ON d.id = t.deployment_id
    WHERE t.org = p_org AND t.service = p_service AND t.destination = p_destination
      AND t.server_id = p_server AND t.role = p_role
      AND d.deleted_at IS NULL
      AND d.kind IN ('deploy', 'rollback') AND d.status <> 'rolled_back'
      AND (t.step IS NULL OR NOT (starts_with(t.step, 'rolled_back') OR t.step = 'switched_back'))
      AND (t.status = 'succeeded' OR (t.status = 'failed' AND EXISTS (
          SELECT 1 FROM deployment_events e
          WHERE e.deployment_id = t.deployment_id AND e.kind = 'host_unhealthy'
            AND e.metadata ->> 'server_id' = t.server_id::text)))
      AND NOT EXISTS (
          SELECT 1 FROM deployment_targets rt
          JOIN deployments rd ON rd.id = rt.deployment_id
          WHERE rt.org = t.org AND rt.service = t.service AND rt.destination = t.destination
            AND rt.server_id = t.server_id AND rt.role = t.role
            AND rd.kind = 'remove' AND rd.deleted_at IS NULL
            AND rt.status = 'succeeded'
            AND rt.finished_at > COALESCE(t.finished_at, t.updated_at))
    ORDER BY t.finished_at DESC NULLS LAST, d.id DESC
    LIMIT 1;
    UPDATE live_pairs SET deployment_id = live_id, since = live_since
        WHERE org = p_org AND service = p_service AND destination = p_destination
          AND server_id = p_server AND role = p_role
          AND (deployment_id IS DISTINCT FROM live_id OR since IS DISTINCT FROM live_since);
END
$$ LANGUAGE plpgsql;

-- A target changed: its pair. Only a target that is or was `succeeded` or `failed` can
-- change what the rule keeps, so the pending and running ones (a deployment queued behind
-- another, the steps of a host being deployed) never take the pair's lock.
CREATE FUNCTION live_pairs_target() RETURNS trigger AS $$
BEGIN
    PERFORM live_pair_refresh(NEW.org, NEW.service, NEW.destination, NEW.server_id, NEW.role);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER live_pairs_target_insert AFTER INSERT ON deployment_targets
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed'))
    EXECUTE FUNCTION live_pairs_target();

CREATE TRIGGER live_pairs_target_update AFTER UPDATE ON deployment_targets
    FOR EACH ROW
    WHEN (OLD.status IN ('succeeded', 'failed') OR NEW.status IN ('succeeded', 'failed'))
    EXECUTE FUNCTION live_pairs_target();

-- A deployment was rolled back (or no longer is), or deleted: the pairs of its targets.
CREATE FUNCTION live_pairs_deployment() RETURNS trigger AS $$
BEGIN
    PERFORM live_pair_refresh(t.org, t.service, t.destination, t.server_id, t.role)
        FROM deployment_targets t WHERE t.deployment_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER live_pairs_deployment AFTER UPDATE ON deployments
    FOR EACH ROW
    WHEN ((OLD.status = 'rolled_back') IS DISTINCT FROM (NEW.status = 'rolled_back')
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
          OR OLD.kind IS DISTINCT FROM NEW.kind)
    EXECUTE FUNCTION live_pairs_deployment();

-- A host turned unhealthy after its switch: its pairs in that deployment.
CREATE FUNCTION live_pairs_event() RETURNS trigger AS $$
BEGIN
    PERFORM live_pair_refresh(t.org, t.service, t.destination, t.server_id, t.role)
        FROM deployment_targets t
        WHERE t.deployment_id = NEW.deployment_id
          AND t.server_id::text = NEW.metadata ->> 'server_id';
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER live_pairs_event AFTER INSERT ON deployment_events
    FOR EACH ROW WHEN (NEW.kind = 'host_unhealthy')
    EXECUTE FUNCTION live_pairs_event();

-- What is live today.
INSERT INTO live_pairs (org, service, destination, server_id, role)
    SELECT DISTINCT org, service, destination, server_id, role FROM deployment_targets;
SELECT live_pair_refresh(org, service, destination, server_id, role) FROM live_pairs;
