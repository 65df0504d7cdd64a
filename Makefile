# Convoy: `make run` serves the API on a private local PostgreSQL; `make test` runs
# everything CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
DEV_ENV := .convoy/dev.env
# Where cargo puts binaries: honours CARGO_TARGET_DIR like cargo itself.
CONVOY := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/debug/convoy

.PHONY: run test lint integration fleet-suites convoy-bin fleet-up smoke openapi openapi-check schema bench clean-dev demo contract fuzz

## Start PostgreSQL (when DATABASE_URL is unset), migrate, print a token, serve.
run:
	@deploy/dev-env.sh
	$(CARGO) build -p convoy
	@set -a; . $(DEV_ENV); set +a; \
	$(CONVOY) migrate; \
	token=$$($(CONVOY) token --org dev --sub developer --roles admin); \
	echo; echo "Convoy on http://$$CONVOY_BIND (settings in $(DEV_ENV))"; \
	echo "Token (org dev, admin, 24 h):"; echo "  export TOKEN=$$token"; \
	echo "Try:"; echo "  curl -s -H \"Authorization: Bearer \$$TOKEN\" http://$$CONVOY_BIND/v1/templates"; echo; \
	exec $(CONVOY) serve

## A first deployment: two local fleet hosts (DEMO_HOSTS, default "h1 h2") registered in
## org dev, the sample app v1 then v2 deployed with the `generic` template, through the
## Convoy of `make run` or one started in the background (deploy/demo).
demo: convoy-bin
	CONVOY_BIN=$(CONVOY) deploy/demo

## Everything CI runs: the fleet stays up for the integration tests and the suites that
## run against a served Convoy (`fleet-suites`), then goes down unless FLEET_KEEP=1.
test: lint openapi-check
	@status=0; $(MAKE) --no-print-directory integration fleet-suites || status=$$?; \
	[ -n "$${FLEET_KEEP:-}" ] || tests/fleet/fleet down; \
	exit $$status
	$(MAKE) --no-print-directory smoke

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Unit and integration tests against PostgreSQL and the real fleet (brought up here).
integration: fleet-up
	@deploy/dev-env.sh
	@set -a; . $(DEV_ENV); set +a; \
	export TEST_DATABASE_URL="$${DATABASE_URL%/*}/postgres"; \
	$(CARGO) test --workspace

## Suites that run against a served Convoy and the fleet (tests/support/serve.sh); each
## suite's target depends on `convoy-bin fleet-up` and adds itself with a
## `fleet-suites: NAME` line below.
fleet-suites: fleet-up convoy-bin

## Schemathesis against a served Convoy and fleet hosts h4, h5 (docs/API.md, "Fuzzing"):
## >= 2,000 cases, fixed seed, every check, 0 failures. `make fuzz`: >= 10,000 cases.
fleet-suites: contract
contract: convoy-bin fleet-up
	@deploy/dev-env.sh
	tests/contract/run
fuzz: convoy-bin fleet-up
	@deploy/dev-env.sh
	CONTRACT_CASES=10000 tests/contract/run

convoy-bin:
	$(CARGO) build -p convoy

## The test fleet with the proxy image built from this tree (tests/fleet/README.md).
fleet-up:
	$(CARGO) build -p convoy-proxy
	tests/fleet/install
	FLEET_HOSTS=$${FLEET_HOSTS:-19} CONVOY_PROXY_BIN=$(dir $(CONVOY))kamal-proxy tests/fleet/fleet up

## The committed spec is valid OpenAPI 3.1 (its drift from the code is a cargo test).
openapi-check:
	@python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install -q --break-system-packages openapi-spec-validator
	python3 -m openapi_spec_validator openapi/openapi.json

## A fresh clone's `make run` answers /readyz; its `make demo` deploys v1 then v2.
smoke:
	tests/smoke/make-run
	tests/smoke/demo

## Requests/s and p50/p99 latency through convoy-proxy, direct and through nginx, and the
## proxy's peak memory (docs/PROXY.md).
## Per-command overhead over a pooled russh connection vs OpenSSH ControlMaster (docs/TRANSPORT.md).
## A warm deploy to one and to every fleet host, Convoy vs the kamal CLI, and Convoy's
## time per step (needs the fleet up: `make fleet-up`).
## The runner at 10, 100 and 1,000 simulated hosts, and one host's deploy over real SSH to
## 1..100 loopback sshd through one pool (docs/ENGINE.md, "Scale").
## The API over 10,000 deployments and 1,000,000 log lines at a fixed 1,000 requests/s
## (oha, pinned, installed under .convoy/ on first use), and POST /v1/deployments' rate.
OHA_VERSION := 1.16.0
OHA := .convoy/oha/bin/oha
bench:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt-get install -y -qq --no-install-recommends nginx >/dev/null
	$(CARGO) bench -p convoy-proxy --bench throughput
	$(CARGO) bench -p convoy --bench ssh_exec
	@deploy/dev-env.sh
	@set -a; . $(DEV_ENV); set +a; \
	export TEST_DATABASE_URL="$${DATABASE_URL%/*}/postgres"; \
	$(CARGO) bench -p convoy --bench deploy
	@set -a; . $(DEV_ENV); set +a; \
	export TEST_DATABASE_URL="$${DATABASE_URL%/*}/postgres"; \
	$(CARGO) bench -p convoy --bench rollout_scale
	$(CARGO) bench -p convoy --bench ssh_scale
	@$(OHA) --version 2>/dev/null | grep -qx 'oha $(OHA_VERSION)' || \
	  $(CARGO) install oha --version $(OHA_VERSION) --locked --root .convoy/oha
	@set -a; . $(DEV_ENV); set +a; \
	export TEST_DATABASE_URL="$${DATABASE_URL%/*}/postgres"; \
	OHA=$(CURDIR)/$(OHA) $(CARGO) bench -p convoy --bench api_load

openapi:
	$(CARGO) run -q -p convoy -- openapi > openapi/openapi.json

## Chaos (docs/ENGINE.md, "Chaos"): CHAOS_RUNS (20) seeded runs of CHAOS_SEED, each a
## 3-host deploy on h14-h16 under load whose `convoy worker` is killed with SIGKILL and
## finished by a second one; then sshd restarted and the network flapping on h17. Prints
## a table; fails unless every run passes. CI runs 4 of the runs (`cargo test`).
.PHONY: chaos
chaos: fleet-up
	@deploy/dev-env.sh
	@set -a; . $(DEV_ENV); set +a; \
	export TEST_DATABASE_URL="$${DATABASE_URL%/*}/postgres" CHAOS_RUNS=$${CHAOS_RUNS:-20}; \
	$(CARGO) test -p convoy --test integration chaos -- --nocapture

## The generated Python and TypeScript clients (clients/README.md): `clients` regenerates
## them from openapi/openapi.json with the pinned generators (installed on first use),
## `clients-check` fails when the committed ones differ, `clients-live` runs their live
## scenarios against a served Convoy and fleet hosts h6 and h7.
.PHONY: clients clients-check clients-live
test: clients-check
fleet-suites: clients-live
clients:
	clients/generate
clients-check:
	clients/generate --check
clients-live: convoy-bin fleet-up
	@deploy/dev-env.sh
	tests/clients/run

## Regenerate api/src/db/schema.rs from the migrated development database.
schema:
	@deploy/dev-env.sh
	@set -a; . $(DEV_ENV); set +a; $(CONVOY) migrate; \
	diesel print-schema --database-url "$$DATABASE_URL" > api/src/db/schema.rs

clean-dev:
	-@set -a; . $(DEV_ENV) 2>/dev/null; set +a; \
	for d in /usr/lib/postgresql/*/bin; do \
	  [ -f .convoy/pg/data/PG_VERSION ] && runuser -u postgres -- $$d/pg_ctl -D .convoy/pg/data stop -m fast; break; done
	rm -rf .convoy
