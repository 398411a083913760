#!/usr/bin/env bash
# cargo test over the workspace, then one closing line with the totals of every test binary
# ("N passed, N failed"), since cargo's own last line belongs to whichever binary ran last.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p+0, f+0 }' "$log")
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
