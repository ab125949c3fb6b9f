#!/usr/bin/env bash
# Prints the side-by-side table of docs/PERFORMANCE.md: lockbox against age, raw redb and itself.
# Sizes: LOCKBOX_BENCH_MB (256), LOCKBOX_BENCH_ITEMS (100000), LOCKBOX_BENCH_BIG_MB (1024).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v age >/dev/null || { apt-get update -qq && apt-get install -y -qq age; } || echo "age unavailable: its rows will say so" >&2
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time || true
cargo bench --bench compare
