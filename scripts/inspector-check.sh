#!/usr/bin/env bash
# Must show 4: the MCP Inspector CLI (@modelcontextprotocol/inspector, pinned in devDependencies;
# 0.15.0 is the last release that runs on Node 20) lists the tools of `cns mcp` and calls them.
# Fails if the inspector fails, a tool answers isError, or an answer is not what it should be.
# Usage: scripts/inspector-check.sh   (builds dist/ first if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli/main.js ] || npm run build >&2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/cns.db"
inspector=(npx --no-install @modelcontextprotocol/inspector --cli)
agent=(node dist/cli/main.js --db "$db" mcp --role agent --type ci --name ci-agent)
supervisor=(node dist/cli/main.js --db "$db" mcp --role supervisor)

# Checks the JSON answer on stdin with a JavaScript expression over `r` (the parsed answer).
expect() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const r = JSON.parse(s);
      if (r.isError) { console.error("tool error: " + JSON.stringify(r.content)); process.exit(1); }
      if (!('"$1"')) { console.error("unexpected answer: " + s.slice(0, 2000)); process.exit(1); }
    });'
}

echo "inspector: tools/list (agent)"
"${inspector[@]}" "${agent[@]}" --method tools/list \
  | expect 'r.tools.length <= 7 && r.tools.some((t) => t.name === "task_ask") && JSON.stringify(r).length < 15000'

echo "inspector: tools/list (supervisor)"
"${inspector[@]}" "${supervisor[@]}" --method tools/list \
  | expect 'r.tools.length <= 10 && r.tools.some((t) => t.name === "workflow_create")'

echo "inspector: tools/call task_create (supervisor)"
"${inspector[@]}" "${supervisor[@]}" --method tools/call --tool-name task_create \
  --tool-arg type=ci --tool-arg 'title=inspector check' \
  | expect 'r.structuredContent.task.status === "pending"'

echo "inspector: tools/call task_next (agent)"
"${inspector[@]}" "${agent[@]}" --method tools/call --tool-name task_next --tool-arg wait_seconds=0 \
  | expect 'r.structuredContent.task && r.structuredContent.task.title === "inspector check"'

echo "inspector: ok"
