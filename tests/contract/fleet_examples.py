"""Points the request examples of the served OpenAPI document at the test fleet.

    fleet_examples.py served.json servers > openapi.json

`servers` holds the "name id" lines of `fleet_register` (h4, h5). The registry comes from
REGISTRY, REGISTRY_USER and REGISTRY_PASSWORD (`fleet_registry`), the SSH key and address of
h4 from FLEET_STATUS (`tests/fleet/fleet status --json`). Only examples change: every
schema, status and link is the served one.
"""

import json
import os
import sys

doc = json.load(open(sys.argv[1]))
servers = dict(line.split() for line in open(sys.argv[2]) if line.strip())
fleet = {h["name"]: h for h in json.loads(os.environ["FLEET_STATUS"])["hosts"]}
registry = os.environ["REGISTRY"]
user = os.environ["REGISTRY_USER"]
password = os.environ["REGISTRY_PASSWORD"]
hosts = sorted(servers)
schemas = doc["components"]["schemas"]

config_yaml = f"""service: contract-app
image: {registry}/convoy/app:v1
servers:
  web:
{''.join(f'    - {h}' + chr(10) for h in hosts)}registry:
  server: {registry}
  username: {user}
  password:
    - KAMAL_REGISTRY_PASSWORD
proxy:
  host: contract.fleet.test
  app_port: 80
  healthcheck:
    path: /up
    interval: 1
  run:
    registry: {registry}
    repository: convoy/proxy
    version: v0.9.2
deploy_timeout: 20
drain_timeout: 10
"""
schemas["DeploymentInput"]["example"] = {
    "config_yaml": config_yaml,
    "secrets": {"KAMAL_REGISTRY_PASSWORD": password},
    "version": "v1",
}

h4 = fleet[hosts[0]]
schemas["CreateServer"]["example"] = {
    "name": "contract-" + hosts[0],
    "hostname": h4["address"],
    "port": h4["ssh_port"],
    "ssh_user": h4["ssh_user"],
    "ssh_private_key": open(h4["ssh_private_key_path"]).read(),
    "host_key": h4["host_key"],
    "labels": {"region": "eu"},
}

render = schemas.get("RenderInput", {}).get("example", {}).get("variables")
if isinstance(render, dict):
    render.update(
        servers=hosts,
        image_url=f"{registry}/convoy/app:v1",
        registry_server=registry,
        registry_username=user,
    )

json.dump(doc, sys.stdout, indent=1)
