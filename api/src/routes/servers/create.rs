use actix_web::{post, web, HttpResponse};
use uuid::Uuid;

use crate::auth::Admin;
use crate::db::models::server::{self, NewServer};
use crate::error::ApiError;
use crate::extract::Lenient;
use crate::hosts::{check_jump_host, host_key_fingerprint};
use crate::routes::name_conflict;
use crate::state::AppState;
use crate::views::servers::{parse_ssh_proxy, CreateServer, ServerView};

/// Register a server. The private key is sealed at rest and never returned.
#[utoipa::path(post, path = "/v1/servers", operation_id = "create_server", tag = "servers",
    request_body = CreateServer,
    responses(
        (status = 201, body = ServerView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/servers")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn create_server(
    user: Admin,
    state: web::Data<AppState>,
    Lenient(input, shape): Lenient<CreateServer>,
) -> Result<HttpResponse, ApiError> {
    shape.reject(input.validate(&state.policy))?;
    let id = Uuid::now_v7();
    let fingerprint = input.host_key.as_deref().and_then(host_key_fingerprint);
    let sealed = state.keyring.seal(
        id,
        "ssh_private_key",
        input.ssh_private_key.expose().as_bytes(),
    );
    let labels = serde_json::to_value(&input.labels).map_err(anyhow::Error::from)?;
    let mut conn = state.conn().await?;
    let ssh_proxy = match &input.ssh_proxy {
        Some(value) => {
            let proxy = parse_ssh_proxy(value, &state.policy).map_err(ApiError::invalid)?;
            check_jump_host(&mut conn, &user.org, None, &proxy).await?;
            Some(proxy.to_value())
        }
        None => None,
    };
    let row = server::insert(
        &mut conn,
        NewServer {
            id,
            org: &user.org,
            name: &input.name,
            hostname: &input.hostname,
            port: input.port.unwrap_or(22) as i32,
            ssh_user: input.ssh_user.as_deref().unwrap_or("root"),
            ssh_private_key: sealed,
            host_key_fingerprint: fingerprint.as_deref(),
            labels,
            ssh_proxy,
        },
    )
    .await
    .map_err(|e| name_conflict(e, "server", &input.name))?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/servers/{}", row.id)))
        .json(ServerView::from(row)))
}
