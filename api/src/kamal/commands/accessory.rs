//! The on-host commands of one accessory, shaped like Kamal 2.11's
//! `lib/kamal/commands/accessory.rb`: the container `S-NAME` labelled `service=S-NAME`,
//! its env file `.kamal/apps/S[-D]/env/accessories/NAME.env` (secret values only, written
//! from stdin with mode 0600) and its directories under `S-NAME/` in the SSH user's home.

use super::{
    container_id_of, docker_client, logging_args, option_args, write_private_file, Commands,
};
use crate::kamal::cmd::{quote, Cmd};
use crate::kamal::config::{Accessory, Credential, DeployConfig, Logging};
use crate::kamal::naming::{self, RUN_DIRECTORY};
use crate::secret::Secret;

#[derive(Clone, Copy, Debug)]
pub struct AccessoryCommands<'a> {
    pub config: &'a DeployConfig,
    pub accessory: &'a Accessory,
}

impl<'a> AccessoryCommands<'a> {
    pub fn new(config: &'a DeployConfig, accessory: &'a Accessory) -> Self {
        Self { config, accessory }
    }

    /// The container's name, `S-NAME`.
    pub fn container_name(&self) -> &'a str {
        &self.accessory.service_name
    }

    /// `.kamal/apps/S[-D]/env/accessories`
    pub fn env_directory(&self) -> String {
        let app = naming::service_and_destination(
            &self.config.service,
            self.config.destination.as_deref(),
        );
        format!("{RUN_DIRECTORY}/apps/{app}/env/accessories")
    }

    /// `.kamal/apps/S[-D]/env/accessories/NAME.env`
    pub fn env_file(&self) -> String {
        format!("{}/{}.env", self.env_directory(), self.accessory.name)
    }

    /// Writes the env file (see [`super::env_file_contents`]) from stdin, mode 0600.
    pub fn write_env_file(&self, contents: Secret<Vec<u8>>) -> Cmd {
        write_private_file(&self.env_directory(), &self.env_file(), contents)
    }

    /// The service's registry credentials, written as for the app (Kamal logs in to the
    /// registry before it boots an accessory), so that [`Self::run`] can pull a private
    /// image on a host the app never reached; `Ok(None)` without credentials, `Err` names
    /// a secret that was not provided.
    pub fn registry_login(
        &self,
        secret: impl Fn(&str) -> Option<Secret<String>>,
    ) -> Result<Option<Cmd>, String> {
        let Some(registry) = &self.config.registry else {
            return Ok(None);
        };
        let Some(password) = &registry.password_secret else {
            return Ok(None);
        };
        let get = |name: &str| secret(name).ok_or_else(|| name.to_string());
        let password = Secret::new(get(password)?.expose().clone().into_bytes());
        let username = match &registry.username {
            Some(Credential::Secret(name)) => Some(get(name)?),
            _ => None,
        };
        Ok(Commands::new(self.config, "").registry_login(username, password))
    }

    /// `mkdir -p S-NAME/local …` for each directory (absolute ones as written), as
    /// Kamal's `accessory boot` does before running; `None` without directories.
    pub fn make_directories(&self) -> Option<Cmd> {
        let dirs: Vec<String> = self
            .accessory
            .directories
            .iter()
            .map(|d| self.host_directory(&d.local))
            .collect();
        (!dirs.is_empty()).then(|| Cmd::new(["mkdir", "-p"]).args(dirs))
    }

    fn host_directory(&self, local: &str) -> String {
        if local.starts_with('/') {
            local.to_string()
        } else {
            format!("{}/{local}", self.container_name())
        }
    }

    /// `docker container ls --all --filter name=^S-NAME$ --quiet`: empty when none exists.
    pub fn container_id(&self) -> Cmd {
        container_id_of(self.container_name())
    }

    /// Kamal's `accessory.run`, through `docker --config` when the service has registry
    /// credentials (see [`Self::registry_login`]).
    pub fn run(&self) -> Cmd {
        let a = self.accessory;
        let mut cmd = docker_client(self.config)
            .args(["run", "--name", self.container_name(), "--detach"])
            .args(["--restart", "unless-stopped", "--network", &a.network])
            .args(logging_args(&Logging::default()));
        if let Some(port) = &a.port {
            cmd = cmd.args(["--publish", port]);
        }
        for (key, value) in &a.env.clear {
            cmd = cmd.args(["--env", &format!("{key}={value}")]);
        }
        cmd = cmd.args(["--env-file", &self.env_file()]);
        for volume in &a.volumes {
            cmd = cmd.args(["--volume", volume]);
        }
        for d in &a.directories {
            let options = d.options.as_deref().map(|o| format!(":{o}"));
            let mount = format!("{}:{}{}", d.local, d.remote, options.unwrap_or_default());
            cmd = match d.local.starts_with('/') {
                true => cmd.args(["--volume", &mount]),
                // Docker wants an absolute source; Kamal writes `$(pwd)/S-NAME/local`.
                false => cmd.arg("--volume").shell(format!(
                    "\"$(pwd)\"/{}",
                    quote(&format!("{}/{mount}", self.container_name()))
                )),
            };
        }
        cmd = cmd.args(["--label", &format!("service={}", self.container_name())]);
        for (key, value) in &a.labels {
            cmd = cmd.args(["--label", &format!("{key}={value}")]);
        }
        cmd.args(option_args(&a.options))
            .arg(&a.image)
            .args(a.cmd.iter().cloned())
    }

    /// `docker container start S-NAME`
    pub fn start(&self) -> Cmd {
        Cmd::docker(["container", "start", self.container_name()])
    }

    /// `docker container stop S-NAME`
    pub fn stop(&self) -> Cmd {
        Cmd::docker(["container", "stop", self.container_name()])
    }

    /// `docker container prune --force --filter label=service=S-NAME`: the stopped
    /// container (Kamal's `remove_container`).
    pub fn remove_container(&self) -> Cmd {
        Cmd::docker(["container", "prune", "--force"]).args(self.service_filter())
    }

    /// `docker image rm --force IMAGE`
    pub fn remove_image(&self) -> Cmd {
        Cmd::docker(["image", "rm", "--force", &self.accessory.image])
    }

    /// `rm -rf S-NAME` (Kamal's `remove_service_directory`) and the env file.
    pub fn remove_files(&self) -> Cmd {
        Cmd::new(["rm", "-rf", self.container_name()]).and(Cmd::new(["rm", "-f", &self.env_file()]))
    }

    /// `docker ps --filter label=service=S-NAME` (Kamal's `accessory details`).
    pub fn details(&self) -> Cmd {
        Cmd::docker(["ps"]).args(self.service_filter())
    }

    fn service_filter(&self) -> [String; 2] {
        [
            "--filter".into(),
            format!("label=service={}", self.container_name()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kamal::commands::env_file_contents;
    use crate::kamal::config::parse_config;

    fn config(accessory: serde_json::Value) -> DeployConfig {
        parse_config(&json!({
            "service": "shop", "image": "acme/shop", "servers": ["h1"],
            "accessories": {"db": accessory},
        }))
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn db() -> DeployConfig {
        config(json!({
            "image": "postgres:16", "host": "h1", "port": "127.0.0.1:5432:5432",
            "cmd": "postgres -c 'max_connections=50'",
            "env": {"clear": {"POSTGRES_DB": "shop"}, "secret": ["POSTGRES_PASSWORD"]},
            "volumes": ["pg:/var/lib/postgresql/data"],
            "directories": ["conf:/etc/postgresql:ro"],
            "labels": {"team": "data"},
            "options": {"memory": "1g"},
        }))
    }

    fn commands(config: &DeployConfig) -> AccessoryCommands<'_> {
        AccessoryCommands::new(config, &config.accessories["db"])
    }

    #[test]
    fn run_is_kamals_accessory_run() {
        let config = db();
        assert_eq!(
            commands(&config).run().render(),
            "docker run --name shop-db --detach --restart unless-stopped --network kamal \
             --log-opt max-size=10m --publish 127.0.0.1:5432:5432 --env POSTGRES_DB=shop \
             --env-file .kamal/apps/shop/env/accessories/db.env \
             --volume pg:/var/lib/postgresql/data \
             --volume \"$(pwd)\"/shop-db/conf:/etc/postgresql:ro \
             --label service=shop-db --label team=data --memory=1g postgres:16 \
             postgres -c max_connections=50"
        );
    }

    #[test]
    fn the_env_file_holds_the_secret_and_only_stdin_carries_it() {
        let config = db();
        let c = commands(&config);
        let accessory = &config.accessories["db"];
        let contents = env_file_contents(&accessory.env, |name| {
            (name == "POSTGRES_PASSWORD").then(|| Secret::new("s3cret pw".to_string()))
        })
        .unwrap();
        assert_eq!(contents.expose(), b"POSTGRES_PASSWORD=s3cret pw\n");
        let write = c.write_env_file(contents);
        let line = write.render();
        assert!(!line.contains("s3cret"), "{line}");
        assert!(
            line.contains("chmod 600 .kamal/apps/shop/env/accessories/db.env"),
            "{line}"
        );
        assert_eq!(
            write.stdin_bytes().map(|b| b.expose().clone()),
            Some(b"POSTGRES_PASSWORD=s3cret pw\n".to_vec())
        );
        assert!(!c.run().render().contains("s3cret"));
    }

    #[test]
    fn a_destination_moves_the_env_file_not_the_container() {
        let config = db().with_destination(Some("staging")).unwrap();
        let c = commands(&config);
        assert_eq!(c.container_name(), "shop-db");
        assert_eq!(
            c.env_file(),
            ".kamal/apps/shop-staging/env/accessories/db.env"
        );
    }

    #[test]
    fn directories_lifecycle_and_details_match_kamal() {
        let config = config(json!({
            "image": "redis:7", "host": "h1", "service": "cache",
            "directories": ["data:/data", "/srv/cache:/srv"],
        }));
        let c = commands(&config);
        let render = |cmd: Option<Cmd>| cmd.map(|c| c.render());
        assert_eq!(
            render(c.make_directories()).as_deref(),
            Some("mkdir -p cache/data /srv/cache")
        );
        let run = c.run().render();
        assert!(
            run.contains("--volume \"$(pwd)\"/cache/data:/data --volume /srv/cache:/srv"),
            "{run}"
        );
        assert!(!run.contains("--publish"), "{run}");
        assert_eq!(
            c.container_id().render(),
            "docker container ls --all --filter 'name=^cache$' --quiet"
        );
        assert_eq!(c.stop().render(), "docker container stop cache");
        assert_eq!(c.start().render(), "docker container start cache");
        assert_eq!(
            c.remove_container().render(),
            "docker container prune --force --filter label=service=cache"
        );
        assert_eq!(c.remove_image().render(), "docker image rm --force redis:7");
        assert_eq!(
            c.remove_files().render(),
            "rm -rf cache && rm -f .kamal/apps/shop/env/accessories/db.env"
        );
        assert_eq!(
            c.details().render(),
            "docker ps --filter label=service=cache"
        );
    }

    #[test]
    fn a_private_registry_is_logged_in_to_before_the_run_pulls() {
        let config = parse_config(&json!({
            "service": "shop", "image": "acme/shop", "servers": ["h1"],
            "registry": {"server": "registry.example:5000", "username": "deploy",
                "password": ["REGISTRY_PASSWORD"]},
            "accessories": {"db": {"image": "registry.example:5000/acme/db:1", "host": "h1"}},
        }))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let c = commands(&config);
        let secret =
            |name: &str| (name == "REGISTRY_PASSWORD").then(|| Secret::new("reg-pw-9".to_string()));
        let login = c.registry_login(secret).unwrap().expect("a login");
        let line = login.render();
        assert!(!line.contains("reg-pw-9"), "{line}");
        assert!(
            line.contains("chmod 600 .kamal/apps/shop/docker/config.json"),
            "{line}"
        );
        let stdin = String::from_utf8(login.stdin_bytes().unwrap().expose().clone()).unwrap();
        assert!(stdin.contains("registry.example:5000"), "{stdin}");
        assert!(c
            .run()
            .render()
            .starts_with("docker --config .kamal/apps/shop/docker run --name shop-db "));
        assert_eq!(
            c.registry_login(|_| None).unwrap_err(),
            "REGISTRY_PASSWORD",
            "the missing secret is named"
        );
        // Without credentials: no login, a plain `docker run`.
        let config = db();
        assert!(commands(&config)
            .registry_login(|_| None)
            .unwrap()
            .is_none());
        assert!(commands(&config).run().render().starts_with("docker run "));
    }

    #[test]
    fn without_directories_nothing_is_made() {
        let config = config(json!({"image": "redis:7", "host": "h1"}));
        assert!(commands(&config).make_directories().is_none());
    }
}
