//! Builders for every remote command of a deploy, shaped like Kamal 2.11's
//! `lib/kamal/commands/*.rb`. Pure: times, random suffixes and secret values are arguments.

use std::fmt::Write as _;

use base64::Engine;
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::cmd::{quote, Cmd};
use super::config::{Credential, DeployConfig, DockerOption, Env, Logging, Role};
use super::naming::{self, NETWORK, PROXY_CONTAINER};
use crate::secret::Secret;

pub mod accessory;

/// Kamal's `DOCKER_HEALTH_STATUS_FORMAT`: the health status, or the state without one.
pub const HEALTH_STATUS_FORMAT: &str =
    "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}";
/// The container's IP address on each of its networks, space-separated, on one line.
pub const ADDRESSES_FORMAT: &str = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}";
/// Run by `sh -c` inside the proxy container as root, with the file as `$1` and its
/// contents on stdin: written beside it with mode 0600, given to the owner of the proxy's
/// process, then renamed over it.
const WRITE_AS_PROXY_USER: &str = r#"umask 077 && cat > "$1.tmp" && chown "$(stat -c %u:%g /proc/1)" "$1.tmp" && mv -f "$1.tmp" "$1""#;
/// The placeholder the proxy deploy command's target is filled through.
pub const CONTAINER_ID: &str = "container-id";
const RUNNING_STATUSES: [&str; 2] = ["running", "restarting"];
const STOPPED_STATUSES: [&str; 3] = ["created", "exited", "dead"];
/// Docker's key for Docker Hub credentials in a client config.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The commands of one service at one version.
#[derive(Clone, Copy, Debug)]
pub struct Commands<'a> {
    pub config: &'a DeployConfig,
    pub version: &'a str,
}

/// Who holds the lock or wrote an audit line, and when.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    pub performer: &'a str,
    pub at: DateTime<Utc>,
}

impl Stamp<'_> {
    /// Ruby's `Time#utc.iso8601`, as Kamal writes it.
    fn iso8601(&self) -> String {
        self.at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

impl<'a> Commands<'a> {
    pub fn new(config: &'a DeployConfig, version: &'a str) -> Self {
        Self { config, version }
    }

    fn destination(&self) -> Option<&'a str> {
        self.config.destination.as_deref()
    }

    fn service(&self) -> &'a str {
        &self.config.service
    }

    /// `REPO:V`
    pub fn image(&self) -> String {
        format!("{}:{}", self.config.image.repository, self.version)
    }

    /// `REPO:latest[-D]`
    pub fn latest_image(&self) -> String {
        format!(
            "{}:{}",
            self.config.image.repository,
            naming::latest_tag(self.destination())
        )
    }

    pub fn container_prefix(&self, role: &Role) -> String {
        naming::container_prefix(self.service(), &role.name, self.destination())
    }

    pub fn container_name(&self, role: &Role) -> String {
        naming::container_name(self.service(), &role.name, self.destination(), self.version)
    }

    pub fn env_file(&self, role: &Role) -> String {
        naming::env_file(self.service(), self.destination(), &role.name)
    }

    /// Stores the registry credentials as a Docker client config of the service's own
    /// (`.kamal/apps/S[-D]/docker/config.json`, mode 0600), written from stdin: unlike
    /// `docker login -u USER --password-stdin`, neither the username nor the password is
    /// ever in a process's argv. [`Commands::pull`] and the proxy's `docker run` read it
    /// through `docker --config`. `None` without registry credentials (public images, a
    /// local registry) or when a secret username was not supplied.
    pub fn registry_login(
        &self,
        username: Option<Secret<String>>,
        password: Secret<Vec<u8>>,
    ) -> Option<Cmd> {
        let registry = self.config.registry.as_ref()?;
        registry.password_secret.as_ref()?;
        let username = match (&registry.username, username) {
            (Some(Credential::Plain(name)), _) => Secret::new(name.clone()),
            (Some(Credential::Secret(_)), Some(value)) => value,
            _ => return None,
        };
        let mut auth = username.expose().as_bytes().to_vec();
        auth.push(b':');
        auth.extend_from_slice(password.expose());
        let server = registry.server.as_deref().unwrap_or(DOCKER_HUB_AUTH_KEY);
        let config = serde_json::json!({"auths": {server: {
            "auth": base64::engine::general_purpose::STANDARD.encode(&auth),
        }}});
        let dir = naming::docker_config_directory(self.service(), self.destination());
        Some(write_private_file(
            &dir,
            &format!("{dir}/config.json"),
            Secret::new(config.to_string().into_bytes()),
        ))
    }

    /// `docker pull REPO:V`, with the service's registry credentials when it has some.
    pub fn pull(&self) -> Cmd {
        docker_client(self.config).args(["pull", &self.image()])
    }

    /// Fails unless the pulled image is present locally.
    pub fn image_exists(&self) -> Cmd {
        Cmd::docker(["image", "inspect", "--format", "{{.Id}}", &self.image()])
    }

    /// Creates the `kamal` network unless it exists (checked first, rather than matching
    /// Docker's "already exists" error text). Creates racing on one host are kept apart by
    /// the caller (`deploy::host::lock_host_setup`): Docker 20.10 lets both succeed and
    /// then holds two networks of one name. Where a racing create is refused instead
    /// (another process, a newer Docker), the network is inspected once more, so the
    /// step succeeds when it exists.
    pub fn create_network() -> Cmd {
        Cmd::docker(["network", "inspect", NETWORK])
            .quiet()
            .or(Cmd::docker(["network", "create", NETWORK]))
            .or(Cmd::docker(["network", "inspect", NETWORK]).quiet())
    }

    /// Writes the role's env file with mode 0600; the contents arrive on stdin so secret
    /// values never appear in a command line. See [`env_file_contents`].
    pub fn write_env_file(&self, role: &Role, contents: Secret<Vec<u8>>) -> Cmd {
        let dir = naming::env_directory(self.service(), self.destination());
        write_private_file(&dir, &self.env_file(role), contents)
    }

    /// `docker container ls --all --filter name=^C$ --quiet`: the id of this version's
    /// container (empty when none).
    pub fn container_id(&self, role: &Role) -> Cmd {
        container_id_of(&self.container_name(role))
    }

    /// Moves a container already named `S-R[-D]-V` out of the way (`…_replaced_HEX`), so
    /// re-running a deploy of the same version is idempotent.
    pub fn rename_existing(&self, role: &Role, hex: &str) -> Cmd {
        let name = self.container_name(role);
        let replaced = naming::replaced_container_name(
            self.service(),
            &role.name,
            self.destination(),
            self.version,
            hex,
        );
        container_id_of(&name).pipe(Cmd::default().shell(format!(
            "while read container_id; do docker rename \"$container_id\" {}; done",
            quote(&replaced)
        )))
    }

    /// The version of the role's running container (Kamal's `current_running_version`).
    pub fn current_version(&self, role: &Role) -> Cmd {
        let ps = Cmd::docker(["ps", "--latest", "--format", "{{.Names}}"])
            .args(self.filters(Some(role), &RUNNING_STATUSES));
        // The prefix is a validated name: safe inside the parameter expansion.
        ps.pipe(Cmd::default().shell(format!(
            "while read line; do echo ${{line#{}-}}; done",
            self.container_prefix(role)
        )))
    }

    /// The id of the role's running container, whatever its version (Kamal's
    /// `current_running_container_id`, without its `latest`-image preference).
    pub fn current_container_id(&self, role: &Role) -> Cmd {
        Cmd::docker(["ps", "--quiet", "--latest"]).args(self.filters(Some(role), &RUNNING_STATUSES))
    }

    /// Kamal's `app.run`.
    pub fn run(&self, role: &Role, host: &str) -> Cmd {
        let name = self.container_name(role);
        let mut cmd = Cmd::docker(["run", "--detach", "--restart", "unless-stopped"])
            .args(["--name", &name, "--network", NETWORK])
            .args(["--env", &format!("KAMAL_CONTAINER_NAME={name}")])
            .args(["--env", &format!("KAMAL_VERSION={}", self.version)])
            .args(["--env", &format!("KAMAL_HOST={host}")]);
        if let Some(d) = self.destination() {
            cmd = cmd.args(["--env", &format!("KAMAL_DESTINATION={d}")]);
        }
        let env = self.config.env_for(role, host);
        for (key, value) in &env.clear {
            cmd = cmd.args(["--env", &format!("{key}={value}")]);
        }
        cmd = cmd.args(["--env-file", &self.env_file(role)]);
        cmd = cmd.args(logging_args(&role.logging));
        for volume in &self.config.volumes {
            cmd = cmd.args(["--volume", volume]);
        }
        cmd = cmd.args(self.label_args(role));
        cmd = cmd.args(option_args(&role.options));
        cmd.arg(self.image()).args(role.cmd.iter().cloned())
    }

    fn label_args(&self, role: &Role) -> Vec<String> {
        let mut args = vec![
            "--label".into(),
            format!("service={}", self.service()),
            "--label".into(),
            format!("role={}", role.name),
            "--label".into(),
        ];
        // Kamal writes a bare `destination` label (empty value) without a destination.
        args.push(match self.destination() {
            Some(d) => format!("destination={d}"),
            None => "destination".into(),
        });
        for (key, value) in &role.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        args
    }

    /// `docker exec kamal-proxy kamal-proxy deploy S-R[-D] --target=<container-id>:PORT …`;
    /// fill the target with [`Cmd::fill`]`(CONTAINER_ID, id)`. `None` for a role without proxy.
    pub fn proxy_deploy(&self, role: &Role) -> Option<Cmd> {
        let proxy = role.proxy.as_ref()?;
        let seconds = |n: u64| format!("{n}s");
        let mut flags: Vec<(&str, Option<String>)> = Vec::new();
        for host in &proxy.hosts {
            flags.push(("host", Some(host.clone())));
        }
        if proxy.ssl {
            flags.push(("tls", None));
        }
        if proxy.certificate.is_some() {
            let [certificate, key] = self.tls_files(role, naming::PROXY_APPS_CONTAINER_DIRECTORY);
            flags.push(("tls-certificate-path", Some(certificate)));
            flags.push(("tls-private-key-path", Some(key)));
        }
        flags.push(("deploy-timeout", Some(seconds(self.config.deploy_timeout))));
        flags.push(("drain-timeout", Some(seconds(self.config.drain_timeout))));
        let hc = &proxy.healthcheck;
        flags.extend(
            hc.interval
                .map(|n| ("health-check-interval", Some(seconds(n)))),
        );
        flags.extend(
            hc.timeout
                .map(|n| ("health-check-timeout", Some(seconds(n)))),
        );
        flags.push(("health-check-path", Some(hc.path.clone())));
        flags.extend(
            proxy
                .response_timeout
                .map(|n| ("target-timeout", Some(seconds(n)))),
        );
        let b = &proxy.buffering;
        flags.extend(bool_flag("buffer-requests", b.requests));
        flags.extend(bool_flag("buffer-responses", b.responses));
        flags.extend(b.memory.map(|n| ("buffer-memory", Some(n.to_string()))));
        flags.extend(
            b.max_request_body
                .map(|n| ("max-request-body", Some(n.to_string()))),
        );
        flags.extend(
            b.max_response_body
                .map(|n| ("max-response-body", Some(n.to_string()))),
        );
        for prefix in &proxy.path_prefixes {
            flags.push(("path-prefix", Some(prefix.clone())));
        }
        flags.extend(bool_flag("strip-path-prefix", proxy.strip_path_prefix));
        flags.extend(bool_flag("forward-headers", proxy.forward_headers));
        flags.extend(bool_flag("tls-redirect", proxy.ssl_redirect));
        for header in &proxy.request_headers {
            flags.push(("log-request-header", Some(header.clone())));
        }
        for header in &proxy.response_headers {
            flags.push(("log-response-header", Some(header.clone())));
        }
        let cmd = proxy_exec(["deploy".to_string(), self.container_prefix(role)]).placeholder(
            "--target=",
            CONTAINER_ID,
            &format!(":{}", proxy.app_port),
        );
        Some(cmd.args(flags.into_iter().map(|(name, value)| match value {
            Some(v) => format!("--{name}={v}"),
            None => format!("--{name}"),
        })))
    }

    /// Where Kamal 2.11 keeps a role's custom certificate and key under the proxy's apps
    /// directory `apps` (the host's, or its mount inside the proxy container):
    /// `APPS/S[-D]/tls/R/{cert,key}.pem`.
    pub fn tls_files(&self, role: &Role, apps: &str) -> [String; 2] {
        let dir = self.tls_directory(role, apps);
        [format!("{dir}/cert.pem"), format!("{dir}/key.pem")]
    }

    fn tls_directory(&self, role: &Role, apps: &str) -> String {
        let app = naming::service_and_destination(self.service(), self.destination());
        format!("{apps}/{app}/tls/{}", role.name)
    }

    /// Writes the role's custom certificate and key where [`Commands::proxy_deploy`] points
    /// kamal-proxy, the PEM texts on stdin. The directory is the SSH user's (`mkdir -p`, as
    /// Kamal's); each file is written through the proxy container as its root and handed to
    /// the user the proxy runs as (the owner of its pid 1) with mode 0600, so the proxy reads
    /// it whoever logs in, and no other user of the host does. Replaced atomically.
    pub fn write_tls_files(
        &self,
        role: &Role,
        certificate: Secret<Vec<u8>>,
        key: Secret<Vec<u8>>,
    ) -> [Cmd; 2] {
        let host_dir = self.tls_directory(role, naming::PROXY_APPS_DIRECTORY);
        let files = self.tls_files(role, naming::PROXY_APPS_CONTAINER_DIRECTORY);
        let write =
            |file: &str, pem: Secret<Vec<u8>>| {
                Cmd::new(["mkdir", "-p", &host_dir])
                    .and(
                        Cmd::docker(["exec", "--interactive", "--user", "0", PROXY_CONTAINER])
                            .args(["sh", "-c", WRITE_AS_PROXY_USER, "sh", file]),
                    )
                    .stdin(pem)
            };
        let [certificate_file, key_file] = files;
        [write(&certificate_file, certificate), write(&key_file, key)]
    }

    /// `kamal-proxy remove S-R[-D]`
    pub fn proxy_remove(&self, role: &Role) -> Cmd {
        proxy_exec(["remove".to_string(), self.container_prefix(role)])
    }

    /// `kamal-proxy stop S-R[-D]` (maintenance mode).
    pub fn proxy_stop(
        &self,
        role: &Role,
        drain_timeout: Option<u64>,
        message: Option<&str>,
    ) -> Cmd {
        let mut cmd = proxy_exec(["stop".to_string(), self.container_prefix(role)]);
        if let Some(n) = drain_timeout {
            cmd = cmd.arg(format!("--drain-timeout={n}s"));
        }
        if let Some(m) = message {
            cmd = cmd.arg(format!("--message={m}"));
        }
        cmd
    }

    /// `kamal-proxy resume S-R[-D]`
    pub fn proxy_resume(&self, role: &Role) -> Cmd {
        proxy_exec(["resume".to_string(), self.container_prefix(role)])
    }

    /// `kamal-proxy rollout deploy S-R[-D] --target=ID:PORT`: this version's container
    /// beside the serving one, health-checked, without moving traffic (a canary with
    /// `traffic_percent`).
    pub fn proxy_rollout_deploy(&self, role: &Role) -> Option<Cmd> {
        let proxy = role.proxy.as_ref()?;
        let cmd = self
            .proxy_rollout(role, "deploy")
            .placeholder("--target=", CONTAINER_ID, &format!(":{}", proxy.app_port))
            .args([
                format!("--deploy-timeout={}s", self.config.deploy_timeout),
                format!("--drain-timeout={}s", self.config.drain_timeout),
            ]);
        Some(cmd)
    }

    /// `kamal-proxy rollout set S-R[-D] --percent=P --assign-cookie`: `percent` of the
    /// clients, each given a sticky `kamal-rollout` cookie, reach the rollout target.
    pub fn proxy_rollout_set(&self, role: &Role, percent: u8) -> Cmd {
        self.proxy_rollout(role, "set")
            .args([format!("--percent={percent}"), "--assign-cookie".into()])
    }

    /// `kamal-proxy rollout stop S-R[-D]`: all traffic back to the main target.
    pub fn proxy_rollout_stop(&self, role: &Role) -> Cmd {
        self.proxy_rollout(role, "stop")
    }

    fn proxy_rollout(&self, role: &Role, action: &str) -> Cmd {
        proxy_exec([
            "rollout".to_string(),
            action.to_string(),
            self.container_prefix(role),
        ])
    }

    /// The health status of this version's container (`healthy`, `running`, `exited`…).
    pub fn health_status(&self, role: &Role) -> Cmd {
        self.container_id(role).pipe(Cmd::new([
            "xargs",
            "docker",
            "inspect",
            "--format",
            HEALTH_STATUS_FORMAT,
        ]))
    }

    /// This version's container's IP addresses on its networks, one line, the first word
    /// being the address the health of the container is asked at (it runs on one network,
    /// `kamal` unless its options say otherwise).
    pub fn container_address(&self, role: &Role) -> Cmd {
        Cmd::docker(["inspect", "--format", ADDRESSES_FORMAT]).arg(self.container_name(role))
    }

    /// The configured health check command, run inside the new container.
    pub fn exec_healthcheck(&self, role: &Role) -> Option<Cmd> {
        let hc = role.healthcheck.as_ref()?;
        Some(Cmd::docker(["exec", &self.container_name(role)]).args(hc.cmd.iter().cloned()))
    }

    /// The last `lines` log lines of this version's container, stdout and stderr.
    pub fn logs(&self, role: &Role, lines: u32) -> Cmd {
        Cmd::docker(["logs", "--timestamps", "--tail", &lines.to_string()])
            .arg(self.container_name(role))
            .shell("2>&1")
    }

    /// Stops this version's container (after a failed deploy).
    pub fn stop(&self, role: &Role) -> Cmd {
        Cmd::docker(["stop", "-t", &role.stop_timeout.to_string()]).arg(self.container_name(role))
    }

    /// Stops this version's container if it runs, and succeeds if there is none: the
    /// return of a host whose records may not show yet that it was started.
    pub fn stop_if_running(&self, role: &Role) -> Cmd {
        Cmd::docker([
            "ps".to_string(),
            "--quiet".to_string(),
            "--filter".to_string(),
            format!("name=^{}$", self.container_name(role)),
        ])
        .pipe(stop_each(role))
    }

    /// Stops every running container of the role except this version's (the old release).
    pub fn stop_others(&self, role: &Role) -> Cmd {
        Cmd::docker(["ps", "--format", "{{.Names}}"])
            .args(self.filters(Some(role), &RUNNING_STATUSES))
            .pipe(Cmd::new([
                "grep",
                "-v",
                "-x",
                "-F",
                &self.container_name(role),
            ]))
            .pipe(stop_each(role))
    }

    /// `docker tag REPO:V REPO:latest[-D]`
    pub fn tag_latest(&self) -> Cmd {
        Cmd::docker(["tag", &self.image(), &self.latest_image()])
    }

    /// The service's containers (all roles when `role` is `None`), as `kamal app containers`.
    pub fn list_containers(&self, role: Option<&Role>) -> Cmd {
        Cmd::docker(["container", "ls", "--all"]).args(self.filters(role, &[]))
    }

    /// Removes stopped containers of the service beyond the newest `retain_containers`
    /// (Kamal's `prune.app_containers`).
    pub fn prune_containers(&self) -> Cmd {
        let mut ps = Cmd::docker(["ps", "-q", "-a"]).args(self.service_filter());
        for status in STOPPED_STATUSES {
            ps = ps.args(["--filter", &format!("status={status}")]);
        }
        ps.pipe(Cmd::new([
            "tail",
            "-n",
            &format!("+{}", self.config.retain_containers + 1),
        ]))
        .pipe(Cmd::default().shell("while read container_id; do docker rm $container_id; done"))
    }

    /// Removes dangling images of the service.
    pub fn prune_dangling_images(&self) -> Cmd {
        Cmd::docker(["image", "prune", "--force"]).args(self.service_filter())
    }

    /// Removes tagged images of the service that no container uses, keeping `latest`
    /// (Kamal's `prune.tagged_images`).
    pub fn prune_tagged_images(&self) -> Cmd {
        let service = self.service();
        // Service and repository are validated names (no quotes, `$` or backquotes), so
        // they are safe inside this double-quoted pattern.
        let active = format!(
            "\"$(docker container ls -a --format '{{{{.Image}}}}\\|' --filter label=service={service} | tr -d '\\n'){latest}\\|{repo}:<none>\"",
            latest = self.latest_image(),
            repo = self.config.image.repository,
        );
        Cmd::docker(["image", "ls"])
            .args(self.service_filter())
            .args(["--format", "{{.ID}} {{.Repository}}:{{.Tag}}"])
            .pipe(Cmd::new(["grep", "-v", "-w"]).shell(active))
            .pipe(Cmd::default().shell("while read image tag; do docker rmi $tag; done"))
    }

    /// `mkdir .kamal/lock-S[-D]` plus the base64 `details` file, byte for byte as Kamal's
    /// `lock.acquire` writes them, so `kamal lock status` reads Convoy's locks.
    pub fn lock_acquire(&self, stamp: Stamp, message: &str) -> Cmd {
        let details = format!(
            "Locked by: {} at {}\nVersion: {}\nMessage: {}",
            one_line(stamp.performer, false),
            stamp.iso8601(),
            self.version,
            one_line(message, false)
        );
        let dir = naming::lock_dir(self.service(), self.destination());
        Cmd::new(["mkdir", "-p", naming::RUN_DIRECTORY])
            .and(Cmd::new(["mkdir", &dir]))
            .and(
                Cmd::new(["echo", &ruby_encode64(details.as_bytes())]).write_to(
                    &naming::lock_details_file(self.service(), self.destination()),
                ),
            )
    }

    /// Prints the lock details; fails when no lock is held.
    pub fn lock_status(&self) -> Cmd {
        let dir = naming::lock_dir(self.service(), self.destination());
        let details = naming::lock_details_file(self.service(), self.destination());
        Cmd::new(["stat", &dir])
            .write_to("/dev/null")
            .and(Cmd::new(["cat", &details]).pipe(Cmd::new(["base64", "-d"])))
    }

    pub fn lock_release(&self) -> Cmd {
        let dir = naming::lock_dir(self.service(), self.destination());
        let details = naming::lock_details_file(self.service(), self.destination());
        Cmd::new(["rm", &details]).and(Cmd::new(["rm", "-r", &dir]))
    }

    /// Appends `[time] [performer] [D] [R] message` to the audit log (Kamal's
    /// `auditor.record`: tags in that order, absent ones left out). The line is one line
    /// whatever the performer (a token's `sub`) holds, see [`one_line`]; `printf '%s\n'`
    /// rather than `echo`, which some shells' builtin reads backslash escapes in.
    pub fn audit(&self, stamp: Stamp, role: Option<&Role>, message: &str) -> Cmd {
        let tags = [Some(stamp.iso8601()), Some(stamp.performer.to_string())]
            .into_iter()
            .chain([
                self.destination().map(str::to_string),
                role.map(|r| r.name.clone()),
            ])
            .flatten()
            .map(|t| format!("[{}]", one_line(&t, true)))
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!("{tags} {}", one_line(message, false));
        Cmd::new(["mkdir", "-p", naming::RUN_DIRECTORY]).and(
            Cmd::new(["printf", "%s\\n", &line])
                .append_to(&naming::audit_log(self.service(), self.destination())),
        )
    }

    /// `--filter label=service=S --filter label=destination=D [--filter label=role=R]
    /// [--filter status=…]`, Kamal's container filters (the destination filter is always
    /// present, empty without a destination).
    fn filters(&self, role: Option<&Role>, statuses: &[&str]) -> Vec<String> {
        let mut filters = vec![
            format!("label=service={}", self.service()),
            format!(
                "label=destination={}",
                self.destination().unwrap_or_default()
            ),
        ];
        filters.extend(role.map(|r| format!("label=role={}", r.name)));
        filters.extend(statuses.iter().map(|s| format!("status={s}")));
        filters
            .into_iter()
            .flat_map(|f| ["--filter".to_string(), f])
            .collect()
    }

    fn service_filter(&self) -> [String; 2] {
        [
            "--filter".into(),
            format!("label=service={}", self.service()),
        ]
    }
}

/// The host directory mounted into kamal-proxy (created before [`start_or_run_proxy`]).
pub fn ensure_proxy_directory() -> Cmd {
    Cmd::new(["mkdir", "-p", naming::PROXY_APPS_DIRECTORY])
}

/// Starts kamal-proxy if it exists, else runs it as Kamal 2.11 does with a `proxy.run`
/// section (defaults: `basecamp/kamal-proxy:v0.9.2`, ports 80 and 443).
pub fn start_or_run_proxy(config: &DeployConfig) -> Cmd {
    let run = &config.proxy_run;
    // The proxy image may come from the service's registry, as after Kamal's login.
    let mut cmd = docker_client(config)
        .args(["run", "--name", PROXY_CONTAINER, "--network", NETWORK])
        .args(["--detach", "--restart", "unless-stopped"])
        .args(["--volume", naming::PROXY_CONFIG_VOLUME, "--volume"])
        // `$PWD` must expand on the host: the apps directory lives in the SSH user's home.
        .shell(format!(
            "$PWD/{}:{}",
            naming::PROXY_APPS_DIRECTORY,
            naming::PROXY_APPS_CONTAINER_DIRECTORY
        ));
    if run.publish {
        let binds: Vec<Option<&str>> = if run.bind_ips.is_empty() {
            vec![None]
        } else {
            run.bind_ips.iter().map(|ip| Some(ip.as_str())).collect()
        };
        for bind in binds {
            for (host_port, port) in [(run.http_port, 80), (run.https_port, 443)] {
                let publish = match bind {
                    Some(ip) if ip.contains(':') => format!("[{ip}]:{host_port}:{port}"),
                    Some(ip) => format!("{ip}:{host_port}:{port}"),
                    None => format!("{host_port}:{port}"),
                };
                cmd = cmd.args(["--publish", &publish]);
            }
        }
    }
    if let Some(size) = &run.log_max_size {
        cmd = cmd.args(["--log-opt", &format!("max-size={size}")]);
    }
    if let Some(port) = run.metrics_port {
        cmd = cmd.arg(format!("--expose={port}"));
    }
    cmd = cmd
        .args(option_args(&run.options))
        .args([run.image.as_str(), "kamal-proxy", "run"]);
    if run.debug {
        cmd = cmd.arg("--debug");
    }
    if let Some(port) = run.metrics_port {
        cmd = cmd.args(["--metrics-port", &port.to_string()]);
    }
    // Started again when the run fails: a concurrent deployment on the same host may have
    // created the container between the first start and the run (a name conflict).
    Cmd::docker(["container", "start", PROXY_CONTAINER])
        .or(cmd)
        .or(Cmd::docker(["container", "start", PROXY_CONTAINER]))
}

/// `kamal-proxy list`
pub fn proxy_list() -> Cmd {
    proxy_exec(["list".to_string()])
}

/// The env file Kamal writes for a role: the secret variables only (clear ones travel as
/// `--env`), one `NAME=value` per line, escaped like Kamal's `EnvFile` (Ruby's
/// `String#dump` minus the quotes, `"` and `#` left as is). `lookup` returns a secret's
/// value by name; the error names the first missing secret.
pub fn env_file_contents(
    env: &Env,
    lookup: impl Fn(&str) -> Option<Secret<String>>,
) -> Result<Secret<Vec<u8>>, String> {
    let values = env
        .secret
        .iter()
        .map(|s| {
            lookup(&s.secret)
                .map(|v| (&s.name, v))
                .ok_or_else(|| s.secret.clone())
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Sized for the worst case (an escape is at most 4 bytes per character) so the buffer
    // never grows: growing would leave copies of the values behind in freed memory.
    let size: usize = values
        .iter()
        .map(|(name, value)| name.len() + 2 + 4 * value.expose().len())
        .sum();
    let mut out = Zeroizing::new(String::with_capacity(size.max(1)));
    for (name, value) in &values {
        out.push_str(name);
        out.push('=');
        push_env_value(&mut out, value.expose());
        out.push('\n');
    }
    if out.is_empty() {
        // Kamal never uploads an empty file.
        out.push('\n');
    }
    Ok(Secret::new(std::mem::take(&mut *out).into_bytes()))
}

/// A value as Kamal's env file holds it.
pub(crate) fn escape_env_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_env_value(&mut out, value);
    out
}

fn push_env_value(out: &mut String, value: &str) {
    for c in value.chars() {
        push_escaped(out, c);
    }
}

/// Ruby's `String#dump` escapes for one character: a backslash and the ASCII control
/// characters become escapes, anything else stays.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0c' => out.push_str("\\f"),
        '\x0b' => out.push_str("\\v"),
        '\x08' => out.push_str("\\b"),
        '\x07' => out.push_str("\\a"),
        '\x1b' => out.push_str("\\e"),
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02X}", c as u32);
        }
        c => out.push(c),
    }
}

/// Ruby's `Base64.encode64`: lines of 60 characters, each ending in a newline.
fn ruby_encode64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::new();
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn container_id_of(name: &str) -> Cmd {
    Cmd::docker([
        "container",
        "ls",
        "--all",
        "--filter",
        &format!("name=^{name}$"),
        "--quiet",
    ])
}

/// `xargs -r docker stop -t T`: stops each container named on stdin, within the role's
/// stop timeout.
fn stop_each(role: &Role) -> Cmd {
    Cmd::new([
        "xargs",
        "-r",
        "docker",
        "stop",
        "-t",
        &role.stop_timeout.to_string(),
    ])
}

fn proxy_exec(args: impl IntoIterator<Item = String>) -> Cmd {
    Cmd::docker(["exec", PROXY_CONTAINER, "kamal-proxy"]).args(args)
}

/// kamal-proxy boolean flags: `--flag` for true, `--flag=false` for false, absent if unset.
fn bool_flag(name: &'static str, value: Option<bool>) -> Option<(&'static str, Option<String>)> {
    value.map(|v| (name, (!v).then(|| "false".to_string())))
}

/// Kamal's `logging.args`: the configured driver and options, else `max-size=10m`.
fn logging_args(logging: &Logging) -> Vec<String> {
    if logging.driver.is_none() && logging.options.is_empty() {
        return vec!["--log-opt".into(), "max-size=10m".into()];
    }
    let driver = logging
        .driver
        .iter()
        .flat_map(|d| ["--log-driver".to_string(), d.clone()]);
    let options = logging
        .options
        .iter()
        .flat_map(|(k, v)| ["--log-opt".to_string(), format!("{k}={v}")]);
    driver.chain(options).collect()
}

/// Kamal's `optionize`, one argv word per option: `--name=value`, or `--name` alone for
/// `true`. Kamal writes `--name value`, but a value after a boolean flag is a word of its
/// own that Docker reads as the next flag (`init: "--env-file=…"` would pass a second
/// option); joined with `=`, a value can only ever be that option's value.
fn option_args(options: &[DockerOption]) -> Vec<String> {
    options
        .iter()
        .map(|o| match &o.value {
            Some(value) => format!("--{}={value}", o.name),
            None => format!("--{}", o.name),
        })
        .collect()
}

/// Writes `contents` (from stdin, never the command line) to `file` with mode 0600.
fn write_private_file(dir: &str, file: &str, contents: Secret<Vec<u8>>) -> Cmd {
    Cmd::new(["mkdir", "-p", dir])
        .and(Cmd::new(["umask", "077"]))
        .and(Cmd::new(["touch", file]))
        .and(Cmd::new(["chmod", "600", file]))
        .and(Cmd::new(["cat"]).write_to(file))
        .stdin(contents)
}

/// `docker`, or `docker --config .kamal/apps/S[-D]/docker` when the config has registry
/// credentials, which [`Commands::registry_login`] stores there.
fn docker_client(config: &DeployConfig) -> Cmd {
    let has_credentials = config
        .registry
        .as_ref()
        .is_some_and(|r| r.username.is_some() && r.password_secret.is_some());
    if !has_credentials {
        return Cmd::docker(Vec::<String>::new());
    }
    let dir = naming::docker_config_directory(&config.service, config.destination.as_deref());
    Cmd::docker(["--config", &dir])
}

/// Replaces what could end a line or fake a field in an audit line or the lock details:
/// control characters become visible escapes as in env files (a backslash doubled, so
/// escapes stay unambiguous), the other Unicode line breaks `\u{…}`, and inside a `[tag]`
/// the brackets are escaped too.
fn one_line(text: &str, brackets: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '[' | ']' if brackets => {
                out.push('\\');
                out.push(c);
            }
            c if !c.is_ascii() && (c.is_control() || c == '\u{2028}' || c == '\u{2029}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => push_escaped(&mut out, c),
        }
    }
    out
}

mod app;
#[cfg(test)]
mod tests;

pub use app::exec_audit_message;
