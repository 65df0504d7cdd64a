//! Convoy's integration tests: one binary, a fresh PostgreSQL database per test.
//! Needs TEST_DATABASE_URL (an admin URL of a PostgreSQL server); `make test` sets it.

mod support;

mod accessories_sim;
mod api_auth;
mod api_deployments;
mod api_engine_controls;
mod api_errors;
mod api_intake;
mod api_inventory;
mod api_progress;
mod api_rollout_plan;
mod api_servers;
mod api_templates;
mod fleet_accessories;
mod fleet_cli;
mod fleet_deploy;
mod fleet_engine;
mod fleet_metrics;
mod fleet_observe;
mod fleet_ops;
mod fleet_preflight;
mod fleet_proxy;
mod fleet_reach;
mod fleet_redaction;
mod fleet_rollouts;
mod fleet_ssh;
mod jobs_fairness;
mod jobs_queue;
mod kamal_cli;
mod kamal_interop;
mod observe_sim;
mod openapi;
mod ops_sim;
mod rollout_sim;
mod rollout_windows;
mod security_bounds;
mod security_hosts;
mod security_options;
mod security_requests;
mod security_roles;
mod security_streams;
mod security_templates;
