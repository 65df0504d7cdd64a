use std::collections::BTreeMap;

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Deployer;
use crate::crypto::Keyring;
use crate::db::models::deployment::{self, kind, Deployment, NewDeployment, SECRETS_COLUMN};
use crate::db::models::idempotency::{self, IdempotencyKey};
use crate::db::models::status::DeploymentStatus::{Pending, Scheduled};
use crate::error::ApiError;
use crate::extract::{from_value_lenient, Body};
use crate::kamal::config::OnFailure;
use crate::routes::deployments::intake::{check_required_deployment, prepare, SecretValues};
use crate::routes::deployments::with_targets;
use crate::routes::templates::render::config_json;
use crate::secret::Secret;
use crate::state::AppState;
use crate::views::deployments::DeploymentView;
use crate::views::intake::DeploymentInput;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const MAX_KEY_LEN: usize = 255;

/// Validate a deploy request and queue the deployment.
#[utoipa::path(post, path = "/v1/deployments", operation_id = "create_deployment", tag = "deployments",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Retry-safe key (at most 255 visible ASCII characters), scoped to the org: the same key with the same body answers the same deployment, with another body 409")),
    request_body = DeploymentInput,
    responses(
        (status = 202, body = DeploymentView, description = "Queued (or, for a repeated Idempotency-Key, the deployment it created)",
            headers(("Location" = String, description = "The deployment"),
                ("Idempotent-Replayed" = String, description = "`true` when an earlier request with this key created it"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not deploy, or the config sets what only an admin may deploy (host access: privileged options, host paths, the proxy image): `errors` names each path", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The named template does not exist", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The Idempotency-Key was used with another body, or `strategy.require_deployed` names a destination this version is not deployed on", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid config or strategy, unknown host, a `group_by` label a server lacks, missing or unexpected secret: every problem at its path",
            body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments")]
pub async fn create_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    req: HttpRequest,
    Body(body): Body<Value>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let hash = request_hash(&body);
    let (input, shape) = from_value_lenient::<DeploymentInput>(body)?;
    // Validated with the rest by `prepare`; stored as given, planned again by the runner.
    let strategy = input.strategy.clone();
    let mut conn = state.conn().await?;
    let replay = async |conn: &mut AsyncPgConnection, used, secrets: &_| {
        let row = replayable(conn, &state.keyring, &user.org, used, &hash, secrets).await?;
        accepted(conn, &user.org, row, true).await
    };
    // A body with shape problems is answered with them (by `prepare`), never replayed.
    if let (Some(key), true) = (&key, shape.is_empty()) {
        if let Some(used) = idempotency::find(&mut conn, &user.org, key).await? {
            return replay(&mut conn, used, &input.secrets).await;
        }
    }
    let intake = prepare(
        &mut conn,
        &user.org,
        (input, shape),
        SecretValues::Required,
        user.role,
        &state.policy,
    )
    .await?;

    check_required_deployment(&mut conn, &user.org, &intake).await?;
    let id = Uuid::now_v7();
    let config = &intake.config;
    let destination = config.destination.as_deref();
    let now = Utc::now();
    let start_at = intake.start_at();
    let scheduled = start_at.is_some_and(|at| at > now);
    let sealed = (!intake.secrets.is_empty()).then(|| {
        let plain: BTreeMap<&str, &str> = intake
            .secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose().as_str()))
            .collect();
        let json = Secret::new(serde_json::to_vec(&plain).expect("strings serialise"));
        state.keyring.seal(id, SECRETS_COLUMN, json.expose())
    });
    let new = NewDeployment {
        id,
        org: &user.org,
        service: &config.service,
        destination: destination.unwrap_or_default(),
        version: &intake.version,
        status: if scheduled { Scheduled } else { Pending },
        config: config_json(config),
        secrets: sealed,
        on_failure: match config.on_failure {
            OnFailure::Rollback => "rollback",
            OnFailure::Halt => "halt",
        },
        rollback_of: None,
        created_by: &user.sub,
        scheduled_at: intake.scheduled_at,
        strategy,
        kind: kind::DEPLOY,
        operation: None,
    };
    let targets: Vec<(Uuid, &str)> = intake
        .targets
        .iter()
        .map(|t| (t.server_id, t.role.as_str()))
        .collect();
    let run_at = start_at.unwrap_or(now);
    // The deployment, its targets, its job and the key are one fact: all or nothing.
    let created = conn
        .transaction(async |conn| {
            deployment::create(conn, new, &targets, run_at).await?;
            if let Some(key) = &key {
                if !idempotency::claim(conn, &user.org, key, &hash, id).await? {
                    // A concurrent request with this key won: undo ours, answer theirs.
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            }
            Ok(())
        })
        .await;
    match (created, &key) {
        (Ok(()), _) => {
            let row = deployment::find(&mut conn, &user.org, id).await?;
            accepted(&mut conn, &user.org, row, false).await
        }
        (Err(diesel::result::Error::RollbackTransaction), Some(key)) => {
            let used = idempotency::find(&mut conn, &user.org, key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("idempotency key vanished after a conflict"))?;
            replay(&mut conn, used, &intake.secrets).await
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// The `Idempotency-Key` header, if any; a malformed one is a 400.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(raw) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = raw.to_str().unwrap_or_default();
    let visible = |c: char| c.is_ascii_graphic();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.chars().all(visible) {
        return Err(ApiError::BadRequest(format!(
            "header {IDEMPOTENCY_KEY} must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(Some(key.to_string()))
}

/// SHA-256 of the body as canonical JSON (serde_json's map keeps keys sorted). Secret
/// values are left out, so that no digest of a secret is stored: a replay compares
/// them with the sealed ones instead.
fn request_hash(body: &Value) -> String {
    let mut canonical = body.clone();
    if let Some(Value::Object(secrets)) = canonical.get_mut("secrets") {
        secrets.values_mut().for_each(|v| *v = Value::Null);
    }
    let bytes = serde_json::to_vec(&canonical).expect("JSON values serialise");
    format!("{:x}", Sha256::digest(bytes))
}

/// The deployment an earlier request with this key created, if this request is the same.
async fn replayable(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
    org: &str,
    used: IdempotencyKey,
    hash: &str,
    secrets: &BTreeMap<String, Secret<String>>,
) -> Result<Deployment, ApiError> {
    let conflict = || {
        ApiError::Conflict(format!(
            "this {IDEMPOTENCY_KEY} was already used with a different request"
        ))
    };
    if used.request_hash != hash {
        return Err(conflict());
    }
    let row = deployment::find(conn, org, used.deployment_id).await?;
    let stored: BTreeMap<String, Secret<String>> = match &row.secrets {
        None => BTreeMap::new(),
        Some(sealed) => {
            let plain = keyring
                .open(row.id, SECRETS_COLUMN, sealed)
                .map_err(|e| anyhow::anyhow!("opening deployment {} secrets: {e}", row.id))?;
            serde_json::from_slice(plain.expose())
                .map_err(|e| anyhow::anyhow!("deployment {} secrets: {e}", row.id))?
        }
    };
    if &stored != secrets {
        return Err(conflict());
    }
    Ok(row)
}

/// 202 with the deployment's view and its `Location`.
pub async fn accepted(
    conn: &mut AsyncPgConnection,
    org: &str,
    row: Deployment,
    replayed: bool,
) -> Result<HttpResponse, ApiError> {
    let view = with_targets(conn, org, vec![row])
        .await?
        .pop()
        .expect("one deployment in, one view out");
    let mut response = HttpResponse::Accepted();
    response.insert_header(("Location", view.links.self_.clone()));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(view))
}
