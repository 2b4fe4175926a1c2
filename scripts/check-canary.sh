#!/usr/bin/env bash
# The test runner's canary: runs the deliberately failing test (test/canary/failing.canary.ts) with
# `npx vitest run` through the project's vitest config and global set-up, and fails unless vitest
# FAILS. Twice: with the PostgreSQL server the set-up starts itself, and with CNS_TEST_POSTGRES_URL
# pointing at a server that is not there. A zero exit from either means `npm test` could report
# success for failing tests, and CI would pass on broken code.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0

# run <label> <pattern the output must contain> [VAR=value ...]: a run without CNS_TEST_POSTGRES_URL
# (the global set-up starts its own server) unless the arguments set it.
run() {
  local label=$1 expect=$2
  shift 2
  echo "canary: $label"
  local code=0
  env -u FORCE_COLOR -u CNS_TEST_POSTGRES_URL NO_COLOR=1 CNS_TEST_CANARY=1 "$@" npx vitest run >"$log" 2>&1 || code=$?
  if [ "$code" -eq 0 ]; then
    cat "$log"
    echo "canary: FAILED ($label): the deliberately failing test made vitest exit 0." >&2
    echo "canary: a test run with failures must exit non-zero (is something calling process.exit(0)?)" >&2
    failed=1
  elif ! grep -Eq "$expect" "$log"; then
    cat "$log"
    echo "canary: FAILED ($label): vitest exited $code, but not because the canary test failed as" >&2
    echo "canary: designed (no output matching: $expect); see the output above." >&2
    failed=1
  else
    echo "canary: ok ($label): vitest exited $code for the failing test"
  fi
}

# The assertion's message carries the version string that only a real server returns.
run 'embedded PostgreSQL' 'Received: "PostgreSQL [0-9]'
run 'unreachable CNS_TEST_POSTGRES_URL' 'Tests +1 failed' CNS_TEST_POSTGRES_URL=postgres://nobody@127.0.0.1:1/none

exit "$failed"
