#!/usr/bin/env bash
# Relay paging: pages/s through the Flow engine's data relay (POST /api/run/1/service/data, what the
# player calls for a table) against calling the Atom's data action directly (POST /fs/bench/data),
# for the same 10,000-row customers table in pages of 100, in one run (see bench/README.md).
#
#   bench/relay_paging.sh BIN       e.g. bench/relay_paging.sh build-release/sluice
#
# In one run, on 127.0.0.1 only: makes a SQLite file with 10,000 customers (as bench/data_paging.sh),
# serves a Flow Service with one table data action over it with BIN serve (Atom + Flow engine in one
# process, Basic auth on), takes the type from the Atom's describe, imports a flow whose page has a
# table of that type (objectDataRequest: order by id, 100 per page) pointing at the service with its
# credentials, starts a state and takes the objectDataRequest from the page's data response. Then
# builds one request per page (limit 100, offset 0..9900) from it, checks that the relay answers
# every page byte for byte as the Atom does directly, and drives both with the same wrk script
# walking the offsets in order: at one connection (-t1 -c1: the time for all 100 pages) and at 50
# (-t2 -c50: pages/s), each after a warm-up. Prints both, the ratios and sluice's CPU per page.
# There is no target: this is a report. Exits 0 when everything ran, non-zero when something could
# not run or answered wrongly.
#
# Knobs (environment): BENCH_SECONDS (10, the c=50 runs), BENCH_SEQ_SECONDS (5, the c=1 runs),
# BENCH_WARMUP_SECONDS (3), BENCH_CONNS (50), BENCH_THREADS (2), SLUICE_ARGS (extra serve flags),
# BENCH_KEEP=1 (keep the temp dir), BENCH_PERF=FILE (perf record sluice during the relay's c=50 run
# and write `perf report` to FILE), BENCH_PERF_OPTS (perf record options; default -g).
set -euo pipefail

BENCH_NAME=relay_paging
usage() { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -x "$1" ] || { echo "$BENCH_NAME: $1 is not an executable (build it first: make bench)" >&2; exit 2; }

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECS=${BENCH_SECONDS:-10}
SEQ_SECS=${BENCH_SEQ_SECONDS:-5}
WARM=${BENCH_WARMUP_SECONDS:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-2}
ROWS=10000
PAGE=100
NPAGES=$((ROWS / PAGE))
DIRECT_PATH="/fs/bench/data"
RELAY_PATH="/api/run/1/service/data"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
need_tools wrk curl sqlite3 base64 awk cmp jq

cleanup() {
  stop_pid "$PERF_PID"
  stop_pid "$SLUICE_PID"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$BENCH_NAME: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the database and components
DB="$TMP/customers.db"
COMPONENTS="$TMP/components"
make_customers_service "$DB" "$ROWS" "$COMPONENTS"

# ---------------------------------------------------------------- sluice (Atom + Flow engine)
SPORT=${BENCH_SLUICE_PORT:-$(pick_port)} || die "no free port"
DATA="$TMP/data"
say "sluice: $BIN (data $DATA, port $SPORT)"
TOKEN=$("$BIN" user add b --data "$DATA" 2>"$TMP/user.log") || { cat "$TMP/user.log" >&2; die "sluice user add"; }
[ -n "$TOKEN" ] || die "sluice user add printed no token"
start_sluice
SURL="http://127.0.0.1:$SPORT"

# ---------------------------------------------------------------- the flow
curl -sS -f -u "b:$TOKEN" -H 'Content-Type: application/json' -d '{}' "$SURL/fs/bench/metadata" >"$TMP/describe.json" ||
  die "describe (POST /fs/bench/metadata) failed"
# Ids are fixed: the snapshot is our own fixture. The type is the describe's, with ids, as install makes it.
jq --arg uri "$SURL/fs/bench" --arg user b --arg pass "$TOKEN" '
  def uid($n): "7e1a0000-0000-4000-8000-" + ("000000000000" + ($n | tostring))[-12:];
  (.install.typeElements[] | select(.developerName == "customers")) as $d
  | ($d + {id: uid(1), serviceElementId: uid(2),
           properties: [$d.properties | to_entries[] | .value + {id: uid(100 + .key)}]}) as $t
  | ($t.properties[] | select(.developerName == "id") | .id) as $idprop
  | {id: {id: uid(10), versionId: uid(11)}, developerName: "Relay bench", startMapElementId: uid(20),
     mapElements: [
       {id: uid(20), elementType: "START", developerName: "Start", operations: [], dataActions: [], messageActions: [],
        outcomes: [{id: uid(21), developerName: "go", nextMapElementId: uid(22), order: 0}]},
       {id: uid(22), elementType: "input", developerName: "Browse", pageElementId: uid(30), operations: [],
        dataActions: [], messageActions: [],
        outcomes: [{id: uid(23), developerName: "again", nextMapElementId: uid(22), order: 0}]}],
     valueElements: [], typeElements: [$t + {bindings: [$t.bindings[] + {id: uid(3), serviceElementId: uid(2)}]}],
     serviceElements: [{id: uid(2), elementType: "SERVICE", developerName: "Bench", uri: $uri, format: "json",
       httpAuthenticationUsername: $user, httpAuthenticationPassword: $pass, configurationValues: [], actions: []}],
     pageElements: [{id: uid(30), elementType: "PAGE_LAYOUT", developerName: "Browse", label: "Browse",
       pageContainers: [{id: uid(31), containerType: "VERTICAL_FLOW", developerName: "main", label: "", order: 0,
                         pageContainers: []}],
       pageComponents: [{id: uid(32), pageContainerId: uid(31), pageContainerDeveloperName: "main",
         developerName: "Customers", componentType: "TABLE", order: 0, label: "Customers",
         objectDataRequest: {typeElementId: uid(1), typeElementBindingId: uid(3), serviceElementId: uid(2),
           command: null, listFilter: {comparisonType: "AND", where: [], orderByTypeElementPropertyId: $idprop,
                                       orderByDirectionType: "ASC", limit: '"$PAGE"'}},
         columns: [$t.properties | to_entries[] | {typeElementPropertyId: .value.id, order: .key, isDisplayValue: true}]}],
       pageConditions: []}],
     macroElements: [], navigationElements: [], groupElements: [], tagElements: []}
' "$TMP/describe.json" >"$TMP/flow.json" || die "cannot build the flow from the describe"
read -r TENANT FLOW < <("$BIN" flow import "$TMP/flow.json" --tenant bench --data "$DATA" 2>"$TMP/import.log") ||
  { cat "$TMP/import.log" >&2; die "sluice flow import"; }
[ -n "${FLOW:-}" ] || die "sluice flow import printed no flow id"
curl -sS -f -H 'Content-Type: application/json' -H "ManyWhoTenant: $TENANT" \
  -d "{\"id\":\"$FLOW\",\"versionId\":null,\"inputs\":null}" "$SURL/api/run/1/state" >"$TMP/state.json" ||
  die "starting a state (POST /api/run/1/state) failed"
STATE=$(jq -r '.stateId' "$TMP/state.json")
jq '.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses[] | select(.objectDataRequest != null)
    | .objectDataRequest' "$TMP/state.json" >"$TMP/odr.json"
[ -s "$TMP/odr.json" ] || die "the page's data response has no objectDataRequest"
say "flow $FLOW imported for tenant $TENANT; state $STATE; the table's objectDataRequest is $(wc -c <"$TMP/odr.json") bytes"

# The player's request for each page: the objectDataRequest with its listFilter's limit and offset
# set. The same body goes to the Atom directly (it ignores what the engine adds).
mkdir -p "$TMP/req" "$TMP/res-relay" "$TMP/res-direct"
for ((p = 0; p < NPAGES; p++)); do
  off=$((p * PAGE))
  jq -c --argjson off "$off" --argjson lim "$PAGE" '.listFilter.limit = $lim | .listFilter.offset = $off' \
    "$TMP/odr.json" >"$TMP/req/$off.json"
done

call_relay() { # REQFILE OUT -> "status content-type"
  curl -sS -o "$2" -w '%{http_code} %{content_type}' -H 'Content-Type: application/json' -H 'Accept: application/json' \
    -H "ManyWhoTenant: $TENANT" -H "ManyWhoState: $STATE" --data-binary "@$1" "$SURL$RELAY_PATH"
}
call_direct() { # REQFILE OUT -> "status content-type"
  curl -sS -o "$2" -w '%{http_code} %{content_type}' -u "b:$TOKEN" -H 'Content-Type: application/json' \
    -H 'Accept: application/json' --data-binary "@$1" "$SURL$DIRECT_PATH"
}
idre='"developerName":"id","contentType":"ContentNumber","contentValue":"[0-9]*"'
total_bytes=0
for ((p = 0; p < NPAGES; p++)); do
  off=$((p * PAGE))
  read -r st ct <<<"$(call_relay "$TMP/req/$off.json" "$TMP/res-relay/$off.json")" || die "curl to the relay"
  [ "$st" = 200 ] || { head -c 500 "$TMP/res-relay/$off.json" >&2; echo >&2; die "the relay answered $st at offset $off"; }
  read -r st dct <<<"$(call_direct "$TMP/req/$off.json" "$TMP/res-direct/$off.json")" || die "curl to the Atom"
  [ "$st" = 200 ] || { head -c 500 "$TMP/res-direct/$off.json" >&2; echo >&2; die "the Atom answered $st at offset $off"; }
  [ "$ct" = "$dct" ] || die "Content-Type differs at offset $off: relay \"$ct\", Atom \"$dct\""
  cmp -s "$TMP/res-relay/$off.json" "$TMP/res-direct/$off.json" || die "the relay's page at offset $off differs from the Atom's"
  n=$(grep -o '"developerName":"customers"' "$TMP/res-relay/$off.json" | wc -l)
  [ "$n" = "$PAGE" ] || die "the page at offset $off has $n objects (expected $PAGE)"
  first=$(grep -o "$idre" "$TMP/res-relay/$off.json" | sed -n 1p | grep -o '[0-9]*"$' | tr -d '"')
  [ "$first" = $((off + 1)) ] || die "the page at offset $off starts with id $first (expected $((off + 1)))"
  more=$([ "$p" -lt $((NPAGES - 1)) ] && echo true || echo false)
  grep -q "\"hasMoreResults\":$more" "$TMP/res-relay/$off.json" || die "the page at offset $off does not say hasMoreResults:$more"
  total_bytes=$((total_bytes + $(wc -c <"$TMP/res-relay/$off.json")))
done
say "the relay answers the $NPAGES pages with 200 $ct, $PAGE objects each, byte for byte as the Atom ($total_bytes bytes in all)"

# ---------------------------------------------------------------- the runs
LUA="$TMP/relay_pages.lua"
cat >"$LUA" <<'EOF'
-- wrk script of bench/relay_paging.sh: walks the pages in order (offsets 0, 100, ..., then again),
-- one POST per page, and prints one summary line. PAGES_TARGET "relay": POST /api/run/1/service/data
-- with ManyWhoTenant / ManyWhoState; "direct": POST /fs/bench/data with Basic auth. Same bodies.
local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end
local dir = assert(os.getenv("PAGES_DIR"), "PAGES_DIR is not set")
local target = os.getenv("PAGES_TARGET") or "relay"
local count = tonumber(os.getenv("PAGES_COUNT") or "100")
local size = tonumber(os.getenv("PAGES_SIZE") or "100")
local reqs, i = {}, 0
function init(args)
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  local path
  if target == "relay" then
    headers["ManyWhoTenant"] = os.getenv("BENCH_TENANT")
    headers["ManyWhoState"] = os.getenv("BENCH_STATE")
    path = "/api/run/1/service/data"
  else
    headers["Authorization"] = "Basic " .. os.getenv("BENCH_AUTH")
    path = "/fs/bench/data"
  end
  for p = 0, count - 1 do
    reqs[p] = wrk.format("POST", path, headers, slurp(dir .. "/req/" .. (p * size) .. ".json"))
  end
end
function request()
  local r = reqs[i]
  i = (i + 1) % count
  return r
end
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH label=%s requests=%d seconds=%.3f rps=%.1f bytes=%d mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d "
      .. "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    os.getenv("BENCH_LABEL") or "run", summary.requests, secs, summary.requests / secs, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
EOF
export PAGES_DIR="$TMP" PAGES_COUNT="$NPAGES" PAGES_SIZE="$PAGE" BENCH_TENANT="$TENANT" BENCH_STATE="$STATE"
BENCH_AUTH=$(printf 'b:%s' "$TOKEN" | base64 -w0)
export BENCH_AUTH
tck=$(getconf CLK_TCK)

measure() { # TARGET -> sets SEQ_<TARGET>, PAR_<TARGET>, CPU_<TARGET> (ms of sluice CPU per page at c=50)
  local who=$1 seq par c0 c1
  export PAGES_TARGET=$who
  say "$who: warm-up ${WARM}s at c=$CONNS, then wrk -t1 -c1 -d${SEQ_SECS}s, then wrk -t$THREADS -c$CONNS -d${SECS}s"
  BENCH_LABEL=warmup run_wrk "$who-warm" -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$LUA" "$SURL" >/dev/null
  check_quiet
  seq=$(BENCH_LABEL="$who-c1" run_wrk "$who-c1" -t1 -c1 -d"${SEQ_SECS}s" --latency -s "$LUA" "$SURL")
  check_quiet
  c0=$(cpu_ticks "$SLUICE_PID")
  [ "$who" = relay ] && perf_start "$SECS"
  par=$(BENCH_LABEL="$who-c$CONNS" run_wrk "$who-c$CONNS" -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$SURL")
  c1=$(cpu_ticks "$SLUICE_PID")
  [ "$who" = relay ] && perf_finish
  kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice died during the runs"
  printf -v "SEQ_$who" '%s' "$seq"
  printf -v "PAR_$who" '%s' "$par"
  printf -v "CPU_$who" '%s' "$(awk -v t=$((c1 - c0)) -v hz="$tck" -v n="$(field "$par" requests)" \
    'BEGIN { printf "%.3f", n ? 1000 * (t / hz) / n : 0 }')"
}
measure direct
measure relay
RSS=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")
HWM=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")

# ---------------------------------------------------------------- report
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.2f", u / 1000 }'; }
per100() { # BENCH line -> wall-clock ms per 100 pages
  awk -v s="$(field "$1" seconds)" -v n="$(field "$1" requests)" -v k="$NPAGES" 'BEGIN { printf "%.1f", n ? 1000 * s * k / n : 0 }'
}
mbps() { awk -v b="$(field "$1" bytes)" -v s="$(field "$1" seconds)" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
# shellcheck disable=SC2154 # SEQ_* / PAR_* are set by measure() with printf -v
d_seq=$(per100 "$SEQ_direct")
# shellcheck disable=SC2154
r_seq=$(per100 "$SEQ_relay")
seq_x=$(awk -v a="$r_seq" -v b="$d_seq" 'BEGIN { printf "%.2f", a / b }')
# shellcheck disable=SC2154
par_pct=$(awk -v a="$(field "$PAR_relay" rps)" -v b="$(field "$PAR_direct" rps)" 'BEGIN { printf "%.1f", 100 * a / b }')
added=$(awk -v a="$r_seq" -v b="$d_seq" -v k="$NPAGES" 'BEGIN { printf "%+.2f", (a - b) / k }')

echo
echo "Relay paging: $ROWS rows in pages of $PAGE, relay vs Atom directly — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "relay:  POST $RELAY_PATH (ManyWhoTenant, ManyWhoState; the page's objectDataRequest, ~$(wc -c <"$TMP/req/0.json") bytes) → engine → POST /fs/bench/data"
echo "direct: POST $DIRECT_PATH (Basic auth; the same body); answers byte-identical, $total_bytes bytes for the $NPAGES pages"
echo "c=1: wrk -t1 -c1 -d${SEQ_SECS}s walking offsets 0..$(((NPAGES - 1) * PAGE)) in order; c=$CONNS: wrk -t$THREADS -c$CONNS -d${SECS}s (after a ${WARM}s warm-up)"
busy_line
echo
printf '%-8s %16s %12s %12s | %12s %10s %10s %10s %9s\n' "path" "c=1 ms/100 pages" "mean ms/pg" "p99 ms/pg" \
  "c=$CONNS pages/s" "p50 ms" "p99 ms" "MB/s out" "CPU ms/pg"
for who in direct relay; do
  s_line=SEQ_$who; p_line=PAR_$who; c_var=CPU_$who
  printf '%-8s %16s %12s %12s | %12s %10s %10s %10s %9s\n' "$who" \
    "$(per100 "${!s_line}")" "$(ms "$(field "${!s_line}" mean_us)")" "$(ms "$(field "${!s_line}" p99_us)")" \
    "$(field "${!p_line}" rps)" "$(ms "$(field "${!p_line}" p50_us)")" "$(ms "$(field "${!p_line}" p99_us)")" \
    "$(mbps "${!p_line}")" "${!c_var}"
done
echo
echo "relay / direct: c=1 time for the $NPAGES pages ${seq_x}x ($added ms per page); c=$CONNS pages/s $par_pct %"
echo "sluice (Atom + engine in one process; the relay's CPU includes the Atom's): RSS $RSS after the runs (peak $HWM)"

bad=0
for line in "$SEQ_direct" "$PAR_direct" "$SEQ_relay" "$PAR_relay"; do
  for k in non2xx connect_err read_err write_err timeouts; do
    v=$(field "$line" "$k")
    if [ "$v" != 0 ]; then echo "$BENCH_NAME: $(field "$line" label): $k=$v" >&2; bad=1; fi
  done
done
[ "$bad" = 0 ] || { echo "$BENCH_NAME: FAILED: errors during the runs (above); the numbers are not valid" >&2; exit 1; }
exit 0
