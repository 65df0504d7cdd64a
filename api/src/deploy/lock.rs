//! The on-host half of the deploy lock: Kamal's `.kamal/lock-S[-D]` directory on the
//! primary host with its base64 `details` file. Convoy writes the same details Kamal does,
//! with a performer naming the deployment (`alice (convoy deployment <id>)`), so that a
//! resumed deployment recognises its own lock and `kamal lock status` shows who holds it.

use uuid::Uuid;

use crate::kamal::commands::{Commands, Stamp};
use crate::kamal::plan::LOCK_MESSAGE;
use crate::ssh::{ExecOutput, ExecRequest, RemoteExecutor, SshError, SshTarget};

const MARKER: &str = "convoy deployment ";

/// The performer written into audit lines and lock details for a deployment.
pub fn performer(created_by: &str, deployment: Uuid) -> String {
    format!("{created_by} ({MARKER}{deployment})")
}

/// The Convoy deployment named in lock details, if a Convoy deployment wrote them. The
/// marker Convoy appends is the last one on the `Locked by:` line: a user name holding
/// the marker text comes before it and cannot claim another deployment's lock.
pub fn holder_deployment(details: &str) -> Option<Uuid> {
    let locked_by = details.lines().find(|l| l.starts_with("Locked by: "))?;
    let start = locked_by.rfind(MARKER)? + MARKER.len();
    locked_by.get(start..start + 36)?.parse().ok()
}

/// Who holds the on-host lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLock {
    /// Taken now, or already held by this deployment (a resumed run).
    Acquired,
    /// Someone else holds it: the decoded details (`Locked by: … at …`).
    Held(String),
}

async fn run(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    cmd: crate::kamal::cmd::Cmd,
) -> Result<ExecOutput, SshError> {
    let request = ExecRequest::new(cmd.render(), cmd.redacted());
    executor.exec(target, &request, &mut |_, _| {}).await
}

/// The decoded details of the lock, `None` when no lock is held.
pub async fn status(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    commands: &Commands<'_>,
) -> Result<Option<String>, SshError> {
    let out = run(executor, target, commands.lock_status()).await?;
    Ok(out.success().then(|| out.stdout.trim().to_string()))
}

/// Takes the lock for `deployment`, unless another holder has it.
pub async fn acquire(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    commands: &Commands<'_>,
    stamp: Stamp<'_>,
    deployment: Uuid,
) -> Result<HostLock, SshError> {
    for _ in 0..3 {
        if run(executor, target, commands.lock_acquire(stamp, LOCK_MESSAGE))
            .await?
            .success()
        {
            return Ok(HostLock::Acquired);
        }
        match status(executor, target, commands).await? {
            Some(details) if holder_deployment(&details) == Some(deployment) => {
                return Ok(HostLock::Acquired)
            }
            Some(details) => return Ok(HostLock::Held(details)),
            // Released between the two commands: try again.
            None => continue,
        }
    }
    Ok(HostLock::Held(
        "the lock directory could not be created".into(),
    ))
}

/// Removes the lock directory, whoever holds it; true when there was one.
pub async fn release(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    commands: &Commands<'_>,
) -> Result<bool, SshError> {
    Ok(run(executor, target, commands.lock_release())
        .await?
        .success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_back_from_the_details() {
        let id = Uuid::now_v7();
        let details = format!(
            "Locked by: {} at 2026-11-27T00:00:00Z\nVersion: v2\nMessage: Automatic deploy lock",
            performer("alice", id)
        );
        assert_eq!(holder_deployment(&details), Some(id));
        assert_eq!(
            holder_deployment("Locked by: bob at 2026-11-27T00:00:00Z\nVersion: v1"),
            None
        );
        assert_eq!(
            holder_deployment("Locked by: x (convoy deployment 12"),
            None
        );
    }

    #[test]
    fn a_user_name_holding_the_marker_cannot_claim_another_lock() {
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        let sub = format!("mallory (convoy deployment {other})");
        let details = format!(
            "Locked by: {} at 2026-11-27T00:00:00Z\nVersion: v2\nMessage: convoy deployment {other}",
            performer(&sub, mine)
        );
        assert_eq!(holder_deployment(&details), Some(mine));
    }
}
