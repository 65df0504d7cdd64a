//! Docker as the commands see it: images, the `kamal` network, containers with their
//! labels, states and addresses, and the health of what runs in them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::faults::Faults;
use super::shell::{Outcome, Shell};
use crate::kamal::commands::{ADDRESSES_FORMAT, HEALTH_STATUS_FORMAT};
use crate::kamal::naming::PROXY_CONTAINER;

/// The first address handed out on a host's Docker network.
const FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);

#[derive(Default)]
pub(super) struct Docker {
    /// Image reference (`repo:tag`) → image id (`sha256:…`).
    images: BTreeMap<String, String>,
    /// The `service` label of the containers run from each repository: what
    /// `docker image ls --filter label=service=S` finds (Kamal labels the images it builds).
    services: BTreeMap<String, String>,
    networks: BTreeSet<String>,
    /// In the order they were created.
    pub containers: Vec<Container>,
    /// Containers and addresses handed out so far.
    created: u32,
    addresses: u32,
}

pub(super) struct Container {
    /// 64 hex digits; commands may name a container by a unique prefix or its name.
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    pub started_at: Instant,
    /// On the container's network while it runs.
    pub address: Option<Ipv4Addr>,
}

/// What a container's health check would say at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Health {
    Stopped,
    /// Started less than `boot` ago: nothing answers yet.
    Starting,
    Healthy,
    Unhealthy,
}

impl Container {
    /// The image's tag: Kamal tags images with the version.
    pub(super) fn version(&self) -> &str {
        match self.image.rsplit_once(':') {
            Some((_, tag)) if !tag.contains('/') => tag,
            _ => "latest",
        }
    }

    pub(super) fn short_id(&self) -> &str {
        &self.id[..12]
    }

    pub(super) fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub(super) fn health(&self, at: Instant, boot: Duration, faults: &Faults) -> Health {
        if !self.running {
            return Health::Stopped;
        }
        if at < self.started_at + boot {
            return Health::Starting;
        }
        match faults.healthy_for(self.version()) {
            Some(after) if at >= self.started_at + after => Health::Unhealthy,
            _ => Health::Healthy,
        }
    }

    /// When a booting container first answers its health check.
    pub(super) fn ready_at(&self, boot: Duration) -> Instant {
        self.started_at + boot
    }
}

impl Docker {
    pub(super) fn has_image(&self, reference: &str) -> bool {
        self.images.contains_key(reference)
    }

    /// A container by name or unique id prefix.
    pub(super) fn find(&self, key: &str) -> Option<usize> {
        if let Some(i) = self.containers.iter().position(|c| c.name == key) {
            return Some(i);
        }
        let mut matching = self
            .containers
            .iter()
            .enumerate()
            .filter(|(_, c)| !key.is_empty() && c.id.starts_with(key));
        match (matching.next(), matching.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    pub(super) fn find_running(&self, key: &str) -> Option<&Container> {
        self.find(key)
            .map(|i| &self.containers[i])
            .filter(|c| c.running)
    }

    pub(super) fn by_address(&self, address: &str) -> Option<&Container> {
        self.containers
            .iter()
            .find(|c| c.running && c.address.is_some_and(|a| a.to_string() == address))
    }

    /// Every image reference (`repo:tag`) on the host, sorted.
    pub(super) fn image_references(&self) -> Vec<String> {
        self.images.keys().cloned().collect()
    }

    fn next_address(&mut self) -> Ipv4Addr {
        self.addresses += 1;
        Ipv4Addr::from(u32::from(FIRST_ADDRESS) + self.addresses - 1)
    }
}

fn image_id(reference: &str) -> String {
    let digest = Sha256::digest(reference.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn repository(reference: &str) -> &str {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

fn no_such_container(name: &str) -> Outcome {
    Outcome::fail(
        1,
        format!("Error response from daemon: No such container: {name}"),
    )
}

/// `docker run` flags that take the next word as their value.
const VALUE_FLAGS: [&str; 14] = [
    "--name",
    "--network",
    "--restart",
    "--env",
    "-e",
    "--env-file",
    "--log-opt",
    "--log-driver",
    "--volume",
    "-v",
    "--label",
    "-l",
    "--publish",
    "-p",
];

/// The filters and output options of `docker ps` / `docker container ls`.
#[derive(Default)]
struct Listing<'a> {
    all: bool,
    quiet: bool,
    latest: bool,
    format: Option<&'a str>,
    labels: Vec<(&'a str, Option<&'a str>)>,
    statuses: Vec<&'a str>,
    name: Option<&'a str>,
}

impl<'a> Listing<'a> {
    fn parse(args: &[&'a str]) -> Option<Self> {
        let mut listing = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "-a" | "--all" => listing.all = true,
                "-q" | "--quiet" => listing.quiet = true,
                "-l" | "--latest" => listing.latest = true,
                "--format" => listing.format = Some(args.next()?),
                "--filter" | "-f" => match args.next()?.split_once('=')? {
                    ("label", label) => listing.labels.push(match label.split_once('=') {
                        Some((key, value)) => (key, Some(value)),
                        None => (label, None),
                    }),
                    ("status", status) => listing.statuses.push(status),
                    ("name", name) => listing.name = Some(name),
                    _ => return None,
                },
                _ => return None,
            }
        }
        Some(listing)
    }

    fn selects(&self, c: &Container) -> bool {
        let state = if c.running { "running" } else { "exited" };
        let status_ok = match self.statuses.is_empty() {
            true => self.all || c.running,
            false => self.statuses.contains(&state),
        };
        let labels_ok = self.labels.iter().all(|(key, value)| match value {
            Some(v) => c.label(key) == Some(*v),
            None => c.labels.contains_key(*key),
        });
        let name_ok = self.name.is_none_or(|pattern| {
            match (pattern.strip_prefix('^'), pattern.strip_suffix('$')) {
                (Some(_), Some(_)) => pattern[1..pattern.len() - 1] == c.name,
                _ => c.name.contains(pattern.trim_matches(['^', '$'])),
            }
        });
        status_ok && labels_ok && name_ok
    }
}

impl Shell<'_> {
    pub(super) fn docker(&mut self, args: &[&str]) -> Outcome {
        let args = match args {
            ["--config", _, rest @ ..] => rest,
            rest => rest,
        };
        match args {
            ["pull", image] => {
                self.pull(image);
                Outcome::ok(format!(
                    "Status: Downloaded newer image for {image}\n{image}\n"
                ))
            }
            ["image", "inspect", "--format", "{{.Id}}", image] => {
                match self.host.docker.images.get(*image) {
                    Some(id) => Outcome::ok(format!("{id}\n")),
                    None => Outcome::fail(1, format!("Error: No such image: {image}")),
                }
            }
            ["image", "prune", "--force", "--filter", filter] if filter.starts_with("label=") => {
                Outcome::ok("Total reclaimed space: 0B\n")
            }
            ["image", "prune", "--all", "--force", "--filter", filter] => {
                match filter.strip_prefix("label=service=") {
                    Some(service) => self.prune_service_images(service),
                    None => self.unrecognised(&format!("docker {}", args.join(" "))),
                }
            }
            ["image", "ls", "--filter", "dangling=false", "--format", format, repository] => {
                self.repository_ls(repository, format)
            }
            ["container", "prune", "--force", filters @ ..] => match Listing::parse(filters) {
                Some(mut listing) if listing.statuses.is_empty() => {
                    listing.all = true;
                    self.prune_containers(&listing)
                }
                _ => self.unrecognised(&format!("docker {}", args.join(" "))),
            },
            ["start", name] => self.start(name),
            ["image", "ls", "--filter", filter, "--format", format] => {
                match filter.strip_prefix("label=service=") {
                    Some(service) => self.image_ls(service, format),
                    None => self.unrecognised(&format!("docker {}", args.join(" "))),
                }
            }
            ["rmi", images @ ..] => self.each(images, Self::rmi),
            ["tag", from, to] => match self.host.docker.images.get(*from).cloned() {
                Some(id) => {
                    self.host.docker.images.insert(to.to_string(), id);
                    Outcome::ok("")
                }
                None => Outcome::fail(
                    1,
                    format!("Error response from daemon: No such image: {from}"),
                ),
            },
            ["network", "inspect", name] => match self.host.docker.networks.contains(*name) {
                true => Outcome::ok(format!(
                    "[{{\"Name\": \"{name}\", \"Driver\": \"bridge\"}}]\n"
                )),
                false => Outcome::fail(
                    1,
                    format!("Error response from daemon: network {name} not found"),
                ),
            },
            ["network", "create", name] => match self.host.docker.networks.insert(name.to_string())
            {
                true => Outcome::ok(format!("{}\n", &image_id(name)[7..])),
                false => Outcome::fail(
                    1,
                    format!("Error response from daemon: network with name {name} already exists"),
                ),
            },
            ["container", "start", name] => self.start(name),
            ["container", "ls", rest @ ..] | ["ps", rest @ ..] => match Listing::parse(rest) {
                Some(listing) => self
                    .list(&listing)
                    .unwrap_or_else(|| self.unrecognised(&format!("docker {}", args.join(" ")))),
                None => self.unrecognised(&format!("docker {}", args.join(" "))),
            },
            ["run", rest @ ..] => self.run_container(rest),
            ["inspect", "--format", format, names @ ..] => self.inspect(format, names),
            ["rename", from, to] => self.rename(from, to),
            ["exec", PROXY_CONTAINER, "kamal-proxy", rest @ ..] => self.proxy(rest),
            ["exec", name, _, ..] => self.exec_health_check(name),
            ["stop", "-t", _, names @ ..] => self.each(names, Self::stop),
            ["rm", names @ ..] => self.each(names, Self::remove),
            ["logs", "--timestamps", "--tail", _, rest @ ..] => match rest.last() {
                Some(name) => self.logs(name),
                None => self.unrecognised(&format!("docker {}", args.join(" "))),
            },
            _ => match self.accessory_docker(args) {
                Some(out) => out,
                None => self.unrecognised(&format!("docker {}", args.join(" "))),
            },
        }
    }

    /// `docker container stop NAME`
    pub(super) fn stop_container(&mut self, name: &str) -> Outcome {
        self.stop(name)
    }

    /// `docker image rm --force IMAGE`: the tag goes even if a container uses it.
    pub(super) fn remove_image(&mut self, image: &str) -> Outcome {
        match self.host.docker.images.remove(image) {
            Some(_) => Outcome::ok(format!("Untagged: {image}\n")),
            None => Outcome::fail(
                1,
                format!("Error response from daemon: No such image: {image}"),
            ),
        }
    }

    /// Runs `one` for each name; fails when any failed, after trying them all (as Docker).
    fn each(&mut self, names: &[&str], one: fn(&mut Self, &str) -> Outcome) -> Outcome {
        let mut all = Outcome::default();
        for name in names {
            let out = one(self, name);
            all.code = all.code.max(out.code);
            all.stdout.push_str(&out.stdout);
            all.stderr.push_str(&out.stderr);
        }
        all
    }

    fn pull(&mut self, image: &str) {
        self.spend(self.times.pull);
        let docker = &mut self.host.docker;
        docker.images.insert(image.to_string(), image_id(image));
    }

    fn image_ls(&mut self, service: &str, format: &str) -> Outcome {
        let services = self.host.docker.services.clone();
        self.list_images(format, |repo| {
            services.get(repo).map(String::as_str) == Some(service)
        })
    }

    /// `docker image ls --format F` over the images whose repository `keep` selects.
    fn list_images(&mut self, format: &str, keep: impl Fn(&str) -> bool) -> Outcome {
        let mut out = String::new();
        for (reference, id) in &self.host.docker.images {
            let repo = repository(reference);
            if !keep(repo) {
                continue;
            }
            let tag = reference[repo.len()..].trim_start_matches(':');
            let line = format
                .replace("{{.ID}}", &id[7..19])
                .replace("{{.Repository}}", repo)
                .replace("{{.Tag}}", tag);
            if line.contains("{{") {
                return self.unrecognised(&format!("docker image ls --format {format}"));
            }
            out.push_str(&line);
            out.push('\n');
        }
        Outcome::ok(out)
    }

    /// `docker image prune --all --filter label=service=S`: the service's images no
    /// container uses.
    fn prune_service_images(&mut self, service: &str) -> Outcome {
        let docker = &mut self.host.docker;
        let unused: Vec<String> = docker
            .images
            .keys()
            .filter(|r| docker.services.get(repository(r)).map(String::as_str) == Some(service))
            .filter(|r| !docker.containers.iter().any(|c| &c.image == *r))
            .cloned()
            .collect();
        let mut out = String::new();
        for reference in unused {
            docker.images.remove(&reference);
            out.push_str(&format!("untagged: {reference}\n"));
        }
        out.push_str("Total reclaimed space: 0B\n");
        Outcome::ok(out)
    }

    /// `docker image ls --filter dangling=false --format F REPO`.
    fn repository_ls(&mut self, repo: &str, format: &str) -> Outcome {
        self.list_images(format, |r| r == repo)
    }

    /// `docker container prune --force --filter …`: the stopped containers selected.
    fn prune_containers(&mut self, listing: &Listing) -> Outcome {
        let docker = &mut self.host.docker;
        let mut out = String::from("Deleted Containers:\n");
        docker.containers.retain(|c| {
            let pruned = !c.running && listing.selects(c);
            if pruned {
                out.push_str(&c.id);
                out.push('\n');
            }
            !pruned
        });
        Outcome::ok(out)
    }

    fn rmi(&mut self, image: &str) -> Outcome {
        let docker = &mut self.host.docker;
        if let Some(user) = docker.containers.iter().find(|c| c.image == image) {
            return Outcome::fail(
                1,
                format!(
                    "Error response from daemon: conflict: unable to remove repository reference \"{image}\" (must force) - container {} is using its referenced image",
                    user.short_id()
                ),
            );
        }
        match docker.images.remove(image) {
            Some(_) => Outcome::ok(format!("Untagged: {image}\n")),
            None => Outcome::fail(
                1,
                format!("Error response from daemon: No such image: {image}"),
            ),
        }
    }

    /// Newest first, as Docker lists them; `None` for a format the sim does not render.
    fn list(&mut self, listing: &Listing) -> Option<Outcome> {
        let mut out = String::new();
        let selected = self
            .host
            .docker
            .containers
            .iter()
            .rev()
            .filter(|c| listing.selects(c))
            .take(if listing.latest { 1 } else { usize::MAX });
        if listing.format.is_none() && !listing.quiet {
            out.push_str("CONTAINER ID   IMAGE   NAMES\n");
        }
        let (now, boot) = (self.now(), self.times.boot);
        for c in selected {
            let line = match (listing.quiet, listing.format) {
                (true, _) => c.short_id().to_string(),
                (false, Some(format)) => format
                    .replace("{{.Names}}", &c.name)
                    .replace("{{.ID}}", c.short_id())
                    .replace("{{.Image}}", &c.image)
                    .replace("{{.Label \"role\"}}", c.label("role").unwrap_or_default())
                    .replace("{{.State}}", if c.running { "running" } else { "exited" })
                    .replace(
                        "{{.Status}}",
                        match c.health(now, boot, &self.host.faults) {
                            Health::Stopped => "Exited (0) 1 second ago",
                            Health::Starting => "Up 1 second (health: starting)",
                            Health::Healthy => "Up 1 minute (healthy)",
                            Health::Unhealthy => "Up 1 minute (unhealthy)",
                        },
                    ),
                (false, None) => format!("{}   {}   {}", c.short_id(), c.image, c.name),
            };
            if line.contains("{{") {
                return None;
            }
            out.push_str(&line);
            out.push('\n');
        }
        Some(Outcome::ok(out))
    }

    /// What a container printed: its start (stdout), and its stop (stderr). `--since`
    /// and `--follow` change nothing: the output is short and a followed container's
    /// output ends at once, as a stopped container's does.
    fn logs(&mut self, name: &str) -> Outcome {
        let Some(i) = self.host.docker.find(name) else {
            return no_such_container(name);
        };
        let c = &self.host.docker.containers[i];
        let mut out = Outcome::ok(format!("sim: {} started from {}\n", c.name, c.image));
        if !c.running {
            out.stderr.push_str(&format!("sim: {} stopped\n", c.name));
        }
        out
    }

    fn run_container(&mut self, args: &[&str]) -> Outcome {
        let mut name = None;
        let mut network = None;
        let mut remove = false;
        let mut env = Vec::new();
        let mut env_files = Vec::new();
        let mut labels = BTreeMap::new();
        let mut image = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if !arg.starts_with('-') {
                image = Some(*arg);
                break;
            }
            let (flag, value) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value)),
                None if VALUE_FLAGS.contains(arg) => match args.next() {
                    Some(value) => (*arg, Some(*value)),
                    None => {
                        return Outcome::fail(125, format!("docker: flag needs an argument: {arg}"))
                    }
                },
                None => (*arg, None),
            };
            match (flag, value) {
                ("--name", Some(v)) => name = Some(v),
                ("--rm", None) => remove = true,
                ("--env" | "-e", Some(v)) => env.push(v.to_string()),
                ("--network", Some(v)) => network = Some(v),
                ("--env-file", Some(v)) => env_files.push(v),
                ("--label" | "-l", Some(v)) => {
                    let (key, value) = v.split_once('=').unwrap_or((v, ""));
                    labels.insert(key.to_string(), value.to_string());
                }
                _ => {}
            }
        }
        let Some(image) = image else {
            return Outcome::fail(125, "\"docker run\" requires at least 1 argument.");
        };
        let docker = &self.host.docker;
        if let Some(taken) = name.and_then(|n| docker.containers.iter().find(|c| c.name == n)) {
            return Outcome::fail(
                125,
                format!(
                    "docker: Error response from daemon: Conflict. The container name \"/{}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    taken.name, taken.id
                ),
            );
        }
        if let Some(net) = network.filter(|n| !docker.networks.contains(*n)) {
            return Outcome::fail(
                125,
                format!("docker: Error response from daemon: network {net} not found."),
            );
        }
        if let Some(missing) = env_files.iter().find(|f| !self.host.files.exists(f)) {
            return Outcome::fail(
                125,
                format!("docker: open {missing}: no such file or directory."),
            );
        }
        let mut stderr = String::new();
        if !self.host.docker.images.contains_key(image) {
            stderr = format!("Unable to find image '{image}' locally\n");
            self.pull(image);
        }
        if remove {
            let command: Vec<&str> = args.copied().collect();
            return self.one_off(&command, env, &env_files, stderr);
        }
        self.spend(self.times.run);
        let started_at = self.now();
        let docker = &mut self.host.docker;
        docker.created += 1;
        let id = image_id(&format!("container {}", docker.created))[7..].to_string();
        let name = name.map_or_else(|| format!("sim_{}", docker.created), str::to_string);
        if let Some(service) = labels.get("service") {
            docker
                .services
                .insert(repository(image).to_string(), service.clone());
        }
        let address = network.map(|_| docker.next_address());
        docker.containers.push(Container {
            id: id.clone(),
            name,
            image: image.to_string(),
            labels,
            running: true,
            started_at,
            address,
        });
        Outcome {
            code: 0,
            stdout: format!("{id}\n"),
            stderr,
        }
    }

    /// `docker run --rm IMAGE CMD…` as the app image runs it: `env` prints the container's
    /// environment (the `--env` values, then the env files' lines), `false` exits 1, any
    /// other command says it ran. Nothing is left behind.
    fn one_off(
        &mut self,
        command: &[&str],
        mut env: Vec<String>,
        env_files: &[&str],
        stderr: String,
    ) -> Outcome {
        self.spend(self.times.run);
        for file in env_files {
            let text = self
                .host
                .files
                .read(file)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            env.extend(text.lines().map(str::to_string));
        }
        let stdout = match command {
            ["env"] => env.iter().map(|line| format!("{line}\n")).collect(),
            ["false"] => return Outcome::fail(1, stderr),
            words => format!("sim: ran {}\n", words.join(" ")),
        };
        Outcome {
            code: 0,
            stdout,
            stderr,
        }
    }

    fn start(&mut self, name: &str) -> Outcome {
        let Some(i) = self.host.docker.find(name) else {
            return no_such_container(name);
        };
        if !self.host.docker.containers[i].running {
            self.spend(self.times.run);
            let now = self.now();
            let address = self.host.docker.next_address();
            let c = &mut self.host.docker.containers[i];
            c.running = true;
            c.started_at = now;
            c.address = Some(address);
        }
        Outcome::ok(format!("{name}\n"))
    }

    fn inspect(&mut self, format: &str, names: &[&str]) -> Outcome {
        if names.is_empty() {
            return Outcome::fail(1, "\"docker inspect\" requires at least 1 argument.");
        }
        if format != HEALTH_STATUS_FORMAT && format != ADDRESSES_FORMAT {
            return self.unrecognised(&format!("docker inspect --format {format}"));
        }
        let mut all = Outcome::default();
        for name in names {
            let Some(i) = self.host.docker.find(name) else {
                all.code = 1;
                all.stderr
                    .push_str(&format!("Error: No such object: {name}\n"));
                continue;
            };
            let c = &self.host.docker.containers[i];
            let line = if format == ADDRESSES_FORMAT {
                c.address.map(|a| format!("{a} ")).unwrap_or(" ".into())
            } else {
                match c.health(self.now(), self.times.boot, &self.host.faults) {
                    Health::Stopped => "exited",
                    Health::Starting => "starting",
                    Health::Healthy => "healthy",
                    Health::Unhealthy => "unhealthy",
                }
                .to_string()
            };
            all.stdout.push_str(&line);
            all.stdout.push('\n');
        }
        all
    }

    fn rename(&mut self, from: &str, to: &str) -> Outcome {
        let docker = &mut self.host.docker;
        if docker.containers.iter().any(|c| c.name == to) {
            return Outcome::fail(
                1,
                format!("Error response from daemon: Error when allocating new name: Conflict. The container name \"/{to}\" is already in use"),
            );
        }
        match docker.find(from) {
            Some(i) => {
                docker.containers[i].name = to.to_string();
                Outcome::ok("")
            }
            None => no_such_container(from),
        }
    }

    /// `docker exec C CMD…`: the role's health check command passes when the app is healthy.
    fn exec_health_check(&mut self, name: &str) -> Outcome {
        let Some(i) = self.host.docker.find(name) else {
            return no_such_container(name);
        };
        let c = &self.host.docker.containers[i];
        match c.health(self.now(), self.times.boot, &self.host.faults) {
            Health::Healthy => Outcome::ok(""),
            Health::Stopped => Outcome::fail(
                1,
                format!(
                    "Error response from daemon: container {} is not running",
                    c.id
                ),
            ),
            Health::Starting | Health::Unhealthy => {
                Outcome::fail(1, format!("sim: the health check of {} failed", c.name))
            }
        }
    }

    fn stop(&mut self, name: &str) -> Outcome {
        let Some(i) = self.host.docker.find(name) else {
            return no_such_container(name);
        };
        if self.host.docker.containers[i].running {
            self.spend(self.times.stop);
            let c = &mut self.host.docker.containers[i];
            c.running = false;
            c.address = None;
        }
        Outcome::ok(format!("{name}\n"))
    }

    fn remove(&mut self, name: &str) -> Outcome {
        let docker = &mut self.host.docker;
        match docker.find(name) {
            Some(i) if docker.containers[i].running => Outcome::fail(
                1,
                format!("Error response from daemon: cannot remove container \"/{}\": container is running: stop the container before removing or force remove", docker.containers[i].name),
            ),
            Some(i) => {
                docker.containers.remove(i);
                Outcome::ok(format!("{name}\n"))
            }
            None => no_such_container(name),
        }
    }
}
