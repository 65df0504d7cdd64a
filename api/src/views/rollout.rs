//! The rollout plan as the API shows it (`POST /v1/deployments/plan`, field `rollout`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::kamal::rollout::{GateKind, Promotion, RolloutPlan, Wave};

/// Waves in order, and the gates between and after them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "waves": [
        {"index": 0, "hosts": ["web-1"], "group": null, "canary": true},
        {"index": 1, "hosts": ["web-2", "web-3"], "group": "eu", "canary": false},
        {"index": 2, "hosts": ["web-4"], "group": "us", "canary": false}
    ],
    "gates": [
        {"after_wave": 0, "kind": "bake", "seconds": 300, "promotion": "manual"},
        {"after_wave": 0, "kind": "wait", "seconds": 30},
        {"after_wave": 1, "kind": "wait", "seconds": 30},
        {"after_wave": 2, "kind": "monitor", "seconds": 600}
    ],
    "max_failed_hosts": 0
}))]
pub struct RolloutView {
    pub waves: Vec<WaveView>,
    /// In the order they happen.
    pub gates: Vec<GateView>,
    /// Hosts that may fail before the failure policy fires (`max_failed_hosts`, resolved).
    pub max_failed_hosts: usize,
}

/// Hosts deployed at the same time.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaveView {
    pub index: usize,
    /// Hosts as the config names them; the primary host is always in the first wave.
    pub hosts: Vec<String>,
    /// The `group_by` label value these hosts share.
    pub group: Option<String>,
    /// The canary wave, watched for `bake_seconds` before the rollout goes on.
    pub canary: bool,
}

/// A pause after wave `after_wave`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GateView {
    pub after_wave: usize,
    pub kind: GateKindView,
    pub seconds: u64,
    /// Bake only: whether the rollout goes on by itself or waits to be promoted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionView>,
}

/// `min_healthy`: the wave's hosts stay healthy this long; `bake`: the canaries are
/// watched; `wait`: a plain pause; `monitor`: every host is watched after the last wave.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateKindView {
    MinHealthy,
    Bake,
    Wait,
    Monitor,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromotionView {
    Auto,
    Manual,
}

impl From<RolloutPlan> for RolloutView {
    fn from(plan: RolloutPlan) -> Self {
        Self {
            waves: plan.waves.into_iter().map(WaveView::from).collect(),
            gates: plan
                .gates
                .into_iter()
                .map(|gate| {
                    let (kind, seconds, promotion) = match gate.kind {
                        GateKind::MinHealthy { seconds } => {
                            (GateKindView::MinHealthy, seconds, None)
                        }
                        GateKind::Bake { seconds, promotion } => {
                            (GateKindView::Bake, seconds, Some(promotion.into()))
                        }
                        GateKind::Wait { seconds } => (GateKindView::Wait, seconds, None),
                        GateKind::Monitor { seconds } => (GateKindView::Monitor, seconds, None),
                    };
                    GateView {
                        after_wave: gate.after_wave,
                        kind,
                        seconds,
                        promotion,
                    }
                })
                .collect(),
            max_failed_hosts: plan.max_failed_hosts,
        }
    }
}

impl From<Wave> for WaveView {
    fn from(w: Wave) -> Self {
        Self {
            index: w.index,
            hosts: w.hosts,
            group: w.group,
            canary: w.canary,
        }
    }
}

impl From<Promotion> for PromotionView {
    fn from(p: Promotion) -> Self {
        match p {
            Promotion::Auto => Self::Auto,
            Promotion::Manual => Self::Manual,
        }
    }
}
