#!/usr/bin/env bash
# `make dev`: the whole API on http://127.0.0.1:$API_PORT, like the deployed REST API.
#   DynamoDB Local (data kept in $DEV_DATA_DIR, default .dev-data; DEV_FRESH=1 starts empty),
#   the Firebase Auth emulator (project demo-overten) unless FIREBASE_JWKS_URL is set (then real
#   RS256 tokens are verified against that URL), the tables created if absent, and the local
#   gateway running the real handlers in-process, and — unless GITHUB_SECRET_SCANNING_KEYS_URL is
#   set — a local stand-in for GitHub's secret-scanning key set (a key pair kept in
#   $RUN_DIR/github, served on 127.0.0.1:$GITHUB_KEYS_PORT), so `make github-delivery` can sign
#   deliveries as GitHub does. Ctrl-C stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

export DDB_PORT=${DDB_PORT:-8000} AUTH_EMULATOR_PORT=${AUTH_EMULATOR_PORT:-9099} API_PORT=${API_PORT:-3000}
export RUN_DIR=${RUN_DIR:-$root/.run/dev}
data=${DEV_DATA_DIR:-$root/.dev-data}/dynamodb
if [ "${DEV_FRESH:-0}" = 1 ]; then rm -rf "$data"; fi
export DDB_DATA_DIR=$data
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export API_KEYS_TABLE=${API_KEYS_TABLE:-overten-local-ApiKeys} ORGS_TABLE=${ORGS_TABLE:-overten-local-Orgs} USAGE_TABLE=${USAGE_TABLE:-overten-local-KeyUsage}
export FIREBASE_PROJECT_ID=${FIREBASE_PROJECT_ID:-demo-overten}
# The dashboard's origin in development (the template's CorsAllowedOrigin in AWS).
export CORS_ALLOWED_ORIGIN=${CORS_ALLOWED_ORIGIN:-http://localhost:5173}
# One line per request, the fields of the deployed stage's access log.
mkdir -p "$RUN_DIR"
export ACCESS_LOG_FILE=${ACCESS_LOG_FILE:-$RUN_DIR/access.log}

services=(ddb)
if [ -z "${FIREBASE_JWKS_URL:-}" ]; then
  services+=(auth)
  export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:$AUTH_EMULATOR_PORT
else
  unset FIREBASE_AUTH_EMULATOR_HOST
fi

# Build first, so the services do not sit idle through a compile. LOCAL_GATEWAY_BIN skips it
# (the end-to-end test runs inside cargo test, which holds the build lock).
gateway=${LOCAL_GATEWAY_BIN:-}
if [ -z "$gateway" ]; then
  cargo build --locked -q -p local-gateway -p overten-admin -p github-keys
  gateway=$root/target/debug/local-gateway
fi
admin=${ADMIN_BIN:-$root/target/debug/overten-admin}
github_keys=${GITHUB_KEYS_BIN:-$root/target/debug/github-keys}

gateway_pid= github_pid=
cleanup() {
  # Each step on its own: a process already gone must not stop the rest (set -e).
  for pid in $gateway_pid $github_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  "$root/infra/scripts/services.sh" stop "${services[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export GITHUB_KEYS_PORT=${GITHUB_KEYS_PORT:-9480}
github_line="  GitHub keys  ${GITHUB_SECRET_SCANNING_KEYS_URL:-}"
if [ -z "${GITHUB_SECRET_SCANNING_KEYS_URL:-}" ]; then
  github_dir=$RUN_DIR/github
  "$admin" github keys --dir "$github_dir" > /dev/null
  # As strict as GitHub's API: User-Agent required, 60 anonymous requests an hour per address.
  "$github_keys" "$github_dir" > "$RUN_DIR/github-keys.log" 2>&1 &
  github_pid=$!
  export GITHUB_SECRET_SCANNING_KEYS_URL=http://127.0.0.1:$GITHUB_KEYS_PORT/meta/public_keys/secret_scanning
  # Ours, not whatever else holds the port: the served set must be the one just written. (Each
  # probe spends one of the hour's 60 anonymous requests, as it would at GitHub.)
  for _ in $(seq 100); do
    kill -0 "$github_pid" 2>/dev/null || { echo "dev: port $GITHUB_KEYS_PORT is taken (set GITHUB_KEYS_PORT)" >&2; exit 1; }
    curl -sf --max-time 1 -A overten-dev "$GITHUB_SECRET_SCANNING_KEYS_URL" | cmp -s - "$github_dir/public_keys.json" && break
    sleep 0.1
  done
  github_line="  GitHub keys  $GITHUB_SECRET_SCANNING_KEYS_URL (local key in $github_dir; make github-delivery KEYS=…)"
fi

"$root/infra/scripts/services.sh" start "${services[@]}"
"$gateway" &
gateway_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$API_PORT/" && break
  kill -0 "$gateway_pid" 2>/dev/null || { echo "dev: the gateway exited" >&2; exit 1; }
  sleep 0.1
done

auth_line="  Firebase     real RS256 tokens, keys from ${FIREBASE_JWKS_URL:-}"
try_token="TOKEN=<a Firebase ID token of project $FIREBASE_PROJECT_ID>"
if [ -n "${FIREBASE_AUTH_EMULATOR_HOST:-}" ]; then
  auth_line="  Auth emulator http://$FIREBASE_AUTH_EMULATOR_HOST (project $FIREBASE_PROJECT_ID)"
  try_token="TOKEN=\$(make -s token EMAIL=dev@example.com)"
fi
cat <<BANNER

Overten API keys: local stack ready
  API          http://127.0.0.1:$API_PORT   (routes: openapi.yaml; CORS origin $CORS_ALLOWED_ORIGIN)
  Access log   $ACCESS_LOG_FILE
  DynamoDB     http://127.0.0.1:$DDB_PORT   tables $API_KEYS_TABLE, $ORGS_TABLE, $USAGE_TABLE; data in $data (DEV_FRESH=1 starts empty)
  Key usage    the access log and the functions' usage lines, fed to the aggregator about once a second
$auth_line
$github_line

Next, sign up and get a key:
  $try_token
  curl -s -X POST http://127.0.0.1:$API_PORT/signup -H "Authorization: Bearer \$TOKEN" \\
      -H 'content-type: application/json' -d '{"org_name":"Acme"}'
  KEY=<the "secret" from signup>
  curl -s http://127.0.0.1:$API_PORT/verify -H "X-API-Key: \$KEY"
  curl -s http://127.0.0.1:$API_PORT/orgs/<org_id>/api-keys/<key id>/usage -H "Authorization: Bearer \$TOKEN"

Ctrl-C stops everything.
BANNER
wait "$gateway_pid"
