use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::db::models::deployment::{self, kind, Filter, SummaryRow};
use crate::db::models::status::DeploymentStatus as Status;
use crate::db::models::target;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::deployments::{
    DeploymentFilter, DeploymentSummary, Include, ProgressView, TargetView,
};
use crate::views::page::{Page, PageParams};

/// The org's deployments, newest first, optionally filtered: summaries without the config
/// and the targets unless `include` asks for them (docs/API.md, "Deployment summaries").
#[utoipa::path(get, path = "/v1/deployments", operation_id = "list_deployments", tag = "deployments",
    params(PageParams, DeploymentFilter),
    responses(
        (status = 200, body = Page<DeploymentSummary>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/deployments")]
pub async fn list_deployments(
    user: Viewer,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    filter: web::Query<DeploymentFilter>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.cursor()?;
    let filter = filter.into_inner();
    let include = Include::parse(filter.include.as_deref())?;
    let known = |s: &String| s.parse::<Status>().is_ok();
    if !filter.status.iter().all(known) {
        return Err(ApiError::BadRequest(format!(
            "query parameter `status` must be one of {}",
            Status::ALL.map(Status::as_str).join(", ")
        )));
    }
    if let Some(k) = filter.kind.as_deref().filter(|k| !kind::ALL.contains(k)) {
        return Err(ApiError::BadRequest(format!(
            "query parameter `kind` must be one of {} (not {k:?})",
            kind::ALL.join(", ")
        )));
    }
    let server_id = crate::extract::parse_param("server_id", filter.server_id.as_deref())?;
    let live = crate::extract::parse_param("live", filter.live.as_deref())?;
    let filter = Filter {
        service: filter.service,
        server_id,
        status: filter.status,
        live,
        kind: filter.kind,
    };
    let mut conn = state.conn().await?;
    let rows = deployment::list(&mut conn, &user.org, &filter, before, limit).await?;
    let next = rows
        .more
        .then(|| rows.items.last().map(|r| r.summary.id))
        .flatten();
    let items = summaries(&mut conn, &user.org, rows.items, include).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(crate::views::page::encode_cursor),
    }))
}

/// What `include` adds to each row, with one query each for the whole page.
async fn summaries(
    conn: &mut AsyncPgConnection,
    org: &str,
    rows: Vec<SummaryRow>,
    include: Include,
) -> Result<Vec<DeploymentSummary>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.summary.id).collect();
    let mut targets: HashMap<Uuid, Vec<TargetView>> = HashMap::new();
    if include.targets {
        for (t, name) in target::for_deployments(conn, org, &ids).await? {
            targets
                .entry(t.deployment_id)
                .or_default()
                .push(TargetView::new(t, name));
        }
    }
    let mut configs: HashMap<Uuid, serde_json::Value> = HashMap::new();
    if include.config {
        configs.extend(deployment::configs(conn, org, &ids).await?);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let d = row.summary;
            let progress = ProgressView {
                hosts_total: row.hosts_total as usize,
                hosts_done: row.hosts_done as usize,
                wave: d.wave,
                waves: d.waves,
            };
            let id = d.id;
            let mut item = DeploymentSummary::new(d, progress, row.live);
            if include.targets {
                item.targets = Some(targets.remove(&id).unwrap_or_default());
            }
            item.config = configs.remove(&id);
            item
        })
        .collect())
}
