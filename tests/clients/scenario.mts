// The TypeScript client's live scenario (tests/clients/run): two fleet hosts through the
// generated types and openapi-fetch only: register, check, render the generic template,
// deploy v1, deploy v2 with a manual canary on the first host, follow it, promote it, roll it back, read the
// history, stop the service. Every step asserts its result and prints one transcript line.
//
// Environment: CONVOY_URL, TOKEN, FLEET_STATUS (`tests/fleet/fleet status --json`),
// CLIENT_HOSTS (fleet host names; the first is the canary), CLIENT_SERVICE (the service to deploy).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

import { parse as parseYaml } from "yaml";

import { createConvoyClient, type Schemas } from "../../clients/typescript/src/index.ts";

type Deployment = Schemas["DeploymentView"];
type FleetHost = {
  name: string;
  address: string;
  ssh_port: number;
  ssh_user: string;
  ssh_private_key_path: string;
  host_key: string;
  http_port: number;
};
type Fleet = {
  hosts: FleetHost[];
  registry: { address: string; username: string; password: string };
  images: { app: string; proxy: string };
};

const LIMIT_MS = 180_000;
const ENDED = ["deployed", "failed", "cancelled", "rolled_back", "aborted", "expired"];

const fleet: Fleet = JSON.parse(process.env.FLEET_STATUS!);
const names = process.env.CLIENT_HOSTS!.split(" ");
const hosts = names.map((name) => fleet.hosts.find((h) => h.name === name)!);
const service = process.env.CLIENT_SERVICE!;
const convoy = createConvoyClient(process.env.CONVOY_URL!, process.env.TOKEN!);

function say(step: string, text: string) {
  console.log(`typescript: ${step.padEnd(9)} ${text}`);
}

/** The body of an answer that must have `status` (openapi-fetch puts problems in `error`). */
function ok<T>(answer: { data?: T; error?: unknown; response: Response }, status: number): T {
  assert.equal(answer.response.status, status, JSON.stringify(answer.error));
  assert.ok(answer.data !== undefined);
  return answer.data;
}

async function show(id: string): Promise<Deployment> {
  return ok(await convoy.GET("/v1/deployments/{id}", { params: { path: { id } } }), 200);
}

/** Polls the deployment, printing each change of status, progress and host step, until
 * `until` holds; fails on an unexpected end or after LIMIT_MS. */
async function follow(id: string, until: (d: Deployment) => boolean): Promise<Deployment> {
  const deadline = Date.now() + LIMIT_MS;
  let seen = "";
  for (;;) {
    const d = await show(id);
    const p = d.progress;
    const steps = d.targets.map((t) => `${t.server_name}/${t.role} ${t.status} ${t.step ?? "-"}`).join(", ");
    const now = `${d.status} (hosts ${p.hosts_done}/${p.hosts_total}, wave ${p.wave}/${p.waves}) ${steps}`;
    if (now !== seen) say("progress", (seen = now));
    if (until(d)) return d;
    assert.ok(!ENDED.includes(d.status), `deployment ${id} ended ${d.status}: ${d.error}`);
    assert.ok(Date.now() < deadline, `deployment ${id} still ${d.status}`);
    await sleep(500);
  }
}

/** The version each host's proxy serves for the service (the app prints it at `/`): plain
 * HTTP to the app on the hosts, not to Convoy. */
async function served(): Promise<string[]> {
  const versions = await Promise.all(
    hosts.map(
      (host) =>
        new Promise<string>((resolve, reject) => {
          const options = { host: host.address, port: host.http_port, path: "/", headers: { Host: `${service}.test` }, timeout: 5000 };
          get(options, (answer) => {
            let body = "";
            answer.setEncoding("utf8");
            answer.on("data", (chunk) => (body += chunk));
            answer.on("end", () => resolve(body.trim()));
          }).on("error", reject);
        }),
    ),
  );
  say("serve", hosts.map((h, i) => `${h.name} ${versions[i]}`).join(", "));
  return versions;
}

async function eventKinds(id: string): Promise<string[]> {
  const page = ok(await convoy.GET("/v1/deployments/{id}/events", { params: { path: { id }, query: { limit: 200 } } }), 200);
  return page.items.map((e) => e.kind);
}

async function register(host: FleetHost) {
  const server = ok(
    await convoy.POST("/v1/servers", {
      body: {
        name: host.name,
        hostname: host.address,
        port: host.ssh_port,
        ssh_user: host.ssh_user,
        ssh_private_key: readFileSync(host.ssh_private_key_path, "utf8"),
        host_key: host.host_key,
      },
    }),
    201,
  );
  assert.equal(server.name, host.name);
  assert.match(server.host_key_fingerprint ?? "", /^SHA256:/);
  say("register", `${server.name} ${server.hostname} -> server ${server.id}`);
  const check = ok(await convoy.POST("/v1/servers/{id}/check", { params: { path: { id: server.id } } }), 200);
  assert.ok(check.reachable && check.error == null, JSON.stringify(check));
  assert.equal(check.host_key_fingerprint, server.host_key_fingerprint);
  assert.ok(check.docker_version);
  say("check", `${server.name} reachable, docker ${check.docker_version}, ${check.latency_ms} ms`);
  return server;
}

// Register the fleet hosts, pinned to their host keys, then check them over SSH.
for (const host of hosts) await register(host);
const canaryHost = names[0];

// Render the built-in generic template for this host and the fleet's app image.
const templates = ok(await convoy.GET("/v1/templates", { params: { query: { limit: 200 } } }), 200);
const generic = templates.items.find((t) => t.builtin && t.app_type === "generic")!;
const { registry } = fleet;
const rendered = ok(
  await convoy.POST("/v1/templates/{id}/render", {
    params: { path: { id: generic.id } },
    body: {
      variables: {
        service_name: service,
        image_url: fleet.images.app.split("/").slice(1).join("/"),
        servers: names,
        registry_server: registry.address,
        registry_username: registry.username,
        domain: `${service}.test`,
        app_port: 80,
        healthcheck_path: "/up",
        ssl: false,
      },
    },
  }),
  200,
);
// `config` is Convoy's reading of it (defaults filled); `config_yaml` is the deploy.yml.
assert.equal(rendered.config.service, service);
const config = parseYaml(rendered.config_yaml) as Record<string, any>;
assert.equal(config.service, service);
assert.deepEqual(config.servers.web, names);
say("render", `template ${generic.name} (${generic.id}) -> deploy.yml for ${service} on ${names.join(", ")}`);
// The fleet runs its own proxy image; short timeouts keep the scenario quick.
const [proxyImage, proxyVersion] = fleet.images.proxy.split(/:(?=[^:]*$)/);
config.proxy.run = { registry: registry.address, repository: proxyImage.split("/").slice(1).join("/"), version: proxyVersion };
Object.assign(config, { readiness_delay: 1, deploy_timeout: 20, drain_timeout: 2 });

async function deploy(version: string, strategy?: Record<string, unknown>): Promise<Deployment> {
  const created = ok(
    await convoy.POST("/v1/deployments", {
      body: { config, secrets: { KAMAL_REGISTRY_PASSWORD: registry.password }, version, strategy },
    }),
    202,
  );
  assert.equal(created.service, service);
  assert.equal(created.version, version);
  say("deploy", `${version} -> deployment ${created.id} (${created.status})`);
  return created;
}

// v1 everywhere first: the version the rollback returns to.
const v1 = await deploy("v1");
await follow(v1.id, (d) => d.status === "deployed");
assert.deepEqual(await served(), ["v1", "v1"]);

// v2 as a canary on the first host that waits for its promotion.
const v2 = await deploy("v2", { canary: { hosts: 1, bake_seconds: 2, promotion: "manual" } });
const parked = await follow(v2.id, (d) => d.status === "awaiting_promotion");
assert.equal((parked.strategy as { canary: { promotion: string } }).canary.promotion, "manual");
assert.deepEqual(
  Object.fromEntries(parked.targets.map((t) => [t.server_name, t.status])),
  Object.fromEntries(names.map((name) => [name, name === canaryHost ? "succeeded" : "pending"])),
);
assert.deepEqual(await served(), ["v2", "v1"]);
const kinds = await eventKinds(v2.id);
assert.ok(kinds.includes("bake_started") && kinds.includes("bake_passed"), kinds.join());
say("events", kinds.join(", "));

const promoted = ok(await convoy.POST("/v1/deployments/{id}/promote", { params: { path: { id: v2.id } } }), 202);
say("promote", `${promoted.id} (${promoted.status})`);
const done = await follow(v2.id, (d) => d.status === "deployed");
assert.equal(done.previous_version, "v1");
assert.ok(done.targets.every((t) => t.status === "succeeded"));
assert.ok((await eventKinds(v2.id)).includes("promoted"));
assert.deepEqual(await served(), ["v2", "v2"]);

// Roll v2 back: a new deployment of v1; v2 ends rolled_back.
const rollback = ok(await convoy.POST("/v1/deployments/{id}/rollback", { params: { path: { id: v2.id } } }), 202);
assert.equal(rollback.version, "v1");
assert.equal(rollback.rollback_of, v2.id);
say("rollback", `${v2.id} -> deployment ${rollback.id} of ${rollback.version}`);
await follow(rollback.id, (d) => d.status === "deployed");
assert.equal((await show(v2.id)).status, "rolled_back");
assert.deepEqual(await served(), ["v1", "v1"]);

// The history, newest first, and what runs now.
const history = ok(await convoy.GET("/v1/deployments", { params: { query: { service } } }), 200);
const lines = history.items.map((d) => [d.version, d.status, d.live]);
assert.deepEqual(lines, [
  ["v1", "deployed", true],
  ["v2", "rolled_back", false],
  ["v1", "deployed", false],
]);
say("history", lines.map(([v, s, live]) => `${v} ${s}${live ? " live" : ""}`).join("; "));
const live = ok(await convoy.GET("/v1/services/{service}", { params: { path: { service } } }), 200);
assert.deepEqual(
  live.live.map((x) => [x.server_name, x.version]).sort(),
  [...names].sort().map((name) => [name, "v1"]),
);
assert.deepEqual([...new Set(live.live.map((x) => x.deployment_id))], [rollback.id]);
say("live", `${service}: v1 on ${names.join(", ")} (deployment ${rollback.id})`);

// Stop the service (`kamal app stop`): the hosts serve other services' tests next.
const stop = ok(await convoy.POST("/v1/services/{service}/stop", { params: { path: { service } }, body: {} }), 202);
assert.equal(stop.kind, "stop");
await follow(stop.id, (d) => d.status === "deployed");
say("stop", `${service} stopped on ${names.join(", ")} (operation ${stop.id})`);
