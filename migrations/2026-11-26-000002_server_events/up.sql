-- What happened to a server's SSH identity: the host key pinned on first contact,
-- and checks that met a different key. Append-only, like deployment_events.
CREATE TABLE server_events (
    id         bigserial PRIMARY KEY,
    server_id  uuid NOT NULL REFERENCES servers (id),
    org        text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('host_key_pinned', 'host_key_mismatch')),
    message    text NOT NULL DEFAULT '',
    metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX server_events_server_idx ON server_events (server_id, id);
