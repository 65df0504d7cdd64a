//! HTTP handlers, one file per action, all registered here.

pub mod deployments;
pub mod health;
pub mod metrics;
pub mod servers;
pub mod services;
pub mod templates;
pub mod webhooks;

use actix_web::web;

use crate::error::{ApiError, FieldError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::openapi_json)
        .service(metrics::get_metrics)
        .service(servers::create::create_server)
        .service(servers::list::list_servers)
        .service(servers::show::get_server)
        .service(servers::update::update_server)
        .service(servers::delete::delete_server)
        .service(servers::check::check_server)
        .service(servers::bootstrap::bootstrap_server_route)
        .service(servers::events::list_server_events)
        .service(templates::create::create_template)
        .service(templates::list::list_templates)
        .service(templates::show::get_template)
        .service(templates::update::update_template)
        .service(templates::delete::delete_template)
        .service(templates::render::render_template)
        .service(deployments::create::create_deployment)
        .service(deployments::plan::plan_deployment)
        .service(deployments::list::list_deployments)
        .service(deployments::show::get_deployment)
        .service(deployments::events::list_deployment_events)
        .service(deployments::logs::get_deployment_logs)
        .service(deployments::cancel::cancel_deployment)
        .service(deployments::rollback::rollback_deployment)
        .service(deployments::steer::promote_deployment)
        .service(deployments::steer::abort_deployment)
        .service(deployments::steer::switch_back_deployment)
        .service(services::list::list_services)
        .service(services::show::get_service)
        .service(services::ops::restart_service)
        .service(services::ops::stop_service)
        .service(services::ops::start_service)
        .service(services::ops::remove_service)
        .service(services::ops::exec_service)
        .service(services::lock::get_service_lock)
        .service(services::lock::release_service_lock)
        .service(services::windows::get_service_windows)
        .service(services::windows::put_service_windows)
        .service(services::inspect::inspect_service)
        .service(services::events::list_service_events)
        .service(services::logs::get_service_logs)
        .service(services::accessories::boot_accessory)
        .service(services::accessories::reboot_accessory)
        .service(services::accessories::remove_accessory)
        .service(webhooks::create::create_webhook)
        .service(webhooks::list::list_webhooks)
        .service(webhooks::show::get_webhook)
        .service(webhooks::update::update_webhook)
        .service(webhooks::delete::delete_webhook)
        .service(webhooks::deliveries::list_webhook_deliveries)
        .service(webhooks::deliveries::redeliver_webhook_delivery);
}

/// Parses an id from the path; a malformed one is a 404 like any unknown id.
pub fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// Ends validation: any collected field errors become one 422.
pub fn reject(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// A unique-index violation on `name` is a 409 naming it; other database errors pass on.
pub fn name_conflict(e: diesel::result::Error, what: &str, name: &str) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::Conflict(format!("a {what} named {name:?} already exists")),
        other => other.into(),
    }
}

/// Maps diesel's NotFound to a 404 naming the resource.
pub fn not_found(e: diesel::result::Error, what: &str) -> ApiError {
    match e {
        diesel::result::Error::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}
