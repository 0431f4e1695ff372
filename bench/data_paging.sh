#!/usr/bin/env bash
# Data paging: load 10,000 rows in pages of 100 through a table data action (see bench/README.md).
#
#   bench/data_paging.sh BIN       e.g. bench/data_paging.sh build-release/sluice
#
# In one run, on 127.0.0.1 only: makes a SQLite file with 10,000 customers, serves a Flow Service
# with one table data action over it with BIN (Basic auth on), captures the exact answer to each
# of the 100 page Loads (limit 100, offset 0..9900, ordered by id), serves those bytes from an
# unprivileged nginx (1 worker, one static file per offset, POST allowed), then drives both with
# the same wrk script walking the offsets in order: at one connection (-t1 -c1: the time to load
# all 100 pages) and at 50 (-t2 -c50: pages/s), each after a warm-up. Prints a summary with
# PASS/FAIL against the target (sluice's time for the 100 pages at one connection <= 5x nginx's).
# Exits 0 when everything ran (even if the target is missed: this is a report), non-zero when
# something could not run or answered wrongly.
#
# Knobs (environment): BENCH_SECONDS (10, the c=50 runs), BENCH_SEQ_SECONDS (5, the c=1 runs),
# BENCH_WARMUP_SECONDS (3), BENCH_CONNS (50), BENCH_THREADS (2), SLUICE_ARGS (extra serve flags),
# BENCH_KEEP=1 (keep the temp dir), BENCH_PERF=FILE (perf record -g sluice during its c=50 run and
# write `perf report` to FILE), BENCH_PERF_SEQ=FILE (the same during its c=1 run), BENCH_PERF_OPTS
# (perf record options; default -g).
set -euo pipefail

BENCH_NAME=data_paging
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
TARGET_X=5
DATA_PATH="/fs/bench/data"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
chmod 755 "$TMP" # nginx workers may run as another user when started as root
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
need_tools wrk nginx curl sqlite3 base64 awk cmp

cleanup() {
  stop_pid "$PERF_PID"
  stop_pid "$SLUICE_PID"
  stop_pid "$NGINX_PID"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$BENCH_NAME: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the database and components
DB="$TMP/customers.db"
COMPONENTS="$TMP/components"
make_customers_service "$DB" "$ROWS" "$COMPONENTS"

# The ObjectDataRequest of each page, as a Flow engine sends it for a paged table.
mkdir -p "$TMP/req" "$TMP/res" "$TMP/res2"
for ((p = 0; p < NPAGES; p++)); do
  off=$((p * PAGE))
  printf '{"token":null,"tenantId":"07f799a4-af7f-4b8c-8b0c-a2a0b6a2f3d1","stateId":"5a3c0d1e-9a51-4a0b-9c35-2f1f8e0b7c11","culture":{"developerName":"en-US","language":"EN","country":"US","variant":null},"configurationValues":null,"command":null,"objectDataType":{"developerName":"customers","properties":[]},"objectData":null,"listFilter":{"id":null,"search":null,"where":null,"comparisonType":null,"filterByProvidedObjects":false,"limit":%d,"offset":%d,"orderByPropertyDeveloperName":"id","orderByDirectionType":"ASC"}}' \
    "$PAGE" "$off" >"$TMP/req/$off.json"
done

# ---------------------------------------------------------------- sluice
SPORT=${BENCH_SLUICE_PORT:-$(pick_port)} || die "no free port"
DATA="$TMP/data"
say "sluice: $BIN (data $DATA, port $SPORT)"
TOKEN=$("$BIN" user add b --data "$DATA" 2>"$TMP/user.log") || { cat "$TMP/user.log" >&2; die "sluice user add"; }
[ -n "$TOKEN" ] || die "sluice user add printed no token"
start_sluice
SURL="http://127.0.0.1:$SPORT"

call() { # URL REQFILE OUT USER:TOKEN -> "status content-type"
  curl -sS -o "$3" -w '%{http_code} %{content_type}' -u "$4" -H 'Content-Type: application/json' \
    -H 'Accept: application/json' --data-binary "@$2" "$1"
}
idre='"developerName":"id","contentType":"ContentNumber","contentValue":"[0-9]*"'
ctype=""
total_bytes=0
for ((p = 0; p < NPAGES; p++)); do
  off=$((p * PAGE))
  read -r st ct <<<"$(call "$SURL$DATA_PATH" "$TMP/req/$off.json" "$TMP/res/$off.json" "b:$TOKEN")" || die "curl to sluice"
  [ "$st" = 200 ] || { head -c 500 "$TMP/res/$off.json" >&2; echo >&2; die "sluice answered $st to the Load at offset $off"; }
  [ -z "$ctype" ] && ctype=$ct
  [ "$ct" = "$ctype" ] || die "the Content-Type changed between pages: \"$ct\" vs \"$ctype\""
  n=$(grep -o '"developerName":"customers"' "$TMP/res/$off.json" | wc -l)
  [ "$n" = "$PAGE" ] || die "the page at offset $off has $n objects (expected $PAGE)"
  first=$(grep -o "$idre" "$TMP/res/$off.json" | sed -n 1p | grep -o '[0-9]*"$' | tr -d '"')
  [ "$first" = $((off + 1)) ] || die "the page at offset $off starts with id $first (expected $((off + 1)))"
  more=$([ "$p" -lt $((NPAGES - 1)) ] && echo true || echo false)
  grep -q "\"hasMoreResults\":$more" "$TMP/res/$off.json" || die "the page at offset $off does not say hasMoreResults:$more"
  total_bytes=$((total_bytes + $(wc -c <"$TMP/res/$off.json")))
done
for ((p = 0; p < NPAGES; p++)); do # a second pass must give the same bytes, or nginx could not stand in
  off=$((p * PAGE))
  read -r st _ <<<"$(call "$SURL$DATA_PATH" "$TMP/req/$off.json" "$TMP/res2/$off.json" "b:$TOKEN")" || die "curl to sluice"
  [ "$st" = 200 ] && cmp -s "$TMP/res/$off.json" "$TMP/res2/$off.json" ||
    die "two identical Loads at offset $off gave different bytes"
done
read -r st _ <<<"$(call "$SURL$DATA_PATH" "$TMP/req/0.json" "$TMP/wrong.body" "b:slt_wrong")" || die "curl to sluice"
[ "$st" = 401 ] || die "a wrong token got HTTP $st (expected 401)"
say "sluice answers the $NPAGES pages with 200 $ctype, $PAGE objects each, $total_bytes bytes in all (same bytes twice); a wrong token gets 401"

# ---------------------------------------------------------------- nginx with the same bytes
NPORT=$(pick_port "$SPORT") || die "no free port"
mkdir -p "$TMP/nginx/htdocs"
cp -r "$TMP/res" "$TMP/nginx/htdocs/pages"
chmod -R a+rX "$TMP/nginx/htdocs"
# Static files answer POST with 405; error_page turns that into an internal GET of the same file,
# answered 200 with the file's bytes (sendfile). The request body (about 600 bytes) is discarded.
start_nginx <<EOF
    location /pages/ {
      root $TMP/nginx/htdocs;
      default_type "$ctype";
      error_page 405 =200 \$uri;
    }
EOF
NURL="http://127.0.0.1:$NPORT"
for ((p = 0; p < NPAGES; p++)); do
  off=$((p * PAGE))
  read -r st nct <<<"$(call "$NURL/pages/$off.json" "$TMP/req/$off.json" "$TMP/nginx.body" "b:$TOKEN")" || die "curl to nginx"
  [ "$st" = 200 ] || die "nginx answered $st to POST /pages/$off.json"
  [ "$nct" = "$ctype" ] || die "nginx's Content-Type \"$nct\" differs from sluice's \"$ctype\""
  cmp -s "$TMP/res/$off.json" "$TMP/nginx.body" || die "nginx's body for offset $off differs from sluice's"
done
say "nginx (port $NPORT) answers POST /pages/<offset>.json with 200 $ctype and the same bytes for all $NPAGES pages"

# ---------------------------------------------------------------- the runs
export PAGES_DIR="$TMP" PAGES_COUNT="$NPAGES" PAGES_SIZE="$PAGE"
BENCH_AUTH=$(printf 'b:%s' "$TOKEN" | base64 -w0)
export BENCH_AUTH
LUA="$HERE/lib/pages.lua"
tck=$(getconf CLK_TCK)

measure() { # SERVER URL -> sets SEQ_<SERVER>, PAR_<SERVER>, CPU_<SERVER> (ms of server CPU per page at c=50)
  local who=$1 url=$2 pid seq par c0 c1
  pid=$([ "$who" = sluice ] && echo "$SLUICE_PID" || echo "$NGINX_PID")
  export PAGES_TARGET=$who
  say "$who: warm-up ${WARM}s at c=$CONNS, then wrk -t1 -c1 -d${SEQ_SECS}s, then wrk -t$THREADS -c$CONNS -d${SECS}s"
  BENCH_LABEL=warmup run_wrk "$who-warm" -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$LUA" "$url" >/dev/null
  check_quiet
  [ "$who" = sluice ] && [ -n "${BENCH_PERF_SEQ:-}" ] && BENCH_PERF="$BENCH_PERF_SEQ" perf_start "$SEQ_SECS"
  seq=$(BENCH_LABEL="$who-c1" run_wrk "$who-c1" -t1 -c1 -d"${SEQ_SECS}s" --latency -s "$LUA" "$url")
  [ "$who" = sluice ] && [ -n "${BENCH_PERF_SEQ:-}" ] && BENCH_PERF="$BENCH_PERF_SEQ" perf_finish
  check_quiet
  c0=$(cpu_ticks "$pid")
  [ "$who" = sluice ] && perf_start "$SECS"
  par=$(BENCH_LABEL="$who-c$CONNS" run_wrk "$who-c$CONNS" -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$url")
  c1=$(cpu_ticks "$pid")
  [ "$who" = sluice ] && perf_finish
  kill -0 "$pid" 2>/dev/null || die "$who died during the runs"
  printf -v "SEQ_$who" '%s' "$seq"
  printf -v "PAR_$who" '%s' "$par"
  printf -v "CPU_$who" '%s' "$(awk -v t=$((c1 - c0)) -v hz="$tck" -v n="$(field "$par" requests)" \
    'BEGIN { printf "%.3f", n ? 1000 * (t / hz) / n : 0 }')"
}
measure nginx "$NURL"
measure sluice "$SURL"
RSS=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")
HWM=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")

# ---------------------------------------------------------------- report
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.2f", u / 1000 }'; }
per100() { # BENCH line -> wall-clock ms per 100 pages (= per full walk of the table)
  awk -v s="$(field "$1" seconds)" -v n="$(field "$1" requests)" -v k="$NPAGES" 'BEGIN { printf "%.1f", n ? 1000 * s * k / n : 0 }'
}
mbps() { awk -v b="$(field "$1" bytes)" -v s="$(field "$1" seconds)" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
n_seq=$(per100 "$SEQ_nginx"); s_seq=$(per100 "$SEQ_sluice")
seq_x=$(awk -v a="$s_seq" -v b="$n_seq" 'BEGIN { printf "%.1f", a / b }')
par_pct=$(awk -v a="$(field "$PAR_sluice" rps)" -v b="$(field "$PAR_nginx" rps)" 'BEGIN { printf "%.1f", 100 * a / b }')
v1=$(awk -v x="$seq_x" -v t="$TARGET_X" 'BEGIN { print (x <= t ? "PASS" : "FAIL") }')

echo
echo "Data paging: $ROWS rows in pages of $PAGE through a table data action — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "request: POST $DATA_PATH, ObjectDataRequest ~$(wc -c <"$TMP/req/0.json") bytes, Basic auth; response: $PAGE objects × 5 properties,"
echo "  $total_bytes bytes for all $NPAGES pages (avg $((total_bytes / NPAGES)) bytes) $ctype; nginx serves each page's captured bytes"
echo "c=1: wrk -t1 -c1 -d${SEQ_SECS}s walking offsets 0..$(((NPAGES - 1) * PAGE)) in order; c=$CONNS: wrk -t$THREADS -c$CONNS -d${SECS}s (after a ${WARM}s warm-up)"
busy_line
echo
printf '%-18s %16s %8s %12s %12s | %12s %10s %10s %10s %9s\n' "server" "c=1 ms/100 pages" "walks" "mean ms/pg" "p99 ms/pg" \
  "c=$CONNS pages/s" "p50 ms" "p99 ms" "MB/s out" "CPU ms/pg"
for who in nginx sluice; do
  s_line=SEQ_$who; p_line=PAR_$who; c_var=CPU_$who
  printf '%-18s %16s %8s %12s %12s | %12s %10s %10s %10s %9s\n' "$who$([ "$who" = nginx ] && echo ' (1 worker)')" \
    "$(per100 "${!s_line}")" "$(awk -v n="$(field "${!s_line}" requests)" -v k="$NPAGES" 'BEGIN { printf "%.1f", n / k }')" \
    "$(ms "$(field "${!s_line}" mean_us)")" "$(ms "$(field "${!s_line}" p99_us)")" \
    "$(field "${!p_line}" rps)" "$(ms "$(field "${!p_line}" p50_us)")" "$(ms "$(field "${!p_line}" p99_us)")" \
    "$(mbps "${!p_line}")" "${!c_var}"
done
echo
echo "sluice: RSS $RSS after the runs (peak $HWM); sluice pages/s at c=$CONNS = $par_pct % of nginx's"
echo
printf '%-56s %-22s %s\n' "target" "measured" "verdict"
printf '%-56s %-22s %s\n' "c=1: sluice's time for all $NPAGES pages <= ${TARGET_X}x nginx's" "${seq_x}x ($s_seq vs $n_seq ms)" "$v1"
printf '%-56s %-22s %s\n' "c=$CONNS: pages/s (no target; reported)" "$par_pct % of nginx" "-"

bad=0
for line in "$SEQ_nginx" "$PAR_nginx" "$SEQ_sluice" "$PAR_sluice"; do
  for k in non2xx connect_err read_err write_err timeouts; do
    v=$(field "$line" "$k")
    if [ "$v" != 0 ]; then echo "$BENCH_NAME: $(field "$line" label): $k=$v" >&2; bad=1; fi
  done
done
[ "$bad" = 0 ] || { echo "$BENCH_NAME: FAILED: errors during the runs (above); the numbers are not valid" >&2; exit 1; }
exit 0
