#!/usr/bin/env bash
# Runs every test of Portico on a fresh Debian machine with the .NET SDK: installs the Debian packages
# the tests need, starts the engines they use, runs the .NET and Node test suites, and ends with one
# line "N passed, N failed" summing them all. Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
logs="$root/artifacts/test-logs"
mkdir -p "$logs"

# Debian packages the tests need. (Engines join this list with the features whose tests use them.)
# redis-server and rabbitmq-server: the messaging conformance tests (tests/Messaging.Tests) run on both.
# postgresql: the services' database tests run on SQLite and on PostgreSQL 15.
# prometheus: tests/Observability.Tests scrapes the running services with the shipped scrape config.
# chromium: tests/Dashboard.Tests drive the admin dashboard with Playwright in Debian's Chromium (/usr/bin/chromium).
apt_packages=(redis-server rabbitmq-server postgresql prometheus chromium)

install_packages() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Starts the engines the tests use, without systemd (DESIGN.md), each on 127.0.0.1 only, and exports their
# addresses for the tests. An engine that does not come up is reported and left unset: its tests then fail
# under CI=true with a message naming the variable.
start_engines() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' >"$logs/redis-start.log" 2>&1
  fi
  local i
  for i in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    export PORTICO_TEST_REDIS=127.0.0.1:6379
  else
    echo "redis-server did not start (see $logs/redis-start.log)"
  fi

  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
      rabbitmq-server -detached >"$logs/rabbitmq-start.log" 2>&1
  fi
  # await_startup fails at once while the node is still booting: loop it, for up to two minutes.
  local up=0
  for i in $(seq 1 120); do
    if rabbitmqctl -q await_startup >/dev/null 2>&1; then up=1; break; fi
    sleep 1
  done
  if [ "$up" -eq 1 ]; then
    export PORTICO_TEST_RABBITMQ=amqp://guest:guest@127.0.0.1:5672/
  else
    echo "rabbitmq-server did not start (see $logs/rabbitmq-start.log)"
  fi
}

# PostgreSQL: a throwaway cluster of our own (not Debian's "main"), owned by the postgres user as the server
# requires, on 127.0.0.1:5433 with trust for local connections only. Tests create a database each and drop it.
start_postgres() {
  local bin data=/tmp/portico-test-postgres
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then
    echo "PostgreSQL binaries not found under /usr/lib/postgresql"
    return
  fi
  as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    rm -rf "$data" && mkdir -p "$data"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
    as_postgres "$bin/initdb" -D "$data" --auth=trust --username=postgres --encoding=UTF8 >"$logs/postgres-start.log" 2>&1
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p 5433 -k $data -c max_connections=300 -c fsync=off" start >>"$logs/postgres-start.log" 2>&1
  fi
  if as_postgres "$bin/pg_isready" -h 127.0.0.1 -p 5433 >/dev/null 2>&1; then
    export PORTICO_TEST_POSTGRES="Host=127.0.0.1;Port=5433;Username=postgres"
  else
    echo "PostgreSQL did not start (see $logs/postgres-start.log)"
  fi
}

passed=0
failed=0

# The purchase soak (#26) runs the issue's 500 purchases here; by hand it defaults to 200 (about a minute).
export PORTICO_SOAK_PURCHASES="${PORTICO_SOAK_PURCHASES:-500}"

# Installs the Node services' packages once, for their tests and for the system tests (the AppHost then skips its
# own npm ci, which would otherwise run while the start clock runs).
prepare_node() {
  for d in services/*/; do
    [ -f "$d/package.json" ] && (cd "$d" && npm ci --no-audit --no-fund >/dev/null 2>&1 || echo "npm ci failed in $d")
  done
}

# The system tests start the whole AppHost (ten processes): they run after the other suites, alone, so that on a
# 2-core machine their start does not compete with every other suite at once.
run_dotnet_tests() {
  echo "== .NET tests"
  if ! dotnet build Portico.slnx -nologo -v q >"$logs/build.log" 2>&1; then
    cat "$logs/build.log"; echo "build failed"; failed=$((failed + 1)); return
  fi
  local modules=() d name
  for d in $(grep -oE 'tests/[^"/]+\.Tests/' Portico.slnx | sort -u); do
    name=$(basename "$d")
    [ "$name" = "System.Tests" ] || modules+=("${d}bin/Debug/net10.0/Portico.$name.dll")
  done
  run_test_modules "$logs/dotnet.log" 20m --test-modules "$(IFS=';'; echo "${modules[*]}")"
  run_test_modules "$logs/dotnet-system.log" 15m --project tests/System.Tests --no-build
}

# Runs one dotnet test invocation and adds its summary to the counts.
run_test_modules() {
  local log=$1 limit=$2; shift 2
  timeout "$limit" dotnet test "$@" 2>&1 | tee "$log"
  local p f
  # Microsoft.Testing.Platform closes with "succeeded: N" and "failed: N" for the whole run.
  p=$(grep -E '^\s+succeeded: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  f=$(grep -E '^\s+failed: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  if [ -z "$p" ] || [ -z "$f" ]; then
    echo "no .NET test summary found in $log"; failed=$((failed + 1)); return
  fi
  passed=$((passed + p)); failed=$((failed + f))
}

run_node_tests() {
  local dirs=()
  for d in services/*/; do
    [ -f "$d/package.json" ] && dirs+=("$d")
  done
  [ ${#dirs[@]} -eq 0 ] && return 0
  echo "== Node tests"
  for d in "${dirs[@]}"; do
    local log="$logs/node-$(basename "$d").log"
    # Packages were installed by prepare_node before the .NET tests.
    (cd "$d" && node --test 2>&1) | tee "$log"
    local p f
    p=$(grep -E '^# pass [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
    f=$(grep -E '^# fail [0-9]+' "$log" | grep -oE '[0-9]+' | tail -1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
  done
}

# Repeats each failed test with the start of its message at the end, where a CI log's tail shows it.
print_failures() {
  [ "$failed" -eq 0 ] && return 0
  echo "== Failed tests"
  grep -h -A12 -E '^failed ' "$logs"/dotnet*.log 2>/dev/null | cut -c1-300
  grep -h -B2 -A12 -E '^\s*not ok ' "$logs"/node-*.log 2>/dev/null | cut -c1-300
}

install_packages || { echo "package installation failed"; echo "0 passed, 1 failed"; exit 1; }
start_engines
start_postgres
prepare_node
run_dotnet_tests
run_node_tests
print_failures

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
