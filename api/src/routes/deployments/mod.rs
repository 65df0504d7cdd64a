pub mod cancel;
pub mod copy;
pub mod create;
pub mod events;
pub mod intake;
pub mod list;
pub mod live;
pub mod logs;
pub mod plan;
pub mod rollback;
pub mod show;
pub mod steer;

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::db::models::deployment::Deployment;
use crate::db::models::{inventory, target};
use crate::error::ApiError;
use crate::views::deployments::{DeploymentView, TargetView};

/// Attaches each deployment's targets and whether it is live, with one query each for
/// the whole page.
pub async fn with_targets(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployments: Vec<Deployment>,
) -> Result<Vec<DeploymentView>, ApiError> {
    let ids: Vec<Uuid> = deployments.iter().map(|d| d.id).collect();
    let mut targets = target::for_deployments(conn, org, &ids).await?;
    let live = inventory::live_among(conn, org, &ids).await?;
    Ok(deployments
        .into_iter()
        .map(|d| {
            let mine = targets
                .extract_if(.., |(t, _)| t.deployment_id == d.id)
                .map(|(t, name)| TargetView::new(t, name))
                .collect();
            let live = live.contains(&d.id);
            DeploymentView::new(d, mine, live)
        })
        .collect())
}
