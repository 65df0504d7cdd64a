"""The Python client's live scenario (tests/clients/run): two fleet hosts through the
generated `convoy_client` only: register, check, render the generic template, deploy v1,
deploy v2 with a manual canary on the first host, follow it, promote it, roll it back, read the history, stop
the service. Every step asserts its result and prints one transcript line.

Environment: CONVOY_URL, TOKEN, FLEET_STATUS (`tests/fleet/fleet status --json`),
CLIENT_HOSTS (fleet host names; the first is the canary), CLIENT_SERVICE (the service to deploy).
"""

import json
import os
import sys
import time
import urllib.request
from typing import Any, Callable

import yaml
from convoy_client import AuthenticatedClient
from convoy_client.api.deployments import (
    create_deployment,
    get_deployment,
    list_deployment_events,
    list_deployments,
    promote_deployment,
    rollback_deployment,
)
from convoy_client.api.servers import check_server, create_server
from convoy_client.api.services import get_service, stop_service
from convoy_client.api.templates import list_templates, render_template
from convoy_client.models import (
    CreateServer,
    DeploymentInput,
    OperationInput,
    Problem,
    RenderInput,
)
from convoy_client.types import Response

LIMIT_SECONDS = 180
ENDED = {"deployed", "failed", "cancelled", "rolled_back", "aborted", "expired"}


def say(step: str, text: str) -> None:
    print(f"python: {step:<9} {text}", flush=True)


def text(field: Any) -> str:
    """A status or kind as text, whether the spec types it as a string or a string enum."""
    return getattr(field, "value", field)


def ok(response: Response, status: int) -> Any:
    """The parsed body of a response that must have `status`."""
    body = response.parsed
    assert response.status_code == status and not isinstance(body, Problem), (
        f"expected {status}, got {response.status_code}: {response.content!r}"
    )
    return body


def follow(client: AuthenticatedClient, deployment_id, until: Callable[[Any], bool]):
    """Polls the deployment, printing each change of status, progress and host step, until
    `until(deployment)` holds; fails on an unexpected end or after LIMIT_SECONDS."""
    deadline = time.monotonic() + LIMIT_SECONDS
    seen = None
    while True:
        d = ok(get_deployment.sync_detailed(deployment_id, client=client), 200)
        p = d.progress
        steps = ", ".join(f"{t.server_name}/{t.role} {text(t.status)} {t.step or '-'}" for t in d.targets)
        now = f"{text(d.status)} (hosts {p.hosts_done}/{p.hosts_total}, wave {p.wave}/{p.waves}) {steps}"
        if now != seen:
            say("progress", now)
            seen = now
        if until(d):
            return d
        assert text(d.status) not in ENDED, f"deployment {deployment_id} ended {text(d.status)}: {d.error}"
        assert time.monotonic() < deadline, f"deployment {deployment_id} still {text(d.status)}"
        time.sleep(0.5)


def served(hosts: list[dict], service: str) -> list[str]:
    """The version each host's proxy serves for the service (the app prints it at `/`):
    plain HTTP to the app on the hosts, not to Convoy."""
    versions = []
    for host in hosts:
        url = f"http://{host['address']}:{host['http_port']}/"
        request = urllib.request.Request(url, headers={"Host": f"{service}.test"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            versions.append(answer.read().decode().strip())
    say("serve", ", ".join(f"{h['name']} {v}" for h, v in zip(hosts, versions, strict=True)))
    return versions


def event_kinds(client: AuthenticatedClient, deployment_id) -> list[str]:
    page = ok(list_deployment_events.sync_detailed(deployment_id, client=client, limit=200), 200)
    return [text(e.kind) for e in page.items]


def register(client: AuthenticatedClient, host: dict):
    with open(host["ssh_private_key_path"]) as key:
        server = ok(
            create_server.sync_detailed(
                client=client,
                body=CreateServer(
                    name=host["name"],
                    hostname=host["address"],
                    port=host["ssh_port"],
                    ssh_user=host["ssh_user"],
                    ssh_private_key=key.read(),
                    host_key=host["host_key"],
                ),
            ),
            201,
        )
    assert server.name == host["name"] and server.host_key_fingerprint.startswith("SHA256:")
    say("register", f"{server.name} {server.hostname} -> server {server.id}")
    check = ok(check_server.sync_detailed(server.id, client=client), 200)
    assert check.reachable and check.error is None, check
    assert check.host_key_fingerprint == server.host_key_fingerprint
    assert check.docker_version, check
    say("check", f"{server.name} reachable, docker {check.docker_version}, {check.latency_ms} ms")
    return server


def main() -> None:
    fleet = json.loads(os.environ["FLEET_STATUS"])
    names = os.environ["CLIENT_HOSTS"].split()
    hosts = [next(h for h in fleet["hosts"] if h["name"] == name) for name in names]
    service = os.environ["CLIENT_SERVICE"]
    registry = fleet["registry"]
    proxy_image, proxy_version = fleet["images"]["proxy"].rsplit(":", 1)
    client = AuthenticatedClient(base_url=os.environ["CONVOY_URL"], token=os.environ["TOKEN"])

    # Register the fleet hosts, pinned to their host keys, then check them over SSH.
    servers = [register(client, host) for host in hosts]
    canary_host = servers[0].name

    # Render the built-in generic template for this host and the fleet's app image.
    templates = ok(list_templates.sync_detailed(client=client, limit=200), 200)
    generic = next(t for t in templates.items if t.builtin and t.app_type == "generic")
    rendered = ok(
        render_template.sync_detailed(
            generic.id,
            client=client,
            body=RenderInput.from_dict(
                {
                    "variables": {
                        "service_name": service,
                        "image_url": fleet["images"]["app"].split("/", 1)[1],
                        "servers": names,
                        "registry_server": registry["address"],
                        "registry_username": registry["username"],
                        "domain": f"{service}.test",
                        "app_port": 80,
                        "healthcheck_path": "/up",
                        "ssl": False,
                    }
                }
            ),
        ),
        200,
    )
    # `config` is Convoy's reading of it (defaults filled); `config_yaml` is the deploy.yml.
    assert rendered.config.to_dict()["service"] == service
    config = yaml.safe_load(rendered.config_yaml)
    assert config["service"] == service and config["servers"]["web"] == names, config
    say("render", f"template {generic.name} ({generic.id}) -> deploy.yml for {service} on {', '.join(names)}")
    # The fleet runs its own proxy image; short timeouts keep the scenario quick.
    config["proxy"]["run"] = {
        "registry": registry["address"],
        "repository": proxy_image.split("/", 1)[1],
        "version": proxy_version,
    }
    config.update({"readiness_delay": 1, "deploy_timeout": 20, "drain_timeout": 2})
    secrets = {"KAMAL_REGISTRY_PASSWORD": registry["password"]}

    def deploy(version: str, strategy: dict | None):
        # from_dict builds the nested models, whatever the generator names them.
        body = DeploymentInput.from_dict(
            {"config": config, "secrets": secrets, "version": version, "strategy": strategy}
        )
        created = ok(create_deployment.sync_detailed(client=client, body=body), 202)
        assert created.service == service and created.version == version
        say("deploy", f"{version} -> deployment {created.id} ({text(created.status)})")
        return created

    # v1 everywhere first: the version the rollback returns to.
    v1 = deploy("v1", None)
    follow(client, v1.id, lambda d: d.status == "deployed")
    assert served(hosts, service) == ["v1"] * len(hosts)

    # v2 as a canary on the first host that waits for its promotion.
    canary = {"canary": {"hosts": 1, "bake_seconds": 2, "promotion": "manual"}}
    v2 = deploy("v2", canary)
    parked = follow(client, v2.id, lambda d: d.status == "awaiting_promotion")
    stored = parked.strategy if isinstance(parked.strategy, dict) else parked.strategy.to_dict()
    assert stored["canary"]["promotion"] == "manual", stored
    assert {t.server_name: text(t.status) for t in parked.targets} == {
        name: "succeeded" if name == canary_host else "pending" for name in names
    }, parked.targets
    assert served(hosts, service) == ["v2"] + ["v1"] * (len(hosts) - 1)
    kinds = event_kinds(client, v2.id)
    assert {"bake_started", "bake_passed"} <= set(kinds), kinds
    say("events", ", ".join(kinds))

    promoted = ok(promote_deployment.sync_detailed(v2.id, client=client), 202)
    say("promote", f"{promoted.id} ({text(promoted.status)})")
    done = follow(client, v2.id, lambda d: d.status == "deployed")
    assert done.previous_version == "v1" and all(t.status == "succeeded" for t in done.targets)
    assert "promoted" in event_kinds(client, v2.id)
    assert served(hosts, service) == ["v2"] * len(hosts)

    # Roll v2 back: a new deployment of v1; v2 ends rolled_back.
    rollback = ok(rollback_deployment.sync_detailed(v2.id, client=client), 202)
    assert rollback.version == "v1" and str(rollback.rollback_of) == str(v2.id), rollback
    say("rollback", f"{v2.id} -> deployment {rollback.id} of {rollback.version}")
    follow(client, rollback.id, lambda d: d.status == "deployed")
    rolled = ok(get_deployment.sync_detailed(v2.id, client=client), 200)
    assert rolled.status == "rolled_back", rolled.status
    assert served(hosts, service) == ["v1"] * len(hosts)

    # The history, newest first, and what runs now.
    history = ok(list_deployments.sync_detailed(client=client, service=service), 200)
    lines = [(d.version, text(d.status), d.live) for d in history.items]
    assert lines == [("v1", "deployed", True), ("v2", "rolled_back", False), ("v1", "deployed", False)], lines
    say("history", "; ".join(f"{v} {s}{' live' if live else ''}" for v, s, live in lines))
    live = ok(get_service.sync_detailed(service, client=client), 200)
    assert sorted((x.server_name, x.version) for x in live.live) == [(n, "v1") for n in sorted(names)], live
    assert {x.deployment_id for x in live.live} == {rollback.id}, live
    say("live", f"{service}: v1 on {', '.join(names)} (deployment {rollback.id})")

    # Stop the service (`kamal app stop`): the hosts serve other services' tests next.
    stop = ok(stop_service.sync_detailed(service, client=client, body=OperationInput()), 202)
    assert stop.kind == "stop", stop.kind
    follow(client, stop.id, lambda d: d.status == "deployed")
    say("stop", f"{service} stopped on {', '.join(names)} (operation {stop.id})")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"python: FAILED {e}", file=sys.stderr)
        raise
