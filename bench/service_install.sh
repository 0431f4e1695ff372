#!/usr/bin/env bash
# Service install: describe + install of a Flow Service with 50 types x 20 properties.
#
#   bench/service_install.sh BIN       e.g. bench/service_install.sh build-release/sluice
#
# Generates a components folder whose one message action has a request profile with 50 objects of
# 20 fields (so the describe generates 50 types of 20 properties), serves it with BIN (Atom and
# Flow engine in one process, 127.0.0.1), then times, in the same run:
#   - the reference: the service's describe alone (POST /fs/big/metadata, what any installer must
#     fetch), and
#   - the install: POST /api/draw/1/element/service/install (describe + generating and storing the
#     service and its 50 types, ids kept by name), the first one and re-installs.
# Prints ms per call (median, p90) and the ratio install / describe. Knobs: BENCH_RUNS (50).
set -euo pipefail
[ $# -eq 1 ] && [ -x "$1" ] || { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec node "$HERE/lib/service_install.mjs" "$BIN" "${BENCH_RUNS:-50}"
