-- Convoy's database of record. Every tenant-owned row carries `org`; history is
-- soft-deleted only (deleted_at), never removed.

CREATE TABLE servers (
    id                   uuid PRIMARY KEY,
    org                  text NOT NULL,
    name                 text NOT NULL,
    hostname             text NOT NULL,
    port                 integer NOT NULL DEFAULT 22 CHECK (port BETWEEN 1 AND 65535),
    ssh_user             text NOT NULL DEFAULT 'root',
    -- XChaCha20-Poly1305 sealed private key (key id + nonce + ciphertext).
    ssh_private_key      bytea NOT NULL,
    host_key_fingerprint text,
    labels               jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);
CREATE UNIQUE INDEX servers_org_name_key ON servers (org, name) WHERE deleted_at IS NULL;
CREATE INDEX servers_org_id_idx ON servers (org, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE templates (
    id          uuid PRIMARY KEY,
    -- NULL for the read-only built-ins shipped in templates/.
    org         text,
    name        text NOT NULL,
    app_type    text NOT NULL CHECK (app_type IN ('rails', 'nextjs', 'postgres', 'redis', 'mysql', 'worker', 'generic')),
    description text NOT NULL DEFAULT '',
    template    text NOT NULL,
    builtin     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK (builtin = (org IS NULL))
);
CREATE UNIQUE INDEX templates_org_name_key ON templates (coalesce(org, ''), name) WHERE deleted_at IS NULL;

CREATE TABLE deployments (
    id            uuid PRIMARY KEY,
    org           text NOT NULL,
    service       text NOT NULL,
    destination   text NOT NULL DEFAULT '',
    version       text NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'scheduled', 'deploying', 'deployed', 'failed', 'cancelled', 'rolled_back')),
    -- The normalised deploy config (no secret values: those live in `secrets`).
    config        jsonb NOT NULL,
    -- Sealed JSON object {NAME: value} of env.secret and registry password values.
    secrets       bytea,
    on_failure    text NOT NULL DEFAULT 'rollback' CHECK (on_failure IN ('rollback', 'halt')),
    rollback_of   uuid REFERENCES deployments (id),
    previous_version text,
    created_by    text NOT NULL,
    error         text,
    scheduled_at  timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    cancel_requested_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);
CREATE INDEX deployments_org_id_idx ON deployments (org, id DESC);
CREATE INDEX deployments_org_service_idx ON deployments (org, service, id DESC);
CREATE INDEX deployments_org_status_idx ON deployments (org, status, id DESC);

CREATE TABLE deployment_targets (
    id            uuid PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    org           text NOT NULL,
    server_id     uuid NOT NULL REFERENCES servers (id),
    role          text NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    step          text,
    previous_version text,
    error         text,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deployment_id, server_id, role)
);
CREATE INDEX deployment_targets_server_idx ON deployment_targets (org, server_id);

CREATE TABLE deployment_events (
    id            bigserial PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    org           text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('deploy_started', 'host_started', 'host_succeeded', 'host_failed', 'deploy_completed', 'deploy_failed', 'cancel_requested', 'cancelled', 'rollback_started', 'rollback_completed', 'rollback_failed')),
    message       text NOT NULL DEFAULT '',
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployment_events_deployment_idx ON deployment_events (deployment_id, id);

CREATE TABLE deployment_logs (
    seq           bigserial PRIMARY KEY,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    org           text NOT NULL,
    target_id     uuid REFERENCES deployment_targets (id),
    stream        text NOT NULL CHECK (stream IN ('command', 'stdout', 'stderr', 'status', 'info')),
    line          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployment_logs_deployment_idx ON deployment_logs (deployment_id, seq);

CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    org           text NOT NULL,
    deployment_id uuid REFERENCES deployments (id),
    -- Grouping key: jobs sharing it never run at the same time (one service at a time).
    queue_key     text NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 5,
    locked_by     text,
    lease_until   timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_runnable_idx ON jobs (run_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_queue_key_idx ON jobs (queue_key) WHERE status IN ('queued', 'running');

CREATE TABLE idempotency_keys (
    org           text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    deployment_id uuid NOT NULL REFERENCES deployments (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org, key)
);

CREATE TABLE service_locks (
    org           text NOT NULL,
    service       text NOT NULL,
    destination   text NOT NULL DEFAULT '',
    deployment_id uuid REFERENCES deployments (id),
    holder        text NOT NULL,
    message       text NOT NULL DEFAULT '',
    acquired_at   timestamptz NOT NULL DEFAULT now(),
    lease_until   timestamptz NOT NULL,
    PRIMARY KEY (org, service, destination)
);
