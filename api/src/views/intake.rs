//! Bodies of the intake endpoints: rendering a template, planning and creating a
//! deployment. Both deployment endpoints take the same [`DeploymentInput`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::hosts::preflight::CheckResult;
use crate::secret::Secret;
use crate::views::rollout::RolloutView;

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Variables for `POST /v1/templates/{id}/render`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "variables": {
        "service_name": "customer-app",
        "image_url": "ghcr.io/customer/app:v1.2.3",
        "servers": ["web-1", "web-2"],
        "registry_server": "ghcr.io",
        "registry_username": "customer",
        "domain": "app.customer.example"
    }
}))]
pub struct RenderInput {
    /// Values of the template's `variables` (as `GET /v1/templates/{id}` lists them): each
    /// of its type, none unknown, every required one; defaults fill the others. Secret
    /// variables are never given here (their values go in a deployment's `secrets`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub variables: Value,
}

/// A rendered template.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenderView {
    /// The Kamal `deploy.yml` the template produced.
    pub config_yaml: String,
    /// The config as Convoy reads it: defaults filled, roles expanded.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// A deployment request: exactly one of `config`, `config_yaml` or `template`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "config_yaml": "service: customer-app\nimage: ghcr.io/customer/rails-app:v2.1.0\nservers:\n  web:\n    - web-1\n    - web-2\nregistry:\n  server: ghcr.io\n  username: customer\n  password:\n    - KAMAL_REGISTRY_PASSWORD\nenv:\n  secret:\n    - RAILS_MASTER_KEY\nproxy:\n  ssl: true\n  host: app.customer.example\n",
    "secrets": {"KAMAL_REGISTRY_PASSWORD": "ghp_example", "RAILS_MASTER_KEY": "0123456789abcdef"},
    "version": "v2.1.0"
}))]
pub struct DeploymentInput {
    /// The Kamal deploy config as JSON.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// The Kamal deploy config as YAML (`config/deploy.yml`).
    pub config_yaml: Option<String>,
    /// A template id or name (the org's own, or a built-in's app type such as `rails`).
    pub template: Option<String>,
    /// Values of the template's `variables` (only with `template`), checked as by
    /// `POST /v1/templates/{id}/render`.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// Values of the secrets the config names (`env.secret`, `registry.password`, a
    /// `registry.username` given as `[NAME]`); every one must be given, no other. Write-only.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub secrets: BTreeMap<String, Secret<String>>,
    /// The image tag to deploy; default: the tag written in `image`.
    pub version: Option<String>,
    /// Kamal destination (`staging`, …); wins over the config's `destination` key.
    pub destination: Option<String>,
    /// RFC 3339 time to start at; a future time makes the deployment `scheduled`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_at: Option<String>,
    /// Rollout strategy (SPEC §9), stored with the deployment. Keys: `max_parallel` (count or `"25%"`, rounded up),
    /// `wave_wait_seconds`, `group_by` (a server label) with `order` (its values; default
    /// alphabetical), `canary` `{hosts, bake_seconds, promotion: auto|manual, traffic_percent}`
    /// (`traffic_percent` 1–99: during the bake only that share of each canary host's
    /// clients reach the new version, by the proxy's sticky `kamal-rollout` cookie),
    /// `min_healthy_seconds`, `max_failed_hosts`, `monitor_seconds`, `blue_green`,
    /// `require_deployed`, `window` `{not_before, not_after}` (RFC 3339; a future
    /// `not_before` makes the deployment `scheduled`; no wave starts after `not_after`
    /// unless inside one of the service's recurring windows). Errors at `strategy/…` paths.
    #[schema(value_type = Option<Object>, example = json!({
        "group_by": "region", "order": ["eu", "us"], "max_parallel": "25%",
        "canary": {"hosts": 1, "bake_seconds": 300, "promotion": "manual", "traffic_percent": 10},
        "wave_wait_seconds": 30, "monitor_seconds": 600
    }))]
    pub strategy: Option<Value>,
}

/// A dry run: what `POST /v1/deployments` would do with the same body.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// The normalised config (secret names only, never values).
    #[schema(value_type = Object)]
    pub config: Value,
    pub version: String,
    pub destination: Option<String>,
    /// Per host, the ordered commands of the deploy and of its failure path (and of its
    /// promotion on a traffic-split canary: `on_promotion`), secrets redacted; plus the
    /// lock taken on the primary host and the boot groups.
    #[schema(value_type = Object)]
    pub plan: Value,
    /// Which hosts deploy together and what happens between and after the waves.
    pub rollout: RolloutView,
    /// With `?preflight=true`: every check on every host of the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<Vec<PreflightCheckView>>,
    /// With `?preflight=true`: every check passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight_ok: Option<bool>,
}

/// `?preflight=&min_free_mib=` of `POST /v1/deployments/plan`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PlanParams {
    /// Also run read-only checks on every host of the plan (SSH, Docker, disk, registry
    /// login, image present).
    #[serde(default)]
    pub preflight: bool,
    /// The free space (MiB) Docker's root directory must have for the `disk` check;
    /// default 1024.
    pub min_free_mib: Option<u64>,
}

/// One preflight check on one host.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreflightCheckView {
    /// The host as the config names it.
    pub host: String,
    pub server_id: Option<Uuid>,
    /// `ssh`, `docker`, `disk`, `registry_login` or `image`.
    #[schema(example = "registry_login")]
    pub check: String,
    pub ok: bool,
    /// Not run because a check it needs failed (`ok` is then false).
    pub skipped: bool,
    #[schema(example = "10.77.0.1:5000 (http): GET /v2/ answered 401 Unauthorized")]
    pub detail: String,
}

impl From<CheckResult> for PreflightCheckView {
    fn from(r: CheckResult) -> Self {
        Self {
            host: r.host,
            server_id: r.server_id,
            check: r.check.as_str().to_string(),
            ok: r.ok,
            skipped: r.skipped,
            detail: r.detail,
        }
    }
}
