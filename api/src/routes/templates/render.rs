use actix_web::{post, web, HttpResponse};
use serde_json::Value;

use crate::auth::Viewer;
use crate::db::models::template::{self, Template};
use crate::error::{ApiError, FieldError};
use crate::extract::Lenient;
use crate::kamal::config::ConfigError;
use crate::kamal::template::{self as kamal_template, Rendered, TemplateError, Variable};
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::intake::{RenderInput, RenderView};

/// Render a template with variables into a Kamal deploy config, validated.
#[utoipa::path(post, path = "/v1/templates/{id}/render", operation_id = "render_template", tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    request_body = RenderInput,
    responses(
        (status = 200, body = RenderView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A variable is missing, unknown, mistyped or secret (each at `variables/NAME`), the body has an unknown key, or the rendered config is invalid: every problem at its path",
            body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[post("/v1/templates/{id}/render")]
pub async fn render_template(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Lenient(input, shape): Lenient<RenderInput>,
) -> Result<HttpResponse, ApiError> {
    let rendered = shape.finish(render_by_id(&state, &user.org, &id, input.variables).await)?;
    Ok(HttpResponse::Ok().json(RenderView {
        config: config_json(&rendered.config),
        config_yaml: rendered.yaml,
    }))
}

async fn render_by_id(
    state: &AppState,
    org: &str,
    id: &str,
    variables: Value,
) -> Result<Rendered, ApiError> {
    let id = parse_id(id, "template")?;
    let mut conn = state.conn().await?;
    let row = template::find(&mut conn, org, id)
        .await
        .map_err(|e| not_found(e, "template"))?;
    drop(conn);
    render_row(row, variables).await
}

/// Renders a template row, the values checked against its variables and defaults
/// filled in. A built-in renders from the binary's copy and its declarations; an org's
/// template from its stored declarations, else those inferred from its source.
/// Rendering is CPU work (bounded by the template limits), so it runs on a blocking
/// thread, never on the async workers that serve every org's requests.
pub async fn render_row(row: Template, variables: Value) -> Result<Rendered, ApiError> {
    let builtin = row
        .builtin
        .then(|| kamal_template::builtin(&row.app_type))
        .flatten();
    let rendered = tokio::task::spawn_blocking(move || match builtin {
        Some(builtin) => builtin.render(&variables),
        None => {
            let declared: Option<Vec<Variable>> =
                row.variables.and_then(|v| serde_json::from_value(v).ok());
            kamal_template::render_declared(&row.template, declared.as_deref(), &variables)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("template render task: {e}")))?;
    rendered.map_err(template_problem)
}

fn template_problem(e: TemplateError) -> ApiError {
    match e {
        TemplateError::MissingVariable(name) if !name.is_empty() => {
            ApiError::invalid_field(format!("variables/{name}"), "is required by the template")
        }
        TemplateError::MissingVariable(_) => {
            ApiError::invalid_field("variables", "a variable the template uses is missing")
        }
        TemplateError::Variables(problems) => ApiError::invalid(
            problems
                .into_iter()
                .map(|p| FieldError::new(format!("variables/{}", p.at), p.message))
                .collect(),
        ),
        TemplateError::VariablesNotObject => ApiError::invalid_field("variables", e.to_string()),
        TemplateError::Syntax(_)
        | TemplateError::NotAllowed(_)
        | TemplateError::Limit(_)
        | TemplateError::Render(_) => ApiError::invalid_field("template", e.to_string()),
        TemplateError::Config { errors, .. } => config_problem(errors, "template"),
    }
}

/// Config errors as one 422; an error about the whole document (no path, e.g. YAML
/// that does not parse) is reported at the request field that held it.
pub fn config_problem(errors: Vec<ConfigError>, source_field: &str) -> ApiError {
    ApiError::invalid(
        errors
            .into_iter()
            .map(|e| match e.path.as_str() {
                "" => FieldError::new(source_field, e.message),
                path => FieldError::new(path, e.message),
            })
            .collect(),
    )
}

/// The normalised config as stored and answered.
pub fn config_json(config: &crate::kamal::config::DeployConfig) -> Value {
    serde_json::to_value(config).expect("a deploy config serialises")
}
