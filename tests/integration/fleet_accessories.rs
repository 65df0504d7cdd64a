//! An accessory on a real fleet host (h9): a stand-in database `db` (the fleet's app
//! image, v2, whose busybox gives it a shell and whose httpd answers on the published
//! port) with a named volume, a directory, a published port and a secret env var. The
//! first deployment boots it, its data survives a reboot, `kamal accessory details`
//! finds it, the secret is on no command line, and removing it leaves nothing of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::engine::{secrets, served, web_role, Engine};
use crate::support::fleet::{fleet, host, script, FleetHost};
use crate::support::kamal::{deploy_yml, ensure_kamal, Project, ServiceCleanup};
use crate::support::{bearer, token};

const SERVICE: &str = "fleet-acc9";
const CONTAINER: &str = "fleet-acc9-db";
const VOLUME: &str = "fleet-acc9-data";
const ENV_FILE: &str = ".kamal/apps/fleet-acc9/env/accessories/db.env";
const PORT: u16 = 15432;
/// The accessory's secret: it may be in the env file and the container's environment,
/// never in a process's command line or the container's command.
const DB_PASSWORD: &str = "db-pw-Convoy-canary-7c2d";
const LIMIT: Duration = Duration::from_secs(120);

fn h9() -> &'static FleetHost {
    host("h9")
}

/// The accessory's image: the app image at another tag than the app's (v1), so removing
/// the accessory's image reference leaves the app's image and the running app alone.
fn accessory_image() -> String {
    format!("{}:v2", fleet().images.app)
}

fn config() -> Value {
    let (_, repository) = fleet().images.app.split_once('/').unwrap();
    let mut config = web_role(SERVICE, repository, &[h9()]);
    config["accessories"] = json!({"db": {
        "image": accessory_image(),
        "host": "h9",
        "port": format!("{PORT}:80"),
        "env": {"clear": {"DB_NAME": "shop"}, "secret": ["DB_PASSWORD"]},
        "volumes": [format!("{VOLUME}:/var/lib/db")],
        "directories": ["files:/srv/files"],
    }});
    config
}

/// The same accessory in Kamal's deploy.yml, on h9's address.
fn kamal_project() -> Project {
    let (_, repository) = fleet().images.app.split_once('/').unwrap();
    let mut yaml = deploy_yml(h9(), SERVICE, repository).yaml;
    yaml.push_str(&format!(
        "\naccessories:\n  db:\n    image: {image}\n    host: {address}\n    port: \"{PORT}:80\"\n    \
         env:\n      clear:\n        DB_NAME: shop\n    volumes:\n      - {VOLUME}:/var/lib/db\n    \
         directories:\n      - files:/srv/files\n",
        image = accessory_image(),
        address = h9().address,
    ));
    Project::new(&yaml)
}

/// Removes the accessory's container, volume, directory and env file: when created (the
/// leftovers of a killed run) and when dropped.
struct AccessoryCleanup;

impl AccessoryCleanup {
    fn new() -> Self {
        Self.run();
        Self
    }

    fn run(&self) {
        let text = format!(
            "docker rm -f {CONTAINER} >/dev/null 2>&1; docker volume rm -f {VOLUME} >/dev/null 2>&1; \
             rm -rf {CONTAINER} {ENV_FILE}; true"
        );
        // Not `FleetHost::exec`: a panic while unwinding would abort the test binary.
        let _ = std::process::Command::new(script())
            .args(["exec", &h9().name, "--", "sh", "-c", &text])
            .output();
    }
}

impl Drop for AccessoryCleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// Reads every process's command line on this machine (the fleet hosts share its process
/// table) until stopped; returns the command lines that showed the secret.
struct CmdlineWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl CmdlineWatch {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut scans, mut seen) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    if line.contains(DB_PASSWORD) {
                        seen.push(line);
                    }
                }
                scans += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (scans, seen)
        });
        Self { stop, thread }
    }

    fn assert_clean(self) {
        self.stop.store(true, Ordering::Relaxed);
        let (scans, seen) = self.thread.join().unwrap();
        assert!(scans > 10, "only {scans} scans of /proc");
        assert!(seen.is_empty(), "the secret on a command line: {seen:?}");
    }
}

async fn wait(engine: &Engine, id: &str) -> Value {
    let d = engine.wait_final(id, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(id).await
    );
    d
}

/// The accessory's container id on h9, or "" when there is none.
fn container_id() -> String {
    h9().exec(&format!(
        "docker container ls --all --quiet --no-trunc --filter name=^{CONTAINER}$"
    ))
    .trim()
    .to_string()
}

fn inspect(format: &str) -> String {
    h9().exec(&format!("docker inspect --format '{format}' {CONTAINER}"))
        .trim()
        .to_string()
}

fn in_db(command: &str) -> String {
    h9().exec(&format!("docker exec {CONTAINER} sh -c '{command}'"))
}

/// The body at `path` of the accessory's published port on h9.
fn published(path: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-f", "-m", "10"])
        .arg(format!("http://{}:{PORT}{path}", h9().address))
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{path} on the published port: {out:?}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accessory_boots_keeps_its_data_across_a_reboot_and_is_removed() {
    ensure_kamal();
    let _service = ServiceCleanup::new(h9(), SERVICE);
    let _accessory = AccessoryCleanup::new();
    let engine = Engine::new(&[h9()], true).await;
    let admin = token("acme", convoy::auth::Role::Admin);

    // The first deployment boots the accessory before the app.
    let watch = CmdlineWatch::start();
    let mut body_secrets = secrets();
    body_secrets["DB_PASSWORD"] = json!(DB_PASSWORD);
    let reply = engine
        .app
        .post(
            "/v1/deployments",
            &admin,
            &json!({"config": config(), "version": "v1", "secrets": body_secrets}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let first = reply.json()["id"].as_str().unwrap().to_string();
    wait(&engine, &first).await;
    let events = engine.events(&first).await;
    let booted: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "accessory_booted")
        .collect();
    assert_eq!(booted.len(), 1, "{events:#?}");
    assert_eq!(booted[0]["metadata"]["host"], "h9", "{booted:#?}");
    assert_eq!(booted[0]["metadata"]["accessory"], "db", "{booted:#?}");
    assert_eq!(served(h9(), SERVICE), "v1");

    let first_id = container_id();
    assert!(!first_id.is_empty(), "no container {CONTAINER}");
    assert_eq!(inspect("{{.State.Status}}"), "running");
    assert_eq!(inspect("{{.Config.Image}}"), accessory_image());
    assert_eq!(
        inspect("{{index .Config.Labels \"service\"}}"),
        CONTAINER,
        "Kamal's service label"
    );
    assert_eq!(
        inspect("{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert_eq!(inspect("{{.HostConfig.NetworkMode}}"), "kamal");
    assert_eq!(
        published("/"),
        "v2",
        "the accessory answers on its published port"
    );
    let env = published("/cgi-bin/env");
    assert!(
        env.contains(&format!("DB_PASSWORD={DB_PASSWORD}")) && env.contains("DB_NAME=shop"),
        "the env file reached the container: {env}"
    );

    // The secret: in the env file (mode 0600), in no command line and not in the
    // container's command.
    assert_eq!(h9().exec(&format!("stat -c %a {ENV_FILE}")).trim(), "600");
    assert_eq!(
        h9().exec(&format!("cat {ENV_FILE}")),
        format!("DB_PASSWORD={DB_PASSWORD}\n")
    );
    let ps = h9().exec("ps -ef");
    assert!(!ps.contains(DB_PASSWORD), "the secret in ps -ef: {ps}");
    let command =
        inspect("{{json .Path}} {{json .Args}} {{json .Config.Cmd}} {{json .Config.Entrypoint}}");
    assert!(!command.contains(DB_PASSWORD), "docker inspect: {command}");
    assert!(
        !command.contains("DB_PASSWORD"),
        "docker inspect: {command}"
    );
    let log = engine.log_text(&first).await;
    assert!(!log.contains(DB_PASSWORD), "the secret in the log");
    assert!(log.contains(&format!("--env-file {ENV_FILE}")), "{log}");

    // Data in the named volume and in the directory.
    in_db("echo row-1 > /var/lib/db/table && echo file-1 > /srv/files/note");
    assert_eq!(
        h9().exec(&format!("cat {CONTAINER}/files/note")),
        "file-1\n",
        "the directory lives under S-NAME/ in the SSH user's home"
    );

    // Kamal reads what Convoy booted.
    let project = kamal_project();
    let details = project.kamal(&["accessory", "details", "db"]);
    assert!(
        details.contains(CONTAINER) && details.contains(&first_id[..12]),
        "kamal accessory details db:\n{details}"
    );

    // A reboot: a new container, the same data.
    let reply = engine
        .app
        .post(
            &format!("/v1/services/{SERVICE}/accessories/db/reboot"),
            &engine.deployer,
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let reboot = reply.json()["id"].as_str().unwrap().to_string();
    let d = wait(&engine, &reboot).await;
    assert_eq!(d["kind"], "accessory_reboot", "{d:#}");
    let kinds = engine.event_kinds(&reboot).await;
    for kind in [
        "operation_started",
        "accessory_booted",
        "operation_completed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    let second_id = container_id();
    assert!(
        !second_id.is_empty() && second_id != first_id,
        "{first_id} -> {second_id}"
    );
    assert_eq!(inspect("{{.State.Status}}"), "running");
    assert_eq!(
        in_db("cat /var/lib/db/table /srv/files/note"),
        "row-1\nfile-1\n"
    );
    assert!(!engine.log_text(&reboot).await.contains(DB_PASSWORD));
    watch.assert_clean();

    // Removal (an admin's): no container, no image tag of the accessory, no directory, no
    // env file. The app's image (another tag) and the app stay; the named volume is left
    // to Docker, as Kamal's `accessory remove` leaves it.
    let req = actix_web::test::TestRequest::delete()
        .uri(&format!("/v1/services/{SERVICE}/accessories/db"))
        .insert_header(bearer(&engine.deployer));
    assert_eq!(
        engine.app.call(req).await.status,
        403,
        "a deployer may not remove"
    );
    let req = actix_web::test::TestRequest::delete()
        .uri(&format!("/v1/services/{SERVICE}/accessories/db"))
        .insert_header(bearer(&admin));
    let reply = engine.app.call(req).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let remove = reply.json()["id"].as_str().unwrap().to_string();
    wait(&engine, &remove).await;
    let kinds = engine.event_kinds(&remove).await;
    assert!(kinds.iter().any(|k| k == "accessory_removed"), "{kinds:?}");
    assert_eq!(container_id(), "", "the container is gone");
    let images = h9().exec("docker image ls --format '{{.Repository}}:{{.Tag}}'");
    assert!(
        !images.lines().any(|i| i == accessory_image()),
        "the accessory's image is gone: {images}"
    );
    assert!(
        images
            .lines()
            .any(|i| i == format!("{}:v1", fleet().images.app)),
        "the app's image stays: {images}"
    );
    assert_eq!(served(h9(), SERVICE), "v1", "the app still runs");
    let left = h9().exec(&format!(
        "ls -d {CONTAINER} {ENV_FILE} 2>/dev/null; docker volume ls -q --filter name=^{VOLUME}$"
    ));
    assert_eq!(left.trim(), VOLUME, "only the named volume is left");
}
