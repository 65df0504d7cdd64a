#!/usr/bin/env bash
# Prepares a development environment in .convoy/: a private PostgreSQL cluster when
# DATABASE_URL is unset, and generated secrets. Writes .convoy/dev.env (shell KEY=value
# lines) and reuses everything on later runs. Used by `make run` and `make test`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.convoy"
env_file="$state/dev.env"
pg_dir="$state/pg"
pg_port="${CONVOY_DEV_PG_PORT:-54329}"
mkdir -p "$state"
chmod 755 "$state"

log() { printf 'dev-env: %s\n' "$*" >&2; }

# The value of KEY in dev.env, if it was written before.
previous() { [ -f "$env_file" ] && sed -n "s/^$1=//p" "$env_file" | tail -n1 || true; }

random_b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

ensure_postgres_installed() {
  if ! pg_bin >/dev/null; then
    log "installing PostgreSQL (Debian package postgresql)"
    if [ "$(id -u)" -ne 0 ]; then
      log "PostgreSQL is missing and installing it needs root; run as root or set DATABASE_URL"
      exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
}

# PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_private_cluster() {
  ensure_postgres_installed
  local bin password
  bin=$(pg_bin)
  password=$(previous CONVOY_DEV_PG_PASSWORD)
  [ -n "$password" ] || password=$(random_b64 18 | tr -d '/+=')
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    log "creating a private PostgreSQL cluster in $pg_dir"
    mkdir -p "$pg_dir/run"
    printf '%s\n' "$password" >"$pg_dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$pg_dir"
    as_pg "$bin/initdb" -D "$pg_dir/data" -U convoy --pwfile="$pg_dir/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$pg_dir/pwfile"
  fi
  if ! as_pg "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$pg_port"
    as_pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 \
      -o "-p $pg_port -k $pg_dir/run -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
      start >/dev/null
  fi
  if ! as_pg "$bin/psql" -h "$pg_dir/run" -p "$pg_port" -U convoy -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'convoy'" | grep -q 1; then
    as_pg "$bin/createdb" -h "$pg_dir/run" -p "$pg_port" -U convoy convoy
  fi
  database_url="postgres://convoy:$password@127.0.0.1:$pg_port/convoy"
  pg_password="$password"
}

pg_password=""
if [ -n "${DATABASE_URL:-}" ]; then
  database_url="$DATABASE_URL"
else
  start_private_cluster
fi

master_key=$(previous CONVOY_MASTER_KEY)
[ -n "$master_key" ] || master_key=$(random_b64 32)
jwt_secret=$(previous CONVOY_JWT_SECRET)
[ -n "$jwt_secret" ] || jwt_secret=$(random_b64 48)
bind=$(previous CONVOY_BIND)
[ -n "$bind" ] || bind="${CONVOY_BIND:-127.0.0.1:8080}"

umask 077
cat >"$env_file.tmp" <<EOT
DATABASE_URL=$database_url
CONVOY_BIND=$bind
CONVOY_MASTER_KEY=$master_key
CONVOY_JWT_SECRET=$jwt_secret
CONVOY_LOG_FORMAT=pretty
CONVOY_DEV_PG_PASSWORD=$pg_password
EOT
mv "$env_file.tmp" "$env_file"
log "wrote $env_file"
