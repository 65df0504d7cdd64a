//! The state of one simulated host: what it ran, its faults, its files, Docker and proxy.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::docker::Docker;
use super::faults::Faults;
use super::proxy::Routes;

#[derive(Default)]
pub(super) struct Host {
    /// The display text of every command run, in order.
    pub commands: Vec<String>,
    /// Commands that met a `Hang` fault.
    pub hung: Vec<String>,
    /// Simple commands the sim does not know, as it reported them.
    pub unrecognised: Vec<String>,
    pub faults: Faults,
    pub files: Files,
    pub docker: Docker,
    pub routes: Routes,
    /// Simulated time spent on commands, uploads and connects: latency plus step times.
    pub busy: Duration,
}

/// The SSH user's files, by path relative to the home directory.
#[derive(Default)]
pub(super) struct Files {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
}

fn normal(path: &str) -> &str {
    let path = path.trim_end_matches('/');
    path.strip_prefix("./").unwrap_or(path)
}

fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(dir, _)| dir)
}

impl Files {
    fn is_dir(&self, path: &str) -> bool {
        matches!(path, "" | "." | "/") || self.dirs.contains(path)
    }

    pub(super) fn exists(&self, path: &str) -> bool {
        let path = normal(path);
        self.is_dir(path) || self.files.contains_key(path)
    }

    /// `mkdir [-p]`, with the error text of coreutils.
    pub(super) fn mkdir(&mut self, path: &str, parents: bool) -> Result<(), String> {
        let path = normal(path);
        if self.exists(path) {
            return match parents && self.is_dir(path) {
                true => Ok(()),
                false => Err(format!(
                    "mkdir: cannot create directory '{path}': File exists"
                )),
            };
        }
        match parent(path) {
            Some(up) if !self.is_dir(up) && parents => self.mkdir(up, true)?,
            Some(up) if !self.is_dir(up) => {
                return Err(format!(
                    "mkdir: cannot create directory '{path}': No such file or directory"
                ))
            }
            _ => {}
        }
        self.dirs.insert(path.to_string());
        Ok(())
    }

    /// Writes (or appends to) a file whose directory exists, as a shell redirection does.
    pub(super) fn write(&mut self, path: &str, bytes: &[u8], append: bool) -> Result<(), String> {
        let path = normal(path);
        if parent(path).is_some_and(|up| !self.is_dir(up)) || self.is_dir(path) {
            return Err(format!(
                "sh: 1: cannot create {path}: Directory nonexistent"
            ));
        }
        let file = self.files.entry(path.to_string()).or_default();
        if !append {
            file.clear();
        }
        file.extend_from_slice(bytes);
        Ok(())
    }

    pub(super) fn read(&self, path: &str) -> Result<&[u8], String> {
        self.files
            .get(normal(path))
            .map(Vec::as_slice)
            .ok_or_else(|| format!("{path}: No such file or directory"))
    }

    /// `rm [-r] [-f] path`.
    pub(super) fn remove(
        &mut self,
        path: &str,
        recursive: bool,
        force: bool,
    ) -> Result<(), String> {
        let path = normal(path);
        if self.files.remove(path).is_some() {
            return Ok(());
        }
        if self.dirs.contains(path) {
            if !recursive {
                return Err(format!("rm: cannot remove '{path}': Is a directory"));
            }
            let inside = format!("{path}/");
            self.files.retain(|p, _| !p.starts_with(&inside));
            self.dirs.retain(|p| p != path && !p.starts_with(&inside));
            return Ok(());
        }
        match force {
            true => Ok(()),
            false => Err(format!(
                "rm: cannot remove '{path}': No such file or directory"
            )),
        }
    }
}
