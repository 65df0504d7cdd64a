//! The commands of an accessory's lifecycle (`kamal::commands::accessory`) the app's
//! deploy does not send: stopping a container by name, pruning stopped containers by
//! label, removing an image, `pwd`; and what tests observe of an accessory.

use super::docker::Container;
use super::shell::{Outcome, Shell};
use super::SimFleet;

/// The simulated SSH user's home, what `pwd` answers.
const HOME: &str = "/home/kamal";

impl Shell<'_> {
    /// `docker container stop|prune|…` and `docker image rm` forms of the accessory
    /// commands; `None` when `args` is not one of them.
    pub(super) fn accessory_docker(&mut self, args: &[&str]) -> Option<Outcome> {
        Some(match args {
            ["container", "stop", name] => self.stop_container(name),
            ["container", "prune", "--force", "--filter", filter] => {
                let (key, value) = filter.strip_prefix("label=")?.split_once('=')?;
                let docker = &mut self.host.docker;
                let before = docker.containers.len();
                docker
                    .containers
                    .retain(|c| c.running || c.label(key) != Some(value));
                let removed = before - docker.containers.len();
                Outcome::ok(format!("Deleted Containers: {removed}\n"))
            }
            ["image", "rm", "--force", image] => self.remove_image(image),
            _ => return None,
        })
    }

    /// `pwd`
    pub(super) fn pwd(&self) -> Outcome {
        Outcome::ok(format!("{HOME}\n"))
    }
}

/// One container as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimContainer {
    pub name: String,
    pub image: String,
    pub running: bool,
    pub labels: std::collections::BTreeMap<String, String>,
}

impl From<&Container> for SimContainer {
    fn from(c: &Container) -> Self {
        Self {
            name: c.name.clone(),
            image: c.image.clone(),
            running: c.running,
            labels: c.labels.clone(),
        }
    }
}

impl SimFleet {
    /// The container named `name` on the host, running or not.
    pub fn container(&self, host: &str, name: &str) -> Option<SimContainer> {
        self.with(host, |h| {
            h.docker
                .containers
                .iter()
                .find(|c| c.name == name)
                .map(SimContainer::from)
        })
    }

    /// Whether the host has the image `reference`.
    pub fn has_image(&self, host: &str, reference: &str) -> bool {
        self.with(host, |h| h.docker.has_image(reference))
    }
}
