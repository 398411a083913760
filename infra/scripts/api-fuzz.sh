#!/usr/bin/env bash
# API fuzzing: schemathesis against openapi.yaml and the make dev gateway, with a Firebase
# emulator token and an API key supplied. Fails on any 5xx or any response that does not match
# the spec. Runs its own stack on its own ports and stops it afterwards.
# SCHEMATHESIS_EXAMPLES (default 25 per operation) bounds the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
scratch=$(mktemp -d)
export DDB_PORT=8311 AUTH_EMULATOR_PORT=9311 FIREBASE_HUB_PORT=4711 API_PORT=3311 GITHUB_KEYS_PORT=9411
export DEV_DATA_DIR=$scratch/data RUN_DIR=$scratch/run DEV_FRESH=1
# schemathesis calls POST /signup and POST /secret-scanning/github far faster than their own
# limits (5/s, 10/s) allow; the throttling itself is covered by tests/gateway.rs.
export SIGNUP_THROTTLING_RATE_LIMIT=100000 SIGNUP_THROTTLING_BURST_LIMIT=100000
export SECRET_SCANNING_THROTTLING_RATE_LIMIT=100000 SECRET_SCANNING_THROTTLING_BURST_LIMIT=100000
export LOCAL_GATEWAY_BIN=${LOCAL_GATEWAY_BIN:-$root/target/debug/local-gateway}
unset FIREBASE_JWKS_URL AWS_ENDPOINT_URL_DYNAMODB FIREBASE_AUTH_EMULATOR_HOST GITHUB_SECRET_SCANNING_KEYS_URL

setsid infra/scripts/dev.sh > "$scratch/dev.log" 2>&1 &
dev=$!
stop() {
  kill -INT -- "-$dev" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$dev" 2>/dev/null || break; sleep 0.1; done
  rm -rf "$scratch"
}
trap stop EXIT
for _ in $(seq 600); do
  grep -q "local stack ready" "$scratch/dev.log" 2>/dev/null && break
  kill -0 "$dev" 2>/dev/null || { cat "$scratch/dev.log"; exit 1; }
  sleep 0.2
done

api=http://127.0.0.1:$API_PORT
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
FIREBASE_TOKEN=$(curl -sf -X POST "http://127.0.0.1:$AUTH_EMULATOR_PORT/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key" \
  -H 'content-type: application/json' -d '{"email":"fuzz@example.com","password":"password","returnSecureToken":true}' | json '["idToken"]')
API_KEY=$(curl -sf -X POST "$api/signup" -H "Authorization: Bearer $FIREBASE_TOKEN" -H 'content-type: application/json' \
  -d '{"org_name":"Fuzz"}' | json '["secret"]')
export FIREBASE_TOKEN API_KEY

set +e
SCHEMATHESIS_HOOKS= .venv/bin/schemathesis run openapi.yaml --url "$api" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 1 --no-color --suppress-health-check all \
  | tee "$scratch/schemathesis.log"
status=${PIPESTATUS[0]}
set -e
# The counts schemathesis itself printed ("Test cases: N generated, N passed[, N failed][, N skipped]").
counts=$(grep -A1 '^Test cases:' "$scratch/schemathesis.log" | tail -n 1)
passed=$(grep -oE '[0-9]+ passed' <<< "$counts" | grep -oE '[0-9]+' || true)
failed=$(grep -oE '[0-9]+ failed' <<< "$counts" | grep -oE '[0-9]+' || echo 0)
if [ -z "$passed" ]; then
  echo "api-fuzz: could not read schemathesis's test counts" >&2
  exit 1
fi
echo "api-fuzz: $passed passed, $failed failed"
exit "$status"
