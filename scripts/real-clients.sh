#!/usr/bin/env bash
# Runs the MCP client commands that the docs show (README.md, docs/mcp.md, docs/http-api.md, the
# `cns serve` banner) with the real clients, installed from the npm registry into a temporary
# folder: Claude Code (`claude mcp add/list/get`, stdio and HTTP with a token, `list` connecting to
# each server once project servers are approved), Gemini CLI (`gemini mcp add/list`, which also
# connects) and Codex CLI (`codex mcp add/list/get`). cns itself is installed as the README says
# (`npm pack`, then `npm install -g` of the tarball, here into a temporary prefix).
#
# Run by hand before a release (not part of `npm test`): bash scripts/real-clients.sh
# Needs the npm registry only. No account and no other network: what needs either is skipped, and
# the output says so. Nothing outside the temporary folder is changed (except the cache of the CI
# tools, ~/.cache/cns-ci or CNS_CI_CACHE, where a Node 22 is kept when this node is older): the
# clients run with HOME set to a folder inside it. CNS_REAL_CLIENTS_KEEP=1 keeps that folder for a
# look afterwards.
# Versions: CLAUDE_CODE_VERSION, GEMINI_CLI_VERSION, CODEX_VERSION (default: latest).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cns-real-clients.XXXXXX")
SERVE_PID=
FAILED=0
PASSED=0

cleanup() {
  if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null; fi
  if [ "${CNS_REAL_CLIENTS_KEEP:-0}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
# Secrets of this throw-away database are still not worth printing.
mask() { sed -E 's/cns_[A-Za-z0-9_-]{20,}/cns_***/g; s#'"$WORK"'#$WORK#g'; }
ok() {
  PASSED=$((PASSED + 1))
  echo "ok: $*"
}
fail() {
  FAILED=$((FAILED + 1))
  echo "FAILED: $*"
}
# Shows a command (masked) and runs it with a time limit; its output is masked too.
run() {
  local shown=
  for arg in "$@"; do case "$arg" in *' '*) shown="$shown \"$arg\"" ;; *) shown="$shown $arg" ;; esac; done
  echo "\$$shown" | mask
  timeout 180 "$@" 2>&1 | grep -v 'could not create PATH aliases' | mask
  return "${PIPESTATUS[0]}"
}
expect_ok() { run "$@" || fail "exit $? from: $(echo "$*" | mask)"; }
# `expect_line FILE PATTERN WHAT`: the output holds a line matching PATTERN.
expect_line() {
  if grep -Eq -- "$2" "$1"; then ok "$3"; else fail "$3 (no line matching: $2)"; fi
}

say "Node 22 for the clients"
# The machine's node when it is 22.19 or newer, else a Node 22 from the npm registry (the package
# node-<os>-<arch>), kept in the CI tools' cache (scripts/ci/tools.sh; CNS_CI_CACHE).
# shellcheck source=ci/tools.sh
. "$REPO/scripts/ci/tools.sh"
if ! ci_node22; then
  echo "no Node 22 (the npm package node-<os>-<arch>@22 did not install): cannot run the clients"
  exit 1
fi
echo "node for the clients: $("$NODE22" --version); node for cns: $(node --version)"

say "The clients, from the npm registry"
npm install --prefix "$WORK/clients" --no-audit --no-fund --loglevel=error \
  "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION:-latest}" \
  "@google/gemini-cli@${GEMINI_CLI_VERSION:-latest}" \
  "@openai/codex@${CODEX_VERSION:-latest}" >/dev/null || {
  echo "could not install the clients from the npm registry"
  exit 1
}
# Shims on PATH: a client's bin is either a native executable or a node script (run on Node 22).
mkdir -p "$WORK/bin"
for name in claude gemini codex; do
  target=$(readlink -f "$WORK/clients/node_modules/.bin/$name")
  if head -c 2 "$target" | grep -q '#!'; then
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$NODE22" "$target" >"$WORK/bin/$name"
  else
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$target" >"$WORK/bin/$name"
  fi
  chmod +x "$WORK/bin/$name"
done
export PATH="$WORK/bin:$PATH"
echo "Claude Code $(claude --version 2>&1 | head -1); Gemini CLI $(gemini --version 2>&1 | head -1); $(codex --version 2>&1 | grep -v 'PATH aliases' | head -1)"

say "cns, installed as the README says (npm pack, npm install -g of the tarball)"
(cd "$REPO" && npm run build >/dev/null) || {
  echo "npm run build failed"
  exit 1
}
TARBALL=$(cd "$REPO" && npm pack --ignore-scripts --pack-destination "$WORK" --loglevel=error | tail -1)
echo "\$ npm install -g $TARBALL   (into a temporary prefix; builds better-sqlite3: about a minute)"
npm install -g --prefix "$WORK/global" --no-audit --no-fund --loglevel=error "$WORK/$TARBALL" >/dev/null || {
  echo "npm install -g of the tarball failed"
  exit 1
}
export PATH="$WORK/global/bin:$PATH"
[ "$(command -v cns)" = "$WORK/global/bin/cns" ] && ok "cns on PATH: $(cns --version)" || fail "cns is not on PATH"

# From here on the clients see a home of their own: no account, no user configuration.
export HOME="$WORK/home" CODEX_HOME="$WORK/home/.codex"
export DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
mkdir -p "$HOME/.gemini" "$CODEX_HOME"
unset CNS_DB CNS_TOKEN CNS_SERVER

say "A project set up with cns init, and cns serve"
PROJECT="$WORK/project"
mkdir -p "$PROJECT" && cd "$PROJECT" || exit 1
expect_ok cns init
DB="$PROJECT/.cns/cns.db"
AGENT_SECRET=$(cns token create --role agent --type backend --name remote-1 --json | node -p 'JSON.parse(require("fs").readFileSync(0)).secret')
SUPERVISOR_SECRET=$(cns token create --role supervisor --name alice --json | node -p 'JSON.parse(require("fs").readFileSync(0)).secret')
cns serve --port 0 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q 'Stop with Ctrl-C' "$WORK/serve.log" && break; sleep 0.1; done
URL=$(sed -nE 's#^cns serve: listening on (http://[^ ]+/) .*#\1#p' "$WORK/serve.log")
[ -n "$URL" ] || {
  cat "$WORK/serve.log"
  exit 1
}
URL=${URL%/}
echo "cns serve at $URL; the banner's client commands:"
grep -E 'claude mcp add' "$WORK/serve.log" | mask

say "Claude Code: the servers cns init wrote to .mcp.json, before and after approval"
run claude mcp list | tee "$WORK/claude-pending.txt"
expect_line "$WORK/claude-pending.txt" '^cns-agent: .*Pending approval' 'project servers wait for approval'
# The approval without the interactive prompt: enabledMcpjsonServers (or enableAllProjectMcpServers)
# in the user's settings. Recent Claude Code versions ignore these keys in a project's own
# .claude/settings*.json until the folder is trusted (below, for the other project).
mkdir -p "$HOME/.claude"
echo '{ "enabledMcpjsonServers": ["cns-supervisor", "cns-agent"] }' >"$HOME/.claude/settings.json"
echo '$ echo '\''{ "enabledMcpjsonServers": ["cns-supervisor", "cns-agent"] }'\'' > ~/.claude/settings.json'
run claude mcp list | tee "$WORK/claude-approved.txt"
expect_line "$WORK/claude-approved.txt" '^cns-supervisor: .*Connected' 'cns init: cns-supervisor connected'
expect_line "$WORK/claude-approved.txt" '^cns-agent: .*Connected' 'cns init: cns-agent connected'

say "Claude Code: the commands the cns serve banner prints, each in a folder of its own"
i=0
while IFS= read -r line; do
  i=$((i + 1))
  mkdir -p "$WORK/banner-$i" && cd "$WORK/banner-$i" || exit 1
  secret=$AGENT_SECRET
  case "$line" in *Authorization*) secret=$SUPERVISOR_SECRET ;; esac
  line=$(printf '%s' "$line" | sed -e 's/<type>/backend/' -e "s/<secret>/$secret/")
  echo "\$ $line" | mask
  eval "$line" 2>&1 | mask
  claude mcp list >"$WORK/banner-$i.txt" 2>&1
  grep -E '^cns' "$WORK/banner-$i.txt" | mask
  expect_line "$WORK/banner-$i.txt" 'Connected' "banner command $i: connected"
done < <(grep -E '^ +claude mcp add' "$WORK/serve.log" | sed -E 's/^ +//')
cd "$PROJECT" || exit 1

say "Claude Code: the commands of README.md, docs/mcp.md and docs/http-api.md"
OTHER="$WORK/other-project"
mkdir -p "$OTHER" && cd "$OTHER" || exit 1
expect_ok claude mcp add -s project cns-supervisor -- cns mcp --role supervisor
expect_ok claude mcp add -s project cns-backend -- cns mcp --role agent --type backend
expect_ok claude mcp add cns-agent -e CNS_TOKEN="$AGENT_SECRET" -- cns mcp --server "$URL"
expect_ok claude mcp add -t http cns "$URL/mcp" -H "Authorization: Bearer $SUPERVISOR_SECRET"
expect_ok claude mcp add cns-shared -e CNS_DB="$DB" -- cns mcp --role agent --type backend
expect_ok claude mcp add -t http cns-no-token "$URL/mcp"
# cns-supervisor is approved by the user's settings above; cns-backend by the project's own
# settings, which count once the folder is trusted (what accepting Claude Code's trust dialog records).
node -e 'const f = process.argv[1], p = process.argv[2], fs = require("fs");
  const j = JSON.parse(fs.readFileSync(f, "utf8")); j.projects ??= {};
  j.projects[p] = { ...j.projects[p], hasTrustDialogAccepted: true };
  fs.writeFileSync(f, JSON.stringify(j, null, 2));' "$HOME/.claude.json" "$(pwd -P)"
echo '(the folder trusted: "hasTrustDialogAccepted": true for it in ~/.claude.json)'
mkdir -p .claude
echo '{ "enabledMcpjsonServers": ["cns-backend"] }' >.claude/settings.local.json
echo '$ echo '\''{ "enabledMcpjsonServers": ["cns-backend"] }'\'' > .claude/settings.local.json'
run claude --debug-file "$WORK/claude-debug.txt" mcp list | tee "$WORK/claude-list.txt"
for name in cns-supervisor cns-backend cns-agent cns cns-shared; do
  expect_line "$WORK/claude-list.txt" "^$name: .*Connected" "claude: $name connected"
done
expect_line "$WORK/claude-list.txt" '^cns-no-token: .*Failed to connect' 'claude: without a token, no connection'
echo "what Claude Code logged for cns-no-token (its log redacts what follows 'token: '):"
grep -m1 -E 'cns-no-token.*Connection failed' "$WORK/claude-debug.txt" | sed -E 's/^.*Connection failed: //' | mask
expect_line "$WORK/claude-debug.txt" 'cns-no-token.*does not use OAuth.*cns token create' 'claude: says how to make a cns token'
run claude mcp get cns | tee "$WORK/claude-get.txt"
expect_line "$WORK/claude-get.txt" 'Status: .*Connected' 'claude mcp get cns: connected'
echo "the forms Claude Code refuses (the old docs): -e and -H take several values, so the name goes first"
run claude mcp add -e CNS_TOKEN=cns_x cns-old -- cns mcp --server "$URL" && fail 'old -e form accepted' || ok 'old -e form refused'
run claude mcp add -t http -H "Authorization: Bearer cns_x" cns-old "$URL/mcp" && fail 'old -H form accepted' || ok 'old -H form refused'
echo "docs/mcp.md: a session with its own config (the command is accepted; it stops at the login)"
run claude --strict-mcp-config --mcp-config '{"mcpServers":{"cns":{"command":"cns","args":["mcp","--role","supervisor"]}}}' -p ping |
  tee "$WORK/claude-session.txt"
expect_line "$WORK/claude-session.txt" 'Not logged in|login' 'claude --mcp-config: accepted up to the login'
echo "skipped: using the tools from a Claude Code session (needs an Anthropic account and the network)"

say "Gemini CLI (its --type option takes cns's: the agent type goes in CNS_AGENT_TYPE)"
# Gemini CLI loads no project settings in an untrusted folder (and its `mcp add` then drops the
# servers added before): trust this one, as its folder-trust prompt would.
echo "{ \"$OTHER\": \"TRUST_FOLDER\" }" >"$HOME/.gemini/trustedFolders.json"
echo "\$ echo '{ \"$OTHER\": \"TRUST_FOLDER\" }' > ~/.gemini/trustedFolders.json" | mask
expect_ok gemini mcp add cns-supervisor cns mcp --role supervisor
expect_ok gemini mcp add -e CNS_AGENT_TYPE=backend cns-backend cns mcp --role agent
expect_ok gemini mcp add -e CNS_TOKEN="$AGENT_SECRET" cns-agent cns mcp --server "$URL"
expect_ok gemini mcp add -t http cns "$URL/mcp" -H "Authorization: Bearer $SUPERVISOR_SECRET"
if run gemini mcp add cns-clash cns mcp --role agent --type backend >"$WORK/gemini-clash.txt"; then
  fail 'gemini accepted --type backend'
else
  head -2 "$WORK/gemini-clash.txt"
  ok 'gemini refuses "--type backend" (its own --type): hence CNS_AGENT_TYPE'
fi
run gemini mcp list | tee "$WORK/gemini-list.txt"
for name in cns-supervisor cns-backend cns-agent cns; do
  expect_line "$WORK/gemini-list.txt" "$name: .*Connected" "gemini: $name connected"
done
echo "skipped: using the tools from a Gemini session (needs a Google account and the network)"

say "Codex CLI (codex mcp list shows the configuration; it does not connect)"
expect_ok codex mcp add cns-supervisor --env CNS_DB="$DB" -- cns mcp --role supervisor
expect_ok codex mcp add cns-backend --env CNS_DB="$DB" -- cns mcp --role agent --type backend
expect_ok codex mcp add cns-agent --env CNS_TOKEN="$AGENT_SECRET" -- cns mcp --server "$URL"
expect_ok codex mcp add cns --url "$URL/mcp" --bearer-token-env-var CNS_TOKEN
run codex mcp list | tee "$WORK/codex-list.txt"
for name in cns-supervisor cns-backend cns-agent cns; do
  expect_line "$WORK/codex-list.txt" "^$name +.*enabled" "codex: $name configured"
done
run codex mcp get cns
echo "skipped: connecting from a Codex session (needs an OpenAI account and the network)"

say "Result"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
