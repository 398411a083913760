#!/usr/bin/env bash
# cargo test over the workspace; then the IAM check (tests/iam.rs) over the DynamoDB calls each
# function made during it; then one closing line with the totals of every test binary
# ("N passed, N failed"), since cargo's own last line belongs to whichever binary ran last.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Every test binary appends the calls its functions make here, one JSON line per distinct call
# (tests/support/iam_calls.rs); emptied first so the check reads this run's calls only.
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target/iam"
export OVERTEN_IAM_RECORD=${OVERTEN_IAM_RECORD:-$(cd "$target/iam" && pwd)/calls.jsonl}
: > "$OVERTEN_IAM_RECORD"

cargo test --workspace --all-targets --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The same package selection, so nothing is rebuilt. A filtered or failed run may not reach every
# function: a function without calls is then reported instead of failed.
if [ "$#" -gt 0 ] || [ "$status" -ne 0 ]; then export OVERTEN_IAM_PARTIAL=1; fi
echo
iam_status=0
if [ "$status" -ne 0 ] && [ ! -s "$OVERTEN_IAM_RECORD" ]; then
  # No function made a call (a build or link error, or a test binary that failed before any
  # function ran): an IAM failure here would only hide that cause.
  echo "IAM check skipped: cargo test failed before any function made a call (see above)"
else
  echo "IAM check: the calls recorded in $OVERTEN_IAM_RECORD against template.yaml"
  cargo test --workspace --locked --test iam -- --ignored --nocapture 2>&1 | tee -a "$log"
  iam_status=${PIPESTATUS[0]}
fi

read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p+0, f+0 }' "$log")
echo
echo "tests: $passed passed, $failed failed"
[ "$status" -ne 0 ] && exit "$status"
exit "$iam_status"
