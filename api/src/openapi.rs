//! The OpenAPI 3.1 document, built from the handlers' annotations. `convoy openapi`
//! prints it; `openapi/openapi.json` is the committed copy, checked by a test.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Convoy",
        description = "Fleet deployment engine: deploys containerised services to SSH hosts with Kamal 2's on-host conventions.",
        license(name = "MIT")
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::health::openapi_json,
        routes::metrics::get_metrics,
        routes::servers::create::create_server,
        routes::servers::list::list_servers,
        routes::servers::show::get_server,
        routes::servers::update::update_server,
        routes::servers::delete::delete_server,
        routes::servers::check::check_server,
        routes::servers::bootstrap::bootstrap_server_route,
        routes::servers::events::list_server_events,
        routes::templates::create::create_template,
        routes::templates::list::list_templates,
        routes::templates::show::get_template,
        routes::templates::update::update_template,
        routes::templates::delete::delete_template,
        routes::templates::render::render_template,
        routes::deployments::create::create_deployment,
        routes::deployments::plan::plan_deployment,
        routes::deployments::list::list_deployments,
        routes::deployments::show::get_deployment,
        routes::deployments::events::list_deployment_events,
        routes::deployments::logs::get_deployment_logs,
        routes::deployments::cancel::cancel_deployment,
        routes::deployments::rollback::rollback_deployment,
        routes::deployments::steer::promote_deployment,
        routes::deployments::steer::abort_deployment,
        routes::deployments::steer::switch_back_deployment,
        routes::services::list::list_services,
        routes::services::show::get_service,
        routes::services::ops::restart_service,
        routes::services::ops::stop_service,
        routes::services::ops::start_service,
        routes::services::ops::remove_service,
        routes::services::ops::exec_service,
        routes::services::lock::get_service_lock,
        routes::services::lock::release_service_lock,
        routes::services::windows::get_service_windows,
        routes::services::windows::put_service_windows,
        routes::services::inspect::inspect_service,
        routes::services::events::list_service_events,
        routes::services::logs::get_service_logs,
        routes::services::accessories::boot_accessory,
        routes::services::accessories::reboot_accessory,
        routes::services::accessories::remove_accessory,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness and this document"),
        (name = "servers", description = "Fleet hosts reached over SSH"),
        (name = "templates", description = "Kamal deploy.yml templates"),
        (name = "deployments", description = "Deployments, their targets, events and logs"),
        (name = "services", description = "The service inventory (what is live on each host), its lifecycle operations (restart, stop, start, remove, exec), a service's deploy lock and recurring deployment windows"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some(
            "HS256 (or RS256/EdDSA) JWT with claims sub, org, roles (viewer|deployer|admin), exp \
             and optional nbf. Each operation's security requirement names the least role it \
             needs; a weaker token gets 403 before the request body is read."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().expect("the spec serialises");
    json.push('\n');
    json
}

/// Methods documented for the path template matching `path`, for 405 answers.
pub fn methods_for(path: &str) -> Vec<String> {
    let doc = spec();
    let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    doc.paths
        .paths
        .iter()
        .filter(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| (t.starts_with('{') && !w.is_empty()) || t == w)
        })
        .flat_map(|(_, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            methods
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| m.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}
