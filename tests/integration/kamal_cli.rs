//! The real `kamal` 2.11 CLI boots convoy-proxy and deploys through it on fleet host h2,
//! from the same deploy.yml Convoy reads (tests/kamal/deploy.yml.hbs): the proxy keeps
//! kamal-proxy's command contract as Kamal itself exercises it.

use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{
    deploy_yml, ensure_kamal, proxy_host, push_labelled_app, Project, ServiceCleanup,
};

const SERVICE: &str = "kamal-cli";

fn h2() -> &'static FleetHost {
    host("h2")
}

#[test]
fn kamal_boots_the_proxy_and_deploys_through_it() {
    ensure_kamal();
    let _cleanup = ServiceCleanup::new(h2(), SERVICE);
    let repository = format!("convoy/{SERVICE}");
    let rendered = deploy_yml(h2(), SERVICE, &repository);
    let project = Project::new(&rendered.yaml);

    project.kamal(&["proxy", "boot"]);
    for version in ["v1", "v2"] {
        push_labelled_app(h2(), SERVICE, &repository, version);
    }
    // --skip-push: nothing is built or pushed from here, so no local docker is needed.
    for version in ["v1", "v2"] {
        project.kamal(&["deploy", "--skip-push", "--version", version]);
        assert_eq!(
            h2().http_get("/", &proxy_host(SERVICE)),
            Ok((200, version.to_string())),
            "after kamal deploy --version {version}"
        );
    }

    let version = project.kamal(&["app", "version"]);
    assert!(
        version.lines().any(|line| line.trim() == "v2"),
        "kamal app version: {version}"
    );
    let details = project.kamal(&["proxy", "details"]);
    assert!(
        details.contains(fleet().images.proxy.as_deref().unwrap()) && details.contains("Up "),
        "kamal proxy details: {details}"
    );
}
