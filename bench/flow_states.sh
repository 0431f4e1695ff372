#!/usr/bin/env bash
# Flow states: 1,000 concurrent Flow states, each init → page 1 → message step → page 2 → done,
# through the run API, plus the memory and disk cost of idle states (see bench/README.md).
#
#   bench/flow_states.sh BIN       e.g. bench/flow_states.sh build-release/sluice
#
# In one run, on 127.0.0.1 only: serves examples/upload (the Atom's Greet message action) and the
# Flow engine with BIN serve, imports a five-element flow whose MESSAGE step calls Greet through
# the Atom over HTTP (Basic auth), compiles bench/lib/flowload.c (libcurl multi on epoll, one
# thread) and runs, each after a warm-up:
#   1. the reference: Greet called directly (POST /fs/upload/actions/Greet, the ServiceRequest the
#      engine sends) by the same generator at the same concurrency, 3 calls per unit;
#   2. the workload: BENCH_STATES states, BENCH_CONC at a time, each POST /api/run/1/state (runs to
#      page 1), FORWARD with an outcome and a Name (the engine calls Greet and stops on page 2),
#      FORWARD (DONE): 3 transitions per state, every answer checked;
#   3. none lost: every state the runs made is DONE in flow.db (sqlite3), and every id the
#      generator saw in the measured run is among them;
#   4. idle states: VmRSS of the server and flow.db's size (page_count × page_size) before and
#      after parking BENCH_IDLE_STATES new states on page 1; bytes per idle state.
# Prints the figures, transitions/s ÷ direct calls/s, and PASS/FAIL against the targets. Exits 0
# when everything ran (even if a speed or memory target is missed: this is a report), non-zero
# when something could not run, any request failed, or a state was lost.
#
# Knobs (environment): BENCH_STATES (10000), BENCH_WARMUP_STATES (1000), BENCH_CONC (1000),
# BENCH_IDLE_STATES (10000), SLUICE_ARGS (extra serve flags), BENCH_KEEP=1 (keep the temp dir),
# BENCH_PERF=FILE (perf record the server for BENCH_PERF_SECONDS (5) from the start of the
# measured flow run and write `perf report` to FILE), BENCH_PERF_OPTS (default -g).
set -euo pipefail

BENCH_NAME=flow_states
usage() { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -x "$1" ] || { echo "$BENCH_NAME: $1 is not an executable (build it first: see bench/README.md)" >&2; exit 2; }

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATES=${BENCH_STATES:-10000}
WARM_STATES=${BENCH_WARMUP_STATES:-1000}
CONC=${BENCH_CONC:-1000}
IDLE=${BENCH_IDLE_STATES:-10000}
TARGET_TPS=2000
TARGET_IDLE_BYTES=20480

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
need_tools cc curl sqlite3 awk sort comm
GEN_PID=""

cleanup() {
  stop_pid "$GEN_PID"
  stop_pid "$PERF_PID"
  stop_pid "$SLUICE_PID"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$BENCH_NAME: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the generator
GEN="$TMP/flowload"
cc -O2 -std=c17 -Wall -o "$GEN" "$HERE/lib/flowload.c" -lcurl 2>"$TMP/cc.log" ||
  { cat "$TMP/cc.log" >&2; die "cannot compile bench/lib/flowload.c (needs libcurl's headers: libcurl4-openssl-dev)"; }

# ---------------------------------------------------------------- sluice and the flow
SPORT=${BENCH_SLUICE_PORT:-$(pick_port)} || die "no free port"
DATA="$TMP/data"
COMPONENTS="$REPO/examples/upload"
say "sluice: $BIN (data $DATA, port $SPORT, components $COMPONENTS)"
TOKEN=$("$BIN" user add flow --data "$DATA" 2>"$TMP/user.log") || { cat "$TMP/user.log" >&2; die "sluice user add"; }
[ -n "$TOKEN" ] || die "sluice user add printed no token"
start_sluice
SURL="http://127.0.0.1:$SPORT"

# Fixed ids, so the generator knows the outcomes, the component and the elements.
FLOW=f1000000-0000-4000-8000-000000000001
V_NAME=f1000000-0000-4000-8000-0000000000a1
V_GREETING=f1000000-0000-4000-8000-0000000000a2
SVC=f1000000-0000-4000-8000-0000000000b1
P1=f1000000-0000-4000-8000-0000000000c1
P1_BOX=f1000000-0000-4000-8000-0000000000c2
P1_NAME=f1000000-0000-4000-8000-0000000000c3
P2=f1000000-0000-4000-8000-0000000000d1
P2_BOX=f1000000-0000-4000-8000-0000000000d2
P2_NAME=f1000000-0000-4000-8000-0000000000d3
P2_GREETING=f1000000-0000-4000-8000-0000000000d4
E_START=f1000000-0000-4000-8000-000000000e01
E_PAGE1=f1000000-0000-4000-8000-000000000e02
E_MSG=f1000000-0000-4000-8000-000000000e03
E_PAGE2=f1000000-0000-4000-8000-000000000e04
E_DONE=f1000000-0000-4000-8000-000000000e05
O_GO=f1000000-0000-4000-8000-000000000f01
O_NEXT=f1000000-0000-4000-8000-000000000f02
O_AFTER=f1000000-0000-4000-8000-000000000f03
O_FINISH=f1000000-0000-4000-8000-000000000f04
outcome() { # ID NAME NEXT
  printf '{"id":"%s","developerName":"%s","label":"%s","nextMapElementId":"%s","pageActionBindingType":"SAVE","order":0,"comparison":null}' \
    "$1" "$2" "$2" "$3"
}
cat >"$TMP/flow.json" <<EOF
{"id":{"id":"$FLOW","versionId":"f1000000-0000-4000-8000-000000000002"},"developerName":"Bench states",
 "startMapElementId":"$E_START",
 "valueElements":[
  {"id":"$V_NAME","elementType":"VARIABLE","developerName":"Name","contentType":"ContentString","access":"PRIVATE","defaultContentValue":null,"defaultObjectData":null,"typeElementId":null},
  {"id":"$V_GREETING","elementType":"VARIABLE","developerName":"Greeting","contentType":"ContentString","access":"PRIVATE","defaultContentValue":null,"defaultObjectData":null,"typeElementId":null}],
 "serviceElements":[{"id":"$SVC","elementType":"SERVICE","developerName":"Upload","uri":"$SURL/fs/upload","format":"json",
  "httpAuthenticationUsername":"flow","httpAuthenticationPassword":"$TOKEN","configurationValues":[],"actions":[]}],
 "pageElements":[
  {"id":"$P1","elementType":"PAGE_LAYOUT","developerName":"Page 1","label":"Page 1",
   "pageContainers":[{"id":"$P1_BOX","containerType":"VERTICAL_FLOW","developerName":"main","label":"","order":0,"pageContainers":[]}],
   "pageComponents":[{"id":"$P1_NAME","pageContainerId":"$P1_BOX","pageContainerDeveloperName":"main","developerName":"Name","componentType":"INPUT",
     "order":0,"isEditable":true,"isRequired":true,"label":"Name","valueElementValueBindingReferenceId":{"id":"$V_NAME","typeElementPropertyId":null,"command":null}}],
   "pageConditions":[]},
  {"id":"$P2","elementType":"PAGE_LAYOUT","developerName":"Page 2","label":"Page 2",
   "pageContainers":[{"id":"$P2_BOX","containerType":"VERTICAL_FLOW","developerName":"main","label":"","order":0,"pageContainers":[]}],
   "pageComponents":[
    {"id":"$P2_NAME","pageContainerId":"$P2_BOX","pageContainerDeveloperName":"main","developerName":"Name","componentType":"INPUT",
     "order":0,"isEditable":true,"isRequired":false,"label":"Name","valueElementValueBindingReferenceId":{"id":"$V_NAME","typeElementPropertyId":null,"command":null}},
    {"id":"$P2_GREETING","pageContainerId":"$P2_BOX","pageContainerDeveloperName":"main","developerName":"Greeting","componentType":"PRESENTATION",
     "order":1,"isEditable":false,"isRequired":false,"label":"Greeting","valueElementValueBindingReferenceId":{"id":"$V_GREETING","typeElementPropertyId":null,"command":null}}],
   "pageConditions":[]}],
 "mapElements":[
  {"id":"$E_START","elementType":"START","developerName":"Start","outcomes":[$(outcome $O_GO go $E_PAGE1)],"operations":[],"dataActions":[],"messageActions":[]},
  {"id":"$E_PAGE1","elementType":"input","developerName":"Page 1","pageElementId":"$P1","outcomes":[$(outcome $O_NEXT Next $E_MSG)],"operations":[],"dataActions":[],"messageActions":[]},
  {"id":"$E_MSG","elementType":"MESSAGE","developerName":"Greet","outcomes":[$(outcome $O_AFTER next $E_PAGE2)],"operations":[],"dataActions":[],
   "messageActions":[{"developerName":"Greet","serviceElementId":"$SVC","uriPart":"actions/Greet","order":0,
     "inputs":[{"developerName":"Name","contentType":"ContentString","valueElementToReferenceId":{"id":"$V_NAME","typeElementPropertyId":null,"command":null}}],
     "outputs":[{"developerName":"Message","contentType":"ContentString","valueElementToApplyId":{"id":"$V_GREETING","typeElementPropertyId":null,"command":null}}]}]},
  {"id":"$E_PAGE2","elementType":"input","developerName":"Page 2","pageElementId":"$P2","outcomes":[$(outcome $O_FINISH Finish $E_DONE)],"operations":[],"dataActions":[],"messageActions":[]},
  {"id":"$E_DONE","elementType":"step","developerName":"Done","userContent":"<p>{![Greeting]}</p>","outcomes":[],"operations":[],"dataActions":[],"messageActions":[]}],
 "typeElements":[],"macroElements":[],"navigationElements":[],"groupElements":[],"tagElements":[]}
EOF
read -r TENANT FLOW_ID <<<"$("$BIN" flow import "$TMP/flow.json" --tenant bench --data "$DATA" 2>"$TMP/import.log")" ||
  { cat "$TMP/import.log" >&2; die "sluice flow import"; }
[ "$FLOW_ID" = "$FLOW" ] || die "flow import printed \"$TENANT $FLOW_ID\""
say "flow $FLOW imported into tenant bench ($TENANT): START → Page 1 → Greet (message action, $SURL/fs/upload) → Page 2 → Done"

FLOW_ARGS=(--base "$SURL" --tenant "$TENANT" --flow "$FLOW" --o1 "$O_NEXT" --o2 "$O_FINISH" --comp "$P1_NAME"
  --page1 "$E_PAGE1" --page2 "$E_PAGE2" --done "$E_DONE")
DIRECT_ARGS=(--base "$SURL" --tenant "$TENANT" --action /fs/upload/actions/Greet --auth "flow:$TOKEN")
gen() { # NAME MODE ARGS... -> prints the BENCH line; the full output goes to $TMP/NAME.out
  local name=$1 rc=0; shift
  timeout 600 "$GEN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  GEN_PID=$!
  wait "$GEN_PID" || rc=$?
  GEN_PID=""
  kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice died during $name"
  [ "$rc" = 0 ] || { cat "$TMP/$name.err" >&2; die "the generator ($name) failed (exit $rc)"; }
  grep -E '^BENCH ' "$TMP/$name.out" | tail -n 1 || die "the generator ($name) printed no summary"
}
# One state and one direct call first: any wrong answer stops the run here.
gen smoke-flow flow "${FLOW_ARGS[@]}" --units 3 --conc 3 >/dev/null
gen smoke-direct direct "${DIRECT_ARGS[@]}" --units 3 --conc 3 >/dev/null
say "3 states ran to DONE (page 2 showed the greeting); Greet answers directly"

# ---------------------------------------------------------------- the runs
tck=$(getconf CLK_TCK)
machine_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9 }' /proc/stat; } # busy jiffies of all CPUs
io_w() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$SLUICE_PID/io" 2>/dev/null || echo 0; }
kib_per() { awk -v w=$(($2 - $1)) -v n="$(field "$3" ok_requests)" 'BEGIN { printf "%.1f", n ? w / n / 1024 : 0 }'; } # W0 W1 BENCH-line
others() { # BUSY0 BUSY1 SERVER0 SERVER1 BENCH-line T0 T1 -> cores used by other processes during the run
  awk -v b=$(($2 - $1)) -v s=$(($4 - $3)) -v hz="$tck" -v g="$(field "$5" cpu_ms)" -v t="$(awk -v a="$6" -v b="$7" 'BEGIN { print b - a }')" \
    'BEGIN { o = ((b - s) / hz - g / 1000) / t; printf "%.2f", o < 0 ? 0 : o }'
}
say "reference: Greet directly, warm-up $WARM_STATES × 3 calls, then $STATES × 3 calls, $CONC at a time"
gen direct-warm direct "${DIRECT_ARGS[@]}" --units "$WARM_STATES" --conc "$CONC" >/dev/null
check_quiet
w0=$(io_w)
c0=$(cpu_ticks "$SLUICE_PID"); m0=$(machine_ticks); t0=$(date +%s.%N)
REF=$(gen direct direct "${DIRECT_ARGS[@]}" --units "$STATES" --conc "$CONC")
c1=$(cpu_ticks "$SLUICE_PID"); m1=$(machine_ticks); t1=$(date +%s.%N)
REF_WRITE=$(kib_per "$w0" "$(io_w)" "$REF")
REF_OTHERS=$(others "$m0" "$m1" "$c0" "$c1" "$REF" "$t0" "$t1")
REF_CPU=$(awk -v t=$((c1 - c0)) -v hz="$tck" -v n="$(field "$REF" ok_requests)" 'BEGIN { printf "%.0f", n ? 1e6 * (t / hz) / n : 0 }')

say "workload: warm-up $WARM_STATES states, then $STATES states, $CONC at a time (3 transitions each)"
gen flow-warm flow "${FLOW_ARGS[@]}" --units "$WARM_STATES" --conc "$CONC" >/dev/null
check_quiet
perf_start "${BENCH_PERF_SECONDS:-5}"
w0=$(io_w)
c0=$(cpu_ticks "$SLUICE_PID"); m0=$(machine_ticks); t0=$(date +%s.%N)
RUN=$(gen flow flow "${FLOW_ARGS[@]}" --units "$STATES" --conc "$CONC" --ids "$TMP/ids.txt")
c1=$(cpu_ticks "$SLUICE_PID"); m1=$(machine_ticks); t1=$(date +%s.%N)
RUN_OTHERS=$(others "$m0" "$m1" "$c0" "$c1" "$RUN" "$t0" "$t1")
RUN_WRITE=$(kib_per "$w0" "$(io_w)" "$RUN")
RUN_CORES=$(awk -v t=$((c1 - c0)) -v hz="$tck" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", t / hz / (b - a) }')
perf_finish
RUN_CPU=$(awk -v t=$((c1 - c0)) -v hz="$tck" -v n="$(field "$RUN" ok_requests)" 'BEGIN { printf "%.0f", n ? 1e6 * (t / hz) / n : 0 }')
RSS_RUN=$(status_kb "$SLUICE_PID" VmRSS)
HWM_RUN=$(status_kb "$SLUICE_PID" VmHWM)

# ---------------------------------------------------------------- none lost
DB="$DATA/flow.db"
q() { sqlite3 -readonly "$DB" "$1"; }
MADE=$((3 + WARM_STATES + STATES))
N_DONE=$(q "SELECT count(*) FROM states WHERE status = 'DONE'")
N_OTHER=$(q "SELECT count(*) FROM states WHERE status <> 'DONE'")
q "SELECT id FROM states WHERE status = 'DONE'" | sort >"$TMP/done.txt"
sort "$TMP/ids.txt" >"$TMP/ids.sorted"
N_IDS=$(wc -l <"$TMP/ids.sorted")
LOST=$(comm -23 "$TMP/ids.sorted" "$TMP/done.txt" | wc -l)
say "flow.db: $N_DONE states DONE, $N_OTHER not DONE (made $MADE); measured run: $N_IDS ids, $LOST of them not DONE"

# ---------------------------------------------------------------- idle states
db_bytes() { q "PRAGMA page_count" | awk -v ps="$(q 'PRAGMA page_size')" '{ print $1 * ps }'; }
sleep 1
RSS0=$(status_kb "$SLUICE_PID" VmRSS)
DB0=$(db_bytes)
say "parking $IDLE new states on page 1 ($CONC at a time); RSS before ${RSS0} kB, flow.db $DB0 bytes"
PARK=$(gen park park "${FLOW_ARGS[@]}" --units "$IDLE" --conc "$CONC" --ids "$TMP/parked.txt")
sleep 2
RSS1=$(status_kb "$SLUICE_PID" VmRSS)
DB1=$(db_bytes)
N_PARKED=$(q "SELECT count(*) FROM states WHERE status = 'IN_PROGRESS' AND current_element = '$E_PAGE1'")
BLOB=$(q "SELECT CAST(avg(length(json)) AS INTEGER) FROM states WHERE status = 'IN_PROGRESS'")
RSS_PER=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$IDLE" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
DB_PER=$(awk -v a="$DB0" -v b="$DB1" -v n="$IDLE" 'BEGIN { printf "%.0f", (b - a) / n }')
WAL=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)

# ---------------------------------------------------------------- report
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.1f", u / 1000 }'; }
TPS=$(field "$RUN" rps)
REF_RPS=$(field "$REF" rps)
RATIO=$(awk -v a="$TPS" -v b="$REF_RPS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
ERRS=$(( $(field "$RUN" errors) + $(field "$REF" errors) + $(field "$PARK" errors) ))
v_all=$([ "$(field "$RUN" completed)" = "$STATES" ] && [ "$ERRS" = 0 ] && echo PASS || echo FAIL)
v_lost=$([ "$LOST" = 0 ] && [ "$N_OTHER" = 0 ] && [ "$N_DONE" = "$MADE" ] && [ "$N_IDS" = "$STATES" ] && echo PASS || echo FAIL)
v_tps=$(awk -v x="$TPS" -v t="$TARGET_TPS" 'BEGIN { print (x >= t ? "PASS" : "FAIL") }')
v_idle=$(awk -v r="$RSS_PER" -v d="$DB_PER" -v t="$TARGET_IDLE_BYTES" 'BEGIN { print (r < t && d < t ? "PASS" : "FAIL") }')
v_park=$([ "$N_PARKED" = "$IDLE" ] && echo PASS || echo FAIL)

row() { # LABEL BENCH-line
  printf '%-34s %8s %10s %9s %8s %8s %8s %8s  %-30s %8s\n' "$1" "$(field "$2" completed)" "$(field "$2" rps)" \
    "$(field "$2" seconds)" "$(ms "$(field "$2" p50_us)")" "$(ms "$(field "$2" p90_us)")" "$(ms "$(field "$2" p99_us)")" \
    "$(ms "$(field "$2" max_us)")" \
    "$(ms "$(field "$2" step1_p50_us)")/$(ms "$(field "$2" step2_p50_us)")/$(ms "$(field "$2" step3_p50_us)") | $(ms "$(field "$2" step1_p99_us)")/$(ms "$(field "$2" step2_p99_us)")/$(ms "$(field "$2" step3_p99_us)")" \
    "$(field "$2" errors)"
}
echo
echo "Flow states: $CONC concurrent states, init → page 1 → message step (Greet via the Atom) → page 2 → done — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "server: $BIN serve (Atom + engine, one port, SQLite flow.db in WAL mode)${SLUICE_ARGS:+ $SLUICE_ARGS}; client: bench/lib/flowload.c (libcurl multi + epoll, 1 thread, $CONC connections)"
echo "runs: $WARM_STATES-unit warm-up each, then $STATES units; reference = the Greet message action called directly (3 calls per unit)"
busy_line
echo
printf '%-34s %8s %10s %9s %8s %8s %8s %8s  %-30s %8s\n' "run" "units" "req/s" "seconds" "p50 ms" "p90 ms" "p99 ms" "max ms" \
  "p50 | p99 ms by request 1/2/3" "errors"
row "reference: Greet directly" "$REF"
row "workload: states (3 transitions)" "$RUN"
echo
echo "transitions/s: $TPS (each invoke = one transition: init, FORWARD page 1 + Greet, FORWARD page 2)"
echo "ratio: transitions/s ÷ direct Greet calls/s = $TPS / $REF_RPS = $RATIO"
gen_pct() { awk -v c="$(field "$1" cpu_ms)" -v s="$(field "$1" seconds)" 'BEGIN { printf "%.0f", c / s / 10 }'; }
echo "server CPU: $RUN_CPU µs per transition ($RUN_CORES cores busy), $REF_CPU µs per direct Greet call;" \
  "generator CPU: $(gen_pct "$RUN") % of one core in the workload run, $(gen_pct "$REF") % in the reference run"
echo "other processes on the machine during the runs: $RUN_OTHERS cores (workload), $REF_OTHERS cores (reference) of $(nproc)$(
  awk -v a="$RUN_OTHERS" -v b="$REF_OTHERS" 'BEGIN { if (a > 0.2 || b > 0.2) print "  <-- WARNING: shared machine, the rates are low" }')"
echo "server RSS after the workload: $RSS_RUN kB (peak $HWM_RUN kB); disk writes (write_bytes: flow.db, its WAL, the Atom's" \
  "records) $RUN_WRITE KiB per transition, $REF_WRITE KiB per direct Greet call"
echo "flow.db after the runs: $N_DONE states DONE, $N_OTHER not DONE, $MADE made; measured run: $N_IDS state ids seen, $LOST not DONE"
echo "idle: $IDLE states parked on page 1 in $(field "$PARK" seconds) s ($(field "$PARK" rps) inits/s, p99 $(ms "$(field "$PARK" p99_us)") ms);" \
  "$N_PARKED on page 1 in flow.db"
echo "  RSS $RSS0 → $RSS1 kB = $RSS_PER bytes per idle state; flow.db $DB0 → $DB1 bytes = $DB_PER bytes per idle state" \
  "(state blob avg $BLOB bytes; WAL file now $WAL bytes)"
echo
printf '%-56s %-34s %s\n' "target" "measured" "verdict"
printf '%-56s %-34s %s\n' "all $STATES states complete, no errors" "$(field "$RUN" completed) complete, $ERRS errors" "$v_all"
printf '%-56s %-34s %s\n' "none lost: every state in flow.db DONE" "$LOST lost, $N_OTHER not DONE" "$v_lost"
printf '%-56s %-34s %s\n' ">= $TARGET_TPS transitions/s (SQLite, $(nproc) cores)" "$TPS/s" "$v_tps"
printf '%-56s %-34s %s\n' "< 20 KB per idle state (RSS and flow.db)" "$RSS_PER B RSS, $DB_PER B disk" "$v_idle"
printf '%-56s %-34s %s\n' "all $IDLE parked states on page 1 in flow.db" "$N_PARKED" "$v_park"
printf '%-56s %-34s %s\n' "transitions/s ÷ direct Greet calls/s (no target)" "$RATIO" "-"
# A lost or misplaced state is a correctness failure, not a slow run: fail the script.
if [ "$v_lost" != PASS ] || [ "$v_park" != PASS ]; then
  echo "$BENCH_NAME: FAILED: states were lost or are not where they should be (above)" >&2
  exit 1
fi
exit 0
