//! The OpenAPI 3.1 document, built from the handlers' annotations. `convoy openapi`
//! prints it; `openapi/openapi.json` is the committed copy, checked by a test.

use utoipa::openapi::link::Link;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;

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
        routes::webhooks::create::create_webhook,
        routes::webhooks::list::list_webhooks,
        routes::webhooks::show::get_webhook,
        routes::webhooks::update::update_webhook,
        routes::webhooks::delete::delete_webhook,
        routes::webhooks::deliveries::list_webhook_deliveries,
        routes::webhooks::deliveries::redeliver_webhook_delivery,
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        crate::views::enums::DeploymentStatus,
        crate::views::enums::TargetStatus,
        crate::views::enums::DeploymentKind,
        crate::views::enums::OnFailure,
        crate::views::enums::Weekday,
        crate::views::enums::AppType,
        crate::views::grammar::Labels,
        crate::views::grammar::SshProxyInput,
        crate::views::grammar::Command,
        crate::views::grammar::ServerName,
        crate::views::grammar::RoleName,
    )),
    modifiers(&BearerAuth, &ParameterGrammars, &OptionalBodies, &CommonResponses, &PageItemRefs, &Links),
    tags(
        (name = "health", description = "Liveness, readiness and this document"),
        (name = "servers", description = "Fleet hosts reached over SSH"),
        (name = "templates", description = "Kamal deploy.yml templates"),
        (name = "deployments", description = "Deployments, their targets, events and logs"),
        (name = "services", description = "The service inventory (what is live on each host), its lifecycle operations (restart, stop, start, remove, exec), a service's deploy lock and recurring deployment windows"),
        (name = "webhooks", description = "Signed, retried, ordered deliveries of deployment and service events (docs/WEBHOOKS.md)"),
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

/// The grammar of the parameters many operations share, by location and name, as the
/// handlers check them (`views::grammar`).
struct ParameterGrammars;

fn parameter_grammar(location: &ParameterIn, name: &str) -> Option<ObjectBuilder> {
    use crate::views::grammar::*;
    let rule = match (location, name) {
        (ParameterIn::Path, "service") => text("Service name", SERVICE, 63),
        (ParameterIn::Path, "name") => text("Accessory name", ROLE, 63),
        (ParameterIn::Query, "destination") => {
            text("Kamal destination; empty for none", DESTINATION, 63).min_length(None)
        }
        (ParameterIn::Query, "role") => text("Role name", ROLE, 63),
        (ParameterIn::Query, "cursor") => text("Opaque cursor", CURSOR, 512),
        (ParameterIn::Query, "since") => text("Go duration", DURATION, 64),
        (ParameterIn::Header, "Idempotency-Key") => text("Visible ASCII", IDEMPOTENCY_KEY, 255),
        (ParameterIn::Query, "min_free_mib") => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(MAX_MIN_FREE_MIB as f64)),
        _ => return None,
    };
    Some(rule)
}

impl Modify for ParameterGrammars {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                for param in op.parameters.iter_mut().flatten() {
                    if let Some(rule) = parameter_grammar(&param.parameter_in, &param.name) {
                        param.schema = Some(rule.into());
                    } else if let Some(RefOr::T(Schema::Object(schema))) = param.schema.as_mut() {
                        // An absent parameter is left out; `?limit=` (empty) is no null.
                        if let SchemaType::Array(types) = &schema.schema_type {
                            let types: Vec<Type> = types
                                .iter()
                                .filter(|t| **t != Type::Null)
                                .cloned()
                                .collect();
                            if let [one] = types.as_slice() {
                                schema.schema_type = SchemaType::Type(one.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A body that may be left out is an object when given, never JSON `null`.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let Some(body) = op.request_body.as_mut() else {
                    continue;
                };
                for content in body.content.values_mut() {
                    if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                        let not_null = one_of.items.iter().find(|s| {
                            !matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == Type::Null.into())
                        });
                        if let Some(schema) = not_null.cloned() {
                            content.schema = Some(schema);
                        }
                    }
                }
            }
        }
    }
}

/// The statuses every operation of a kind can answer, documented wherever an annotation
/// did not already (with its own description): operations added later inherit them.
struct CommonResponses;

/// `(status, description)` of the answers an operation can give whatever it does.
fn common_statuses(path: &str, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let has_body = op.request_body.is_some();
    let mut statuses = Vec::new();
    if has_query || has_body {
        statuses.push((
            "400",
            "A query parameter out of its range or grammar, or a body that is not JSON",
        ));
    }
    if secured {
        statuses.push((
            "401",
            "The bearer token is missing, malformed, expired, not yet valid or badly signed",
        ));
        statuses.push((
            "403",
            "The token's role is below the one the operation needs",
        ));
    }
    if path.contains('{') {
        statuses.push(("404", "No such resource in the caller's org"));
    }
    if has_body {
        statuses.push(("413", "The body is larger than `CONVOY_MAX_BODY`"));
        statuses.push((
            "422",
            "The body is JSON of the wrong shape or fails validation: `errors` names each field",
        ));
    }
    statuses
}

fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations_mut(item) {
                for (status, description) in common_statuses(path, op) {
                    let response = op.responses.responses.entry(status.to_string());
                    response.or_insert_with(|| problem(description));
                }
            }
        }
    }
}

/// `Page<T>` is generated as `Page_T` with `T` copied inline; point its items at `T`'s own
/// schema so that generated clients have one item type.
struct PageItemRefs;

impl Modify for PageItemRefs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let names: Vec<String> = components.schemas.keys().cloned().collect();
        for (name, schema) in components.schemas.iter_mut() {
            let Some(item) = name.strip_prefix("Page_") else {
                continue;
            };
            assert!(
                names.iter().any(|n| n == item),
                "{name}: register {item} as a component"
            );
            if let RefOr::T(Schema::Object(page)) = schema {
                if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
                    items.items =
                        ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
                }
            }
        }
    }
}

/// OpenAPI links from the operations that create a resource to the ones that take its
/// id, so that a client (or a stateful fuzzer) can follow them.
struct Links;

/// `(operation, status, link name, target operation, target parameter, source expression)`.
const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "create_server",
        "201",
        "GetServer",
        "get_server",
        "id",
        "$response.body#/id",
    ),
    (
        "create_server",
        "201",
        "UpdateServer",
        "update_server",
        "id",
        "$response.body#/id",
    ),
    (
        "create_server",
        "201",
        "CheckServer",
        "check_server",
        "id",
        "$response.body#/id",
    ),
    (
        "create_server",
        "201",
        "BootstrapServer",
        "bootstrap_server",
        "id",
        "$response.body#/id",
    ),
    (
        "create_server",
        "201",
        "ListServerEvents",
        "list_server_events",
        "id",
        "$response.body#/id",
    ),
    (
        "create_server",
        "201",
        "DeleteServer",
        "delete_server",
        "id",
        "$response.body#/id",
    ),
    (
        "create_template",
        "201",
        "GetTemplate",
        "get_template",
        "id",
        "$response.body#/id",
    ),
    (
        "create_template",
        "201",
        "UpdateTemplate",
        "update_template",
        "id",
        "$response.body#/id",
    ),
    (
        "create_template",
        "201",
        "RenderTemplate",
        "render_template",
        "id",
        "$response.body#/id",
    ),
    (
        "create_template",
        "201",
        "DeleteTemplate",
        "delete_template",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "GetDeployment",
        "get_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "ListDeploymentEvents",
        "list_deployment_events",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "GetDeploymentLogs",
        "get_deployment_logs",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "PromoteDeployment",
        "promote_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "AbortDeployment",
        "abort_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "CancelDeployment",
        "cancel_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "RollbackDeployment",
        "rollback_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "SwitchBackDeployment",
        "switch_back_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "create_deployment",
        "202",
        "GetService",
        "get_service",
        "service",
        "$response.body#/service",
    ),
    (
        "create_deployment",
        "202",
        "GetServiceLock",
        "get_service_lock",
        "service",
        "$response.body#/service",
    ),
    (
        "create_deployment",
        "202",
        "InspectService",
        "inspect_service",
        "service",
        "$response.body#/service",
    ),
    (
        "create_deployment",
        "202",
        "ListServiceEvents",
        "list_service_events",
        "service",
        "$response.body#/service",
    ),
    (
        "create_deployment",
        "202",
        "GetServiceWindows",
        "get_service_windows",
        "service",
        "$response.body#/service",
    ),
    (
        "rollback_deployment",
        "202",
        "GetRollback",
        "get_deployment",
        "id",
        "$response.body#/id",
    ),
    (
        "rollback_deployment",
        "202",
        "ListRollbackEvents",
        "list_deployment_events",
        "id",
        "$response.body#/id",
    ),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let ids: Vec<String> = openapi
            .paths
            .paths
            .values_mut()
            .flat_map(operations_mut)
            .filter_map(|op| op.operation_id.clone())
            .collect();
        for item in openapi.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let Some(id) = op.operation_id.clone() else {
                    continue;
                };
                for (_, status, name, target, param, source) in
                    LINKS.iter().filter(|link| link.0 == id)
                {
                    assert!(ids.iter().any(|i| i == target), "link to unknown {target}");
                    if let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) {
                        let link = Link::builder()
                            .operation_id(*target)
                            .parameter(*param, *source);
                        response.links.insert(name.to_string(), link.build().into());
                    }
                }
            }
        }
    }
}

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served and committed. utoipa 5 writes a link's `operationId` as
/// `operation_id`; this is the one place that renames it.
pub fn spec_value() -> serde_json::Value {
    let mut doc = serde_json::to_value(spec()).expect("the spec serialises");
    rename_link_operation_ids(&mut doc);
    doc
}

fn rename_link_operation_ids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                for link in links.values_mut() {
                    if let Some(link) = link.as_object_mut() {
                        if let Some(id) = link.remove("operation_id") {
                            link.insert("operationId".into(), id);
                        }
                    }
                }
            }
            map.values_mut().for_each(rename_link_operation_ids);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rename_link_operation_ids),
        _ => {}
    }
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = serde_json::to_string_pretty(&spec_value()).expect("the spec serialises");
    json.push('\n');
    json
}

/// A path segment against a template's: a literal is itself; an `{id}` is id-shaped (the
/// routes' `{id:[0-9a-fA-F-]+}`), any other parameter a non-empty segment.
fn segment_matches(template: &str, segment: &str) -> bool {
    match template {
        "{id}" => !segment.is_empty() && segment.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        t if t.starts_with('{') => !segment.is_empty(),
        t => t == segment,
    }
}

/// Methods documented for the path template matching `path`, for 405 answers. A literal
/// segment wins over a parameter (`/v1/deployments/plan` is not `/v1/deployments/{id}`), as
/// in the router.
pub fn methods_for(path: &str) -> Vec<String> {
    let mut doc = spec();
    let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let matching: Vec<(usize, &mut PathItem)> = doc
        .paths
        .paths
        .iter_mut()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| segment_matches(t, w));
            let literals = parts.iter().filter(|t| !t.starts_with('{')).count();
            matches.then_some((literals, item))
        })
        .collect();
    let best = matching.iter().map(|(literals, _)| *literals).max();
    let mut methods = Vec::new();
    for (_, item) in matching.into_iter().filter(|(l, _)| Some(*l) == best) {
        let present = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        methods.extend(
            present
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| m.to_string()),
        );
    }
    methods
}
