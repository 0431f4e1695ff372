#!/usr/bin/env bash
# Player render: time from navigation start to the player's first page, in headless chromium.
#
#   bench/player_render.sh BIN         e.g. bench/player_render.sh build-release/sluice
#
# Starts `BIN demo` on a free port of 127.0.0.1 (its own temp data dir and a temp copy of web/),
# then opens /play/<tenant>/<flow> (a new state of the demo flow each time) in Debian's chromium
# (playwright-core, as the browser tests) BENCH_RUNS times with an empty cache (a fresh browser
# context each) and BENCH_RUNS times with a warm cache (one context; the files revalidate with
# ETags, 304). The time is the player's performance mark "sluice:first-page" (set when the first
# page is in the DOM); the bytes are the transfer sizes of the document and of every request
# (player files and API calls). The reference, measured in the same run the same ways: the same
# first page saved as static HTML (what the player rendered, without scripts, same stylesheets)
# served by the same server, and the run API call alone. Prints median / p90, bytes, the ratio
# player / reference and PASS/FAIL against the target (first page within 300 ms).
# Knobs: BENCH_RUNS (20).
set -euo pipefail
[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec node "$HERE/lib/player_render.mjs" "$BIN" "${BENCH_RUNS:-20}"
