# Sourced by clients/generate and tests/clients/run: installs the pinned client tools on
# first use (and again when their pins change) and puts them on PATH.
#
#   clients_python_tools   # clients/.venv from clients/python/requirements.txt
#   clients_node_tools     # clients/typescript/node_modules from package-lock.json (npm ci)

clients_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

clients_python_tools() {
  local venv=$clients_dir/.venv req=$clients_dir/python/requirements.txt
  if ! cmp -s "$req" "$venv/requirements.installed"; then
    echo "clients: installing the Python tools into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$venv/requirements.installed"
  fi
  PATH="$venv/bin:$PATH"
}

clients_node_tools() {
  local ts=$clients_dir/typescript
  if ! cmp -s "$ts/package-lock.json" "$ts/node_modules/package-lock.installed"; then
    echo "clients: installing the TypeScript tools into $ts/node_modules" >&2
    (cd "$ts" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$ts/package-lock.json" "$ts/node_modules/package-lock.installed"
  fi
  PATH="$ts/node_modules/.bin:$PATH"
}
