//! Traffic-split canaries (SPEC §9 `canary.traffic_percent`). A canary host boots the new
//! version as usual, but each proxied role gets it as a rollout target at the canary's
//! percentage (`DeployConfig::traffic_split`, `kamal::plan::host_steps`) while the
//! previous container keeps serving the other clients. After the bake (or a manual
//! promotion) each canary host is promoted: the switch, the rollout stopped, the previous
//! container stopped, the housekeeping. Returning a canary host (abort, cancel, a failed
//! bake, the failure policy, a resume) routes its previous containers again, stops the
//! rollout and the new containers: no `docker run`, no pull.

use futures::future::join_all;

use super::hosts::{run_all_logged, Pass};
use super::waves::GateEnd;
use super::{Host, Loaded, Run};
use crate::deploy::sink::{HostLog, LogSink};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, CONTAINER_ID};

impl Run<'_> {
    /// Promotes the split canary hosts among `hosts` (nothing without a split); a host
    /// whose promotion fails fails the rollout, to be returned with the others.
    pub(super) async fn promote_canaries(
        &self,
        loaded: &Loaded,
        hosts: &[Host],
        sink: &LogSink,
        performer: &str,
    ) -> GateEnd {
        let config = &loaded.config;
        let canaries: Vec<&Host> = hosts
            .iter()
            .filter(|h| config.split_percent(&h.name).is_some())
            .collect();
        if canaries.is_empty() {
            return GateEnd::Passed;
        }
        let names: Vec<&str> = canaries.iter().map(|h| h.name.as_str()).collect();
        sink.info(&format!(
            "promoting {}: all traffic to {}",
            names.join(", "),
            loaded.row.version
        ));
        let runs = canaries.iter().map(|host| async move {
            let target = host.ssh.as_ref().map_err(Clone::clone)?;
            let log = sink.host(&host.name, host.role_targets());
            self.host_pass(loaded, host, target, &log, performer, Pass::Promote)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        });
        let results = join_all(runs).await;
        sink.flush().await;
        let failed: Vec<(String, String)> = canaries
            .iter()
            .zip(results)
            .filter_map(|(h, r)| {
                Some((
                    h.name.clone(),
                    format!("the promotion failed: {}", r.err()?),
                ))
            })
            .collect();
        if failed.is_empty() {
            GateEnd::Passed
        } else {
            GateEnd::Unhealthy {
                hosts: failed,
                fatal: true,
                event: "host_failed",
            }
        }
    }

    /// Returns a split canary host to `previous`, promoted or not: per role its previous
    /// container started (it still runs unless a promotion stopped it) and routed, the
    /// rollout stopped, the new container stopped.
    pub(super) async fn return_canary(
        &self,
        loaded: &Loaded,
        host: &Host,
        previous: &str,
        log: &HostLog,
    ) -> Result<String, String> {
        let target = host.ssh.as_ref().map_err(Clone::clone)?;
        let back = Commands::new(&loaded.config, previous);
        let new = Commands::new(&loaded.config, &loaded.row.version);
        for role in loaded.config.roles_on(&host.name) {
            let name = back.container_name(role);
            let mut cmds = vec![Cmd::docker(["start", &name])];
            if let Some(deploy) = back.proxy_deploy(role) {
                cmds.extend([
                    deploy.fill(CONTAINER_ID, &name),
                    back.proxy_rollout_stop(role),
                ]);
            }
            cmds.push(new.stop(role));
            run_all_logged(self.executor(), target, &cmds, log).await?;
        }
        Ok(format!(
            "returned to {previous}: its containers routed again, the rollout and the new containers stopped"
        ))
    }
}
