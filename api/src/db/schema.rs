// @generated automatically by Diesel CLI.

diesel::table! {
    deployment_events (id) {
        id -> Int8,
        deployment_id -> Uuid,
        org -> Text,
        kind -> Text,
        message -> Text,
        metadata -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    deployment_logs (seq) {
        seq -> Int8,
        deployment_id -> Uuid,
        org -> Text,
        target_id -> Nullable<Uuid>,
        stream -> Text,
        line -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    deployment_targets (id) {
        id -> Uuid,
        deployment_id -> Uuid,
        org -> Text,
        server_id -> Uuid,
        role -> Text,
        status -> Text,
        step -> Nullable<Text>,
        previous_version -> Nullable<Text>,
        error -> Nullable<Text>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        steps -> Jsonb,
        wave -> Nullable<Int4>,
        service -> Text,
        destination -> Text,
    }
}

diesel::table! {
    deployments (id) {
        id -> Uuid,
        org -> Text,
        service -> Text,
        destination -> Text,
        version -> Text,
        status -> Text,
        config -> Jsonb,
        secrets -> Nullable<Bytea>,
        on_failure -> Text,
        rollback_of -> Nullable<Uuid>,
        previous_version -> Nullable<Text>,
        created_by -> Text,
        error -> Nullable<Text>,
        scheduled_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        cancel_requested_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        strategy -> Nullable<Jsonb>,
        wave -> Int4,
        waves -> Int4,
        gate -> Nullable<Jsonb>,
        promote_requested_at -> Nullable<Timestamptz>,
        abort_requested_at -> Nullable<Timestamptz>,
        switch_back_requested_at -> Nullable<Timestamptz>,
        kind -> Text,
        operation -> Nullable<Jsonb>,
    }
}

diesel::table! {
    idempotency_keys (org, key) {
        org -> Text,
        key -> Text,
        request_hash -> Text,
        deployment_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        org -> Text,
        deployment_id -> Nullable<Uuid>,
        queue_key -> Text,
        status -> Text,
        run_at -> Timestamptz,
        attempts -> Int4,
        max_attempts -> Int4,
        locked_by -> Nullable<Text>,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    server_events (id) {
        id -> Int8,
        server_id -> Uuid,
        org -> Text,
        kind -> Text,
        message -> Text,
        metadata -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    servers (id) {
        id -> Uuid,
        org -> Text,
        name -> Text,
        hostname -> Text,
        port -> Int4,
        ssh_user -> Text,
        ssh_private_key -> Bytea,
        host_key_fingerprint -> Nullable<Text>,
        labels -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        ssh_proxy -> Nullable<Jsonb>,
    }
}

diesel::table! {
    service_events (id) {
        id -> Int8,
        org -> Text,
        service -> Text,
        destination -> Text,
        kind -> Text,
        message -> Text,
        metadata -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    service_locks (org, service, destination) {
        org -> Text,
        service -> Text,
        destination -> Text,
        deployment_id -> Nullable<Uuid>,
        holder -> Text,
        message -> Text,
        acquired_at -> Timestamptz,
        lease_until -> Timestamptz,
    }
}

diesel::table! {
    service_windows (org, service, destination) {
        org -> Text,
        service -> Text,
        destination -> Text,
        windows -> Jsonb,
        updated_by -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    templates (id) {
        id -> Uuid,
        org -> Nullable<Text>,
        name -> Text,
        app_type -> Text,
        description -> Text,
        template -> Text,
        builtin -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        variables -> Nullable<Jsonb>,
    }
}

diesel::joinable!(deployment_events -> deployments (deployment_id));
diesel::joinable!(deployment_logs -> deployment_targets (target_id));
diesel::joinable!(deployment_logs -> deployments (deployment_id));
diesel::joinable!(deployment_targets -> deployments (deployment_id));
diesel::joinable!(deployment_targets -> servers (server_id));
diesel::joinable!(idempotency_keys -> deployments (deployment_id));
diesel::joinable!(jobs -> deployments (deployment_id));
diesel::joinable!(server_events -> servers (server_id));
diesel::joinable!(service_locks -> deployments (deployment_id));

diesel::allow_tables_to_appear_in_same_query!(
    deployment_events,
    deployment_logs,
    deployment_targets,
    deployments,
    idempotency_keys,
    jobs,
    server_events,
    servers,
    service_events,
    service_locks,
    service_windows,
    templates,
);
