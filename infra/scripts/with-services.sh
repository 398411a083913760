#!/usr/bin/env bash
# Runs a command with DynamoDB Local and the Firebase Auth emulator up, and stops them afterwards,
# whether the command passes or fails. The command sees the environment the functions see
# locally: AWS_ENDPOINT_URL_DYNAMODB, dummy credentials, FIREBASE_AUTH_EMULATOR_HOST.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DDB_PORT=${DDB_PORT:-8000}
export AUTH_EMULATOR_PORT=${AUTH_EMULATOR_PORT:-9099}
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:$AUTH_EMULATOR_PORT
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}

# SERVICES: which to start (default both: "ddb auth").
read -r -a services <<< "${SERVICES:-ddb auth}"
trap '"$here/services.sh" stop "${services[@]}"' EXIT
trap 'exit 130' INT TERM
"$here/services.sh" start "${services[@]}"
"$@"
