-- Webhooks (SPEC §11): an org's endpoints, one delivery per matching event and endpoint,
-- and every attempt at it. A delivery is queued by a trigger in the transaction that
-- records the event, so no event is missed whichever code path records it; it is then
-- claimed with FOR UPDATE SKIP LOCKED under a lease, so what a dead process was sending is
-- sent again by another (at least once, with the same webhook-id).

CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    org         text NOT NULL,
    url         text NOT NULL,
    -- Event types (`deployment.deploy_completed`), a family (`deployment.*`) or `*`.
    events      text[] NOT NULL,
    -- The signing key (`whsec_…`), sealed like every secret column.
    secret      bytea NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
CREATE INDEX webhooks_org_idx ON webhooks (org, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Queue order: deliveries of one endpoint and order key go out in this order.
    seq             bigserial UNIQUE,
    webhook_id      uuid NOT NULL REFERENCES webhooks (id),
    org             text NOT NULL,
    event_type      text NOT NULL,
    deployment_id   uuid REFERENCES deployments (id),
    -- The deployment, or the service in its destination, whose events keep their order.
    order_key       text NOT NULL,
    -- {type, timestamp, data}: the body, before redaction at send time.
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'given_up')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Retries stop once the retry window (24 h by default) from here has passed: the
    -- event, or the last redelivery asked for.
    retry_from      timestamptz NOT NULL DEFAULT now(),
    -- The claim of the process sending it now; expired claims are taken again.
    claim           uuid,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (webhook_id, order_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, seq DESC);

CREATE TABLE webhook_attempts (
    id              bigserial PRIMARY KEY,
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id),
    started_at      timestamptz NOT NULL,
    -- The receiver's HTTP status; null when none came (refused, timeout, TLS, policy).
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    -- When the next attempt is due; null when this one ended the delivery.
    next_attempt_at timestamptz
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

CREATE FUNCTION convoy_webhook_matches(events text[], event_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT '*' = ANY (events) OR event_type = ANY (events)
        OR split_part(event_type, '.', 1) || '.*' = ANY (events)
$$;

-- Queues one delivery of an event per matching active webhook of the org. The advisory
-- lock is held until commit: a delivery of an order key becomes visible only after the
-- ones queued before it, so the senders never see a later one alone.
CREATE FUNCTION convoy_webhook_queue(
    org text, event_type text, deployment_id uuid, order_key text, recorded_at timestamptz,
    data jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.org = convoy_webhook_queue.org
                   AND w.active AND w.deleted_at IS NULL
                   AND convoy_webhook_matches(w.events, event_type)) THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('convoy_webhooks'),
                                  hashtext(convoy_webhook_queue.org || ':' || order_key));
    INSERT INTO webhook_deliveries (webhook_id, org, event_type, deployment_id, order_key, payload)
    SELECT w.id, w.org, event_type, convoy_webhook_queue.deployment_id,
        convoy_webhook_queue.order_key,
        jsonb_build_object(
            'type', event_type,
            'timestamp', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'data', data)
    FROM webhooks w
    WHERE w.org = convoy_webhook_queue.org AND w.active AND w.deleted_at IS NULL
      AND convoy_webhook_matches(w.events, event_type);
END $$;

CREATE FUNCTION convoy_webhook_deployment_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d deployments%ROWTYPE;
BEGIN
    SELECT * INTO d FROM deployments WHERE id = NEW.deployment_id;
    PERFORM convoy_webhook_queue(NEW.org, 'deployment.' || NEW.kind, NEW.deployment_id,
        'deployment:' || NEW.deployment_id, NEW.created_at,
        jsonb_build_object(
            'event_id', NEW.id, 'kind', NEW.kind, 'message', NEW.message,
            'metadata', NEW.metadata, 'deployment_id', NEW.deployment_id,
            'run_kind', d.kind, 'service', d.service, 'destination', d.destination,
            'version', d.version, 'status', d.status));
    RETURN NULL;
END $$;

CREATE TRIGGER deployment_events_webhooks AFTER INSERT ON deployment_events
    FOR EACH ROW EXECUTE FUNCTION convoy_webhook_deployment_event();

CREATE FUNCTION convoy_webhook_service_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM convoy_webhook_queue(NEW.org, 'service.' || NEW.kind, NULL,
        'service:' || NEW.service || '/' || NEW.destination, NEW.created_at,
        jsonb_build_object(
            'event_id', NEW.id, 'kind', NEW.kind, 'message', NEW.message,
            'metadata', NEW.metadata, 'service', NEW.service,
            'destination', NEW.destination));
    RETURN NULL;
END $$;

CREATE TRIGGER service_events_webhooks AFTER INSERT ON service_events
    FOR EACH ROW EXECUTE FUNCTION convoy_webhook_service_event();
