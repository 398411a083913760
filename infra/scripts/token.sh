#!/usr/bin/env bash
# `make token EMAIL=you@example.com`: prints a Firebase ID token for EMAIL from the make dev
# stack's Auth emulator, signing the user up, or in when it already exists. The emulator's users
# and tokens are for local development only (project demo-overten); nothing is sent elsewhere.
set -euo pipefail
email=${EMAIL:?usage: make token EMAIL=you@example.com}
password=${PASSWORD:-local-dev-password}
host=${FIREBASE_AUTH_EMULATOR_HOST:-127.0.0.1:${AUTH_EMULATOR_PORT:-9099}}
base="http://$host/identitytoolkit.googleapis.com/v1/accounts"
body=$(python3 -c 'import json,sys; print(json.dumps({"email": sys.argv[1], "password": sys.argv[2], "returnSecureToken": True}))' "$email" "$password")
call() { curl -s --max-time 5 -X POST "$base:$1?key=fake-api-key" -H 'content-type: application/json' -d "$body"; }
id_token() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("idToken","")) if "idToken" in d else sys.exit(d.get("error",{}).get("message","no idToken"))'; }
answer=$(call signUp) || { echo "token: the Auth emulator does not answer at $host: run make dev first" >&2; exit 1; }
if ! token=$(id_token <<< "$answer" 2>/dev/null); then
  answer=$(call signInWithPassword)
  token=$(id_token <<< "$answer") || { echo "token: could not sign in $email (another PASSWORD?)" >&2; exit 1; }
fi
printf '%s\n' "$token"
