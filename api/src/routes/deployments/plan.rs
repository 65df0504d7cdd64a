use std::collections::BTreeSet;

use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::Deployer;
use crate::db::models::server;
use crate::error::ApiError;
use crate::extract::Lenient;
use crate::hosts::preflight::{preflight, Preflight, DEFAULT_MIN_FREE_MIB};
use crate::kamal::commands::Stamp;
use crate::kamal::plan::{plan, PlanInput};
use crate::kamal::rollout::traffic_split;
use crate::routes::deployments::intake::{prepare, SecretValues};
use crate::routes::templates::render::{config_json, config_problem};
use crate::state::AppState;
use crate::views::grammar::MAX_MIN_FREE_MIB;
use crate::views::intake::{DeploymentInput, PlanParams, PlanView, PreflightCheckView};

/// Dry run: the normalised config and, per host, the exact commands a deployment of this
/// body would run, secrets redacted, and the rollout (waves and gates) of its `strategy`
/// or, without one, of the config's boot groups. Nothing is stored or executed; secret
/// values may be left out.
///
/// With `?preflight=true`, every host of the plan is also checked, read-only and in
/// parallel (at most 30 s per host): `ssh` (reachable, host key pinned or matching),
/// `docker` (server version), `disk` (free space of Docker's root directory, at least
/// `min_free_mib`), `registry_login` (the config's registry credentials, the password
/// from `secrets`, accepted by the registry as reached from the host) and `image` (the
/// version's tag exists in the registry). A check that needs a failed one is reported
/// `skipped`. Nothing is stored and nothing on a host changes.
#[utoipa::path(post, path = "/v1/deployments/plan", operation_id = "plan_deployment", tag = "deployments",
    params(PlanParams),
    request_body = DeploymentInput,
    responses(
        (status = 200, body = PlanView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not deploy, or the config sets what only an admin may deploy (host access: privileged options, host paths, the proxy image): `errors` names each path", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The named template does not exist", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config or strategy, unknown host, a `group_by` label a server lacks, or unexpected secret: every problem at its path",
            body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/plan")]
pub async fn plan_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    params: web::Query<PlanParams>,
    Lenient(input, shape): Lenient<DeploymentInput>,
) -> Result<HttpResponse, ApiError> {
    if params
        .min_free_mib
        .is_some_and(|mib| mib > MAX_MIN_FREE_MIB)
    {
        return Err(ApiError::BadRequest(format!(
            "query parameter `min_free_mib` must be at most {MAX_MIN_FREE_MIB}"
        )));
    }
    let mut conn = state.conn().await?;
    let mut intake = prepare(
        &mut conn,
        &user.org,
        (input, shape),
        SecretValues::Optional,
        user.role,
        &state.policy,
    )
    .await?;
    // The canaries of a traffic split plan their rollout and its promotion.
    intake.config.traffic_split = traffic_split(intake.strategy.as_ref(), &intake.rollout);
    let config = &intake.config;
    let secret_names: BTreeSet<String> = config.required_secrets().into_keys().collect();
    // A real deploy draws a fresh suffix for a replaced container; so does its preview.
    let replaced_hex = Uuid::new_v4().simple().to_string()[..16].to_string();
    let planned = plan(&PlanInput {
        config,
        version: &intake.version,
        stamp: Stamp {
            performer: &user.sub,
            at: Utc::now(),
        },
        replaced_hex: &replaced_hex,
        secret_names: &secret_names,
    })
    .map_err(|e| config_problem(e, "config"))?;
    let checks = if params.preflight {
        let names: Vec<String> = config.all_hosts().into_iter().map(String::from).collect();
        let servers = server::find_by_names(&mut conn, &user.org, &names).await?;
        // The database connection goes back to the pool for the SSH round trips.
        drop(conn);
        let min_free_mib = params.min_free_mib.unwrap_or(DEFAULT_MIN_FREE_MIB);
        let input = Preflight::new(config, &intake.version, &intake.secrets, min_free_mib);
        let mut checks = preflight(&state, &servers, &input).await;
        // In the config's host order.
        checks.sort_by_key(|c| names.iter().position(|n| *n == c.host));
        Some(checks)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(PlanView {
        config: config_json(config),
        version: intake.version.clone(),
        destination: config.destination.clone(),
        plan: serde_json::to_value(planned).expect("a plan serialises"),
        rollout: intake.rollout.into(),
        preflight_ok: checks.as_ref().map(|c| c.iter().all(|c| c.ok)),
        preflight: checks.map(|c| c.into_iter().map(PreflightCheckView::from).collect()),
    }))
}
