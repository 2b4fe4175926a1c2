#!/usr/bin/env bash
# The MCP Inspector CLI (@modelcontextprotocol/inspector 2.x, INSPECTOR_VERSION) against cns, over
# both transports: `cns mcp` on stdio (an agent and a supervisor process), and `cns serve`'s MCP over
# Streamable HTTP with bearer tokens (a supervisor token and an agent token, made with
# `cns token create`). It lists the tools (with the Inspector's --strict schema-portability check:
# its errors fail, its warnings are not shown) and calls a few, checking the answers. It fails if the
# Inspector fails, a tool answers isError, or an answer is not what it should be.
#
# The Inspector is not a dependency of cns: scripts/ci/tools.sh installs it from the npm registry
# into a cache outside the repository, with a Node 22 from the registry when this node is older
# (the Inspector 2.x needs Node >= 22.19). cns runs on this machine's node.
#
# Usage: bash scripts/inspector-check.sh   (builds dist/ first if it is missing)
# The last line is the summary: "inspector: ok, N checks (…)" or "inspector: FAILED, …".
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/tools.sh
. scripts/ci/tools.sh
INSPECTOR_VERSION=${INSPECTOR_VERSION:-2.12.0}
[ -f dist/cli/main.js ] || npm run build >&2

ci_node22
ci_install "inspector-$INSPECTOR_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"

tmp="$(mktemp -d)"
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# The Inspector keeps a catalog of servers and its storage under ~/.mcp-inspector: it gets a
# throw-away home of its own.
mkdir -p "$tmp/home"
db="$tmp/cns.db"
cns=("$NODE" dist/cli/main.js --db "$db")
agent=("${cns[@]}" mcp --role agent --type ci --name ci-agent)
supervisor=("${cns[@]}" mcp --role supervisor)
checks=0

inspector() { HOME="$tmp/home" ci_run inspector --cli "$@"; }

# `check WHAT JS-EXPRESSION INSPECTOR-ARGS...`: runs the Inspector and checks its JSON answer with
# the expression over `r` (the parsed answer).
check() {
  local what=$1 expr=$2
  shift 2
  echo "inspector: $what"
  if ! inspector "$@" >"$tmp/out.json" 2>"$tmp/err.txt"; then
    cat "$tmp/err.txt" >&2
    echo "inspector: FAILED: $what (the Inspector exited non-zero)"
    exit 1
  fi
  if ! "$NODE" -e '
    const s = require("fs").readFileSync(process.argv[1], "utf8");
    const r = JSON.parse(s);
    if (r.isError) { console.error("tool error: " + JSON.stringify(r.content)); process.exit(1); }
    if (!(eval(process.argv[2]))) { console.error("unexpected answer: " + s.slice(0, 2000)); process.exit(1); }
  ' "$tmp/out.json" "$expr"; then
    echo "inspector: FAILED: $what"
    exit 1
  fi
  checks=$((checks + 1))
}

# ── stdio: `cns mcp` started by the Inspector ──────────────────────────────────────────────────────
check 'stdio tools/list (agent)' \
  'r.tools.length <= 7 && r.tools.some((t) => t.name === "task_ask") && JSON.stringify(r).length < 15000' \
  "${agent[@]}" --method tools/list --strict
check 'stdio tools/list (supervisor)' \
  'r.tools.length <= 10 && r.tools.some((t) => t.name === "workflow_create")' \
  "${supervisor[@]}" --method tools/list --strict
check 'stdio tools/call task_create (supervisor)' \
  'r.structuredContent.task.status === "pending"' \
  "${supervisor[@]}" --method tools/call --tool-name task_create \
  --tool-arg type=ci --tool-arg 'title=inspector check'
check 'stdio tools/call task_next (agent)' \
  'r.structuredContent.task && r.structuredContent.task.title === "inspector check"' \
  "${agent[@]}" --method tools/call --tool-name task_next --tool-arg wait_seconds=0
# The Inspector negotiates the 2025 (legacy) protocol era unless told otherwise; cns speaks both.
check 'stdio tools/list (supervisor, protocol era modern)' \
  'r.tools.some((t) => t.name === "workflow_create")' \
  "${supervisor[@]}" --method tools/list --protocol-era modern

# ── Streamable HTTP: `cns serve` at /mcp, with bearer tokens ──────────────────────────────────────
secret() { "$NODE" -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).secret'; }
sup_token=$("${cns[@]}" token create --role supervisor --name ci-supervisor --json | secret)
agent_token=$("${cns[@]}" token create --role agent --type ci-http --name ci-remote --json | secret)
"${cns[@]}" serve --port 0 >"$tmp/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q 'Stop with Ctrl-C' "$tmp/serve.log" && break; sleep 0.1; done
url=$(sed -nE 's#^cns serve: listening on (http://[^ ]+/) .*#\1#p' "$tmp/serve.log")
if [ -z "$url" ]; then
  cat "$tmp/serve.log" >&2
  echo "inspector: FAILED: cns serve did not start"
  exit 1
fi
mcp="${url}mcp"
as_supervisor=("$mcp" --header "Authorization: Bearer $sup_token")
as_agent=("$mcp" --header "Authorization: Bearer $agent_token")

check 'http tools/list (supervisor token)' \
  'r.tools.some((t) => t.name === "workflow_create") && !r.tools.some((t) => t.name === "task_next")' \
  "${as_supervisor[@]}" --method tools/list --strict
check 'http tools/list (agent token)' \
  'r.tools.some((t) => t.name === "task_next") && !r.tools.some((t) => t.name === "workflow_create")' \
  "${as_agent[@]}" --method tools/list --strict
check 'http tools/call task_create (supervisor token)' \
  'r.structuredContent.task.status === "pending" && r.structuredContent.task.title === "over http"' \
  "${as_supervisor[@]}" --method tools/call --tool-name task_create \
  --tool-arg type=ci-http --tool-arg 'title=over http'
check 'http tools/call task_next (agent token)' \
  'r.structuredContent.task && r.structuredContent.task.title === "over http"' \
  "${as_agent[@]}" --method tools/call --tool-name task_next --tool-arg wait_seconds=0
check 'http tools/call fleet_status (supervisor token)' \
  'r.structuredContent && JSON.stringify(r.structuredContent).includes("ci-remote")' \
  "${as_supervisor[@]}" --method tools/call --tool-name fleet_status
check 'http tools/call task_get (agent token, protocol era modern)' \
  'r.structuredContent.task && r.structuredContent.task.status === "in_progress"' \
  "${as_agent[@]}" --method tools/call --tool-name task_get --tool-arg task_id=2 --protocol-era modern

echo "inspector: http without a token (must be refused)"
if inspector "$mcp" --method tools/list --stored-auth-only >"$tmp/out.json" 2>&1; then
  echo "inspector: FAILED: tools/list over HTTP without a token succeeded"
  exit 1
fi
checks=$((checks + 1))

echo "inspector: ok, $checks checks (stdio and HTTP with tokens; Inspector $INSPECTOR_VERSION on node $("$NODE22" --version), cns on node $("$NODE" --version); tool schemas: no portability errors)"
