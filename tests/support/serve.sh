# Sourced by the script-level tests (contract fuzzing, generated clients, the demo): serves
# Convoy (API and workers) on a fresh database of the development PostgreSQL and registers
# fleet hosts as servers. Needs `deploy/dev-env.sh` to have run and the fleet to be up.
#
#   . tests/support/serve.sh
#   convoy_serve NAME        # exports CONVOY_URL, TOKEN (admin of org $CONVOY_ORG),
#                            # CONVOY_SERVE_PID, CONVOY_SERVE_LOG; stopped on exit
#   fleet_register h4 h5     # registers fleet hosts as servers named after them;
#                            # prints one "name id" line per host
#   fleet_registry           # prints "address username password" of the fleet's registry
#
# CONVOY_BIN (default: target/debug/convoy, honouring CARGO_TARGET_DIR) is the binary.

convoy_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONVOY_BIN=${CONVOY_BIN:-${CARGO_TARGET_DIR:-$convoy_root/target}/debug/convoy}
CONVOY_ORG=${CONVOY_ORG:-dev}
convoy_serve_db=""

convoy_serve_log() { printf 'serve: %s\n' "$*" >&2; }

convoy_serve_stop() {
  if [ -n "${CONVOY_SERVE_PID:-}" ]; then
    kill "$CONVOY_SERVE_PID" 2>/dev/null || true
    wait "$CONVOY_SERVE_PID" 2>/dev/null || true
    CONVOY_SERVE_PID=""
  fi
  if [ -n "$convoy_serve_db" ]; then
    psql "${DATABASE_URL%/*}/postgres" -qtAc "DROP DATABASE IF EXISTS \"$convoy_serve_db\" WITH (FORCE)" \
      >/dev/null 2>&1 || true
    convoy_serve_db=""
  fi
}

# convoy_serve NAME: a fresh database convoy_NAME_PID, migrated; `convoy serve` on a free
# port in the background; waits for /readyz.
convoy_serve() {
  local name=$1 port i
  [ -x "$CONVOY_BIN" ] || { convoy_serve_log "no binary at $CONVOY_BIN (cargo build -p convoy)"; return 1; }
  set -a
  # shellcheck disable=SC1091
  . "$convoy_root/.convoy/dev.env"
  set +a
  convoy_serve_db="convoy_${name}_$$"
  psql "${DATABASE_URL%/*}/postgres" -qtAc "CREATE DATABASE \"$convoy_serve_db\"" >/dev/null
  export DATABASE_URL="${DATABASE_URL%/*}/$convoy_serve_db"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # CONVOY_SERVE_ADDR: the address to serve on (default loopback; the contract suite
  # serves from a network namespace on the fleet's bridge).
  export CONVOY_BIND="${CONVOY_SERVE_ADDR:-127.0.0.1}:$port"
  export CONVOY_ALLOWED_NETWORKS="${CONVOY_ALLOWED_NETWORKS:-10.77.0.0/24}"
  export CONVOY_LOG_FORMAT=json
  "$CONVOY_BIN" migrate >/dev/null
  CONVOY_SERVE_LOG=${CONVOY_SERVE_LOG:-$(mktemp "/tmp/convoy-$name.XXXXXX.log")}
  "$CONVOY_BIN" serve >"$CONVOY_SERVE_LOG" 2>&1 &
  CONVOY_SERVE_PID=$!
  export CONVOY_SERVE_PID CONVOY_SERVE_LOG
  export CONVOY_URL="http://$CONVOY_BIND"
  for i in $(seq 1 100); do
    curl -fsS "$CONVOY_URL/readyz" >/dev/null 2>&1 && break
    kill -0 "$CONVOY_SERVE_PID" 2>/dev/null || { convoy_serve_log "convoy exited:"; cat "$CONVOY_SERVE_LOG" >&2; return 1; }
    sleep 0.2
  done
  [ "$i" -lt 100 ] || { convoy_serve_log "/readyz did not answer"; return 1; }
  TOKEN=$("$CONVOY_BIN" token --org "$CONVOY_ORG" --sub "script-$name" --roles admin)
  export TOKEN
  trap convoy_serve_stop EXIT
  convoy_serve_log "convoy on $CONVOY_URL (database $convoy_serve_db, log $CONVOY_SERVE_LOG)"
}

# fleet_register HOST...: POST /v1/servers for each fleet host, pinned to its host key.
fleet_register() {
  FLEET_STATUS=$("$convoy_root/tests/fleet/fleet" status --json) \
    python3 - "$CONVOY_URL" "$TOKEN" "$@" <<'EOF'
import json, os, sys, urllib.request
url, token, names = sys.argv[1], sys.argv[2], sys.argv[3:]
fleet = {h["name"]: h for h in json.loads(os.environ["FLEET_STATUS"])["hosts"]}
for name in names:
    h = fleet[name]
    body = {
        "name": name,
        "hostname": h["address"],
        "port": h["ssh_port"],
        "ssh_user": h["ssh_user"],
        "ssh_private_key": open(h["ssh_private_key_path"]).read(),
        "host_key": h["host_key"],
    }
    req = urllib.request.Request(
        url + "/v1/servers", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        print(name, json.load(r)["id"])
EOF
}

fleet_registry() {
  "$convoy_root/tests/fleet/fleet" status --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["registry"]; print(r["address"], r["username"], r["password"])'
}
