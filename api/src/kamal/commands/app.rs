//! The commands that operate a deployed app between deployments (SPEC §10), shaped like
//! Kamal 2.11's `kamal app start|stop|remove|exec` (`lib/kamal/commands/app.rb`,
//! `app/containers.rb`, `app/images.rb`, `app/execution.rb`, `server.rb`).

use super::{logging_args, option_args, stop_each, Commands, RUNNING_STATUSES};
use crate::kamal::cmd::Cmd;
use crate::kamal::config::Role;
use crate::kamal::naming::{self, NETWORK, RUN_DIRECTORY};

impl Commands<'_> {
    /// `docker start S-R[-D]-V` (Kamal's `app.start`).
    pub fn start(&self, role: &Role) -> Cmd {
        Cmd::docker(["start", &self.container_name(role)])
    }

    /// Stops every running container of the role, whatever its version: what
    /// `kamal app remove` stops before it prunes.
    pub fn stop_all(&self, role: &Role) -> Cmd {
        Cmd::docker(["ps", "--quiet"])
            .args(self.filters(Some(role), &RUNNING_STATUSES))
            .pipe(stop_each(role))
    }

    /// `docker container prune --force` over the role's containers (Kamal's
    /// `remove_containers`): every stopped container of the role.
    pub fn remove_containers(&self, role: &Role) -> Cmd {
        Cmd::docker(["container", "prune", "--force"]).args(self.filters(Some(role), &[]))
    }

    /// Kamal's `remove_images` (the images labelled with the service), then every tag of
    /// the service's repository, which images not built by Kamal carry no label for.
    pub fn remove_images(&self) -> Cmd {
        let repository = &self.config.image.repository;
        Cmd::docker(["image", "prune", "--all", "--force"])
            .args(self.service_filter())
            .and(
                Cmd::docker(["image", "ls", "--filter", "dangling=false"])
                    .args(["--format", "{{.Repository}}:{{.Tag}}", repository])
                    .pipe(Cmd::new(["xargs", "-r", "docker", "rmi"])),
            )
    }

    /// `.kamal/apps/S[-D]`: the env files and the registry credentials of the service.
    pub fn app_directory(&self) -> String {
        let name = naming::service_and_destination(self.service(), self.destination());
        format!("{RUN_DIRECTORY}/apps/{name}")
    }

    /// `rm -r -f .kamal/apps/S[-D]` (Kamal's `remove_app_directory`; forced so that a
    /// second run succeeds).
    pub fn remove_app_directory(&self) -> Cmd {
        Cmd::new(["rm", "-rf", &self.app_directory()])
    }

    /// `rm -f` the role's env file (Kamal's `remove_env_file`), for a role removed from a
    /// host that keeps other roles of the service.
    pub fn remove_env_file(&self, role: &Role) -> Cmd {
        Cmd::new(["rm", "-f", &self.env_file(role)])
    }

    /// Kamal's `execute_in_new_container` (`kamal app exec`, without `--reuse`,
    /// `--interactive` or `--detach`): a container of this version removed when the
    /// command ends, with the role's clear env and its env file (secrets never on the
    /// command line), logging, volumes and options. Each word of `command` is quoted.
    pub fn exec_in_new_container(&self, role: &Role, host: &str, command: &[String]) -> Cmd {
        let mut cmd = Cmd::docker(["run", "--rm", "--network", NETWORK]);
        for (key, value) in &self.config.env_for(role, host).clear {
            cmd = cmd.args(["--env", &format!("{key}={value}")]);
        }
        cmd = cmd.args(["--env-file", &self.env_file(role)]);
        cmd = cmd.args(logging_args(&role.logging));
        for volume in &self.config.volumes {
            cmd = cmd.args(["--volume", volume]);
        }
        cmd.args(option_args(&role.options))
            .arg(self.image())
            .args(command.iter().cloned())
    }
}

/// Kamal's audit message of `kamal app exec` (`Kamal::Utils.join_commands`: the words
/// joined by spaces).
pub fn exec_audit_message(command: &[String], version: &str) -> String {
    let joined: Vec<&str> = command.iter().map(|w| w.trim()).collect();
    format!(
        "Executed cmd '{}' on app version {version}",
        joined.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kamal::config::{parse_config, DeployConfig};

    fn config(destination: bool) -> DeployConfig {
        let mut value = json!({"service": "app", "image": "dhh/app", "servers": ["1.1.1.1"],
            "env": {"clear": {"RAILS_ENV": "production"}, "secret": ["DB_PASSWORD"]}});
        if destination {
            value["destination"] = json!("staging");
        }
        parse_config(&value).unwrap()
    }

    fn render(f: impl Fn(&Commands, &Role) -> Cmd) -> String {
        let config = config(false);
        f(&Commands::new(&config, "999"), &config.roles[0]).render()
    }

    #[test]
    fn start_names_the_versions_container() {
        assert_eq!(render(|c, r| c.start(r)), "docker start app-web-999");
    }

    #[test]
    fn stop_all_stops_every_running_container_of_the_role() {
        assert_eq!(
            render(|c, r| c.stop_all(r)),
            "docker ps --quiet --filter label=service=app --filter label=destination= \
             --filter label=role=web --filter status=running --filter status=restarting \
             | xargs -r docker stop -t 30"
        );
    }

    #[test]
    fn remove_containers_prunes_the_roles_stopped_containers() {
        assert_eq!(
            render(|c, r| c.remove_containers(r)),
            "docker container prune --force --filter label=service=app \
             --filter label=destination= --filter label=role=web"
        );
    }

    #[test]
    fn remove_images_prunes_the_labelled_images_then_the_repositorys_tags() {
        assert_eq!(
            render(|c, _| c.remove_images()),
            "docker image prune --all --force --filter label=service=app && \
             docker image ls --filter dangling=false --format '{{.Repository}}:{{.Tag}}' dhh/app \
             | xargs -r docker rmi"
        );
    }

    #[test]
    fn remove_app_directory_takes_the_destination_into_account() {
        assert_eq!(
            render(|c, _| c.remove_app_directory()),
            "rm -rf .kamal/apps/app"
        );
        let config = config(true);
        assert_eq!(
            Commands::new(&config, "999")
                .remove_app_directory()
                .render(),
            "rm -rf .kamal/apps/app-staging"
        );
    }

    #[test]
    fn remove_env_file_removes_the_roles_file() {
        assert_eq!(
            render(|c, r| c.remove_env_file(r)),
            "rm -f .kamal/apps/app/env/roles/web.env"
        );
    }

    #[test]
    fn exec_runs_a_new_container_with_the_env_file_and_quotes_each_word() {
        let command = ["sh".to_string(), "-c".into(), "echo $HOME; ls".into()];
        assert_eq!(
            render(|c, r| c.exec_in_new_container(r, "1.1.1.1", &command)),
            "docker run --rm --network kamal --env RAILS_ENV=production \
             --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m \
             dhh/app:999 sh -c 'echo $HOME; ls'"
        );
    }

    #[test]
    fn the_exec_audit_message_is_kamals() {
        let command = ["bin/rails".to_string(), "db:migrate ".into()];
        assert_eq!(
            exec_audit_message(&command, "999"),
            "Executed cmd 'bin/rails db:migrate' on app version 999"
        );
    }
}
