#!/usr/bin/env bash
# The MCP conformance suite (@modelcontextprotocol/conformance, CONFORMANCE_VERSION), server
# scenarios, against `cns serve`'s MCP over Streamable HTTP (/mcp) with a supervisor token. The
# scenarios that do not apply to cns are listed, with the reasons, in
# scripts/ci/conformance-baseline.yml; the suite fails on any other failure, and on a listed
# scenario that passes (a stale entry). The suite cannot send a header, so a local proxy
# (scripts/ci/bearer-proxy.mjs) adds the token; cns serve's Host and Origin checks still see
# what the suite sends.
#
# The suite is not a dependency of cns: scripts/ci/tools.sh installs it from the npm registry into a
# cache outside the repository (with a Node 22 when this node is older). cns runs on this node.
#
# Usage: bash scripts/conformance-check.sh   (builds dist/ first if it is missing)
# The last line is the summary: "conformance: ok, …" or "conformance: FAILED, …".
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/tools.sh
. scripts/ci/tools.sh
CONFORMANCE_VERSION=${CONFORMANCE_VERSION:-0.1.16}
[ -f dist/cli/main.js ] || npm run build >&2

ci_node22
ci_install "conformance-$CONFORMANCE_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
cns=("$NODE" dist/cli/main.js --db "$tmp/cns.db")
baseline="$PWD/scripts/ci/conformance-baseline.yml"

# wait_line FILE PATTERN: waits (up to 10 s) for a line matching PATTERN in FILE.
wait_line() {
  for _ in $(seq 100); do grep -Eq "$2" "$1" && return 0; sleep 0.1; done
  cat "$1" >&2
  return 1
}

token=$("${cns[@]}" token create --role supervisor --name conformance --json |
  "$NODE" -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).secret')
"${cns[@]}" serve --port 0 >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_line "$tmp/serve.log" 'Stop with Ctrl-C' || {
  echo "conformance: FAILED, cns serve did not start"
  exit 1
}
url=$(sed -nE 's#^cns serve: listening on (http://[^ ]+)/ .*#\1#p' "$tmp/serve.log")
CNS_TOKEN=$token "$NODE" scripts/ci/bearer-proxy.mjs "$url" >"$tmp/proxy.log" 2>&1 &
pids+=($!)
wait_line "$tmp/proxy.log" '^listening on ' || {
  echo "conformance: FAILED, the token proxy did not start"
  exit 1
}
proxy=$(sed -nE 's#^listening on (http://[^ ]+)$#\1#p' "$tmp/proxy.log")

echo "conformance: server scenarios against cns serve ($url/mcp, through the token proxy)"
code=0
(cd "$tmp" && ci_run conformance server --url "$proxy/mcp" --expected-failures "$baseline") \
  >"$tmp/out.txt" 2>&1 || code=$?
sed -n '/=== SUMMARY ===/,$p' "$tmp/out.txt"
scenarios=$(grep -cE '^(✓|✗) ' "$tmp/out.txt" || true)
passed=$(grep -cE '^✓ .*: [1-9][0-9]* passed, 0 failed' "$tmp/out.txt" || true)
expected=$(grep -cE '^  - ' "$baseline" || true)
if [ "$code" -ne 0 ] || [ "$scenarios" -eq 0 ]; then
  [ "$scenarios" -gt 0 ] || cat "$tmp/out.txt"
  echo "conformance: FAILED, $passed of $scenarios server scenarios pass; $expected are expected to fail (scripts/ci/conformance-baseline.yml), and the suite found otherwise (exit $code, see above; suite $CONFORMANCE_VERSION)"
  exit 1
fi
echo "conformance: ok, $passed of $scenarios server scenarios pass; the other $expected fail as expected (not applicable to cns: scripts/ci/conformance-baseline.yml; suite $CONFORMANCE_VERSION on node $("$NODE22" --version), cns on node $("$NODE" --version))"
