#!/usr/bin/env bash
# Workload W1: message-action round trip (see bench/README.md).
#
#   bench/msg_action.sh BIN        e.g. bench/msg_action.sh build-release/sluice   (or: make bench)
#
# In one run, on 127.0.0.1 only: serves bench/components with BIN (Basic auth on), captures the
# exact response of one "Map Order" call, serves the same bytes from an unprivileged nginx
# (1 worker), drives both with the same wrk POST (-t2 -c50, 10 s, after a 3 s warm-up), then
# drives sluice again while a second wrk floods wrong passwords at a throttled rate. Prints a
# summary with PASS/FAIL against the targets. Exits 0 when everything ran (even if a target is
# missed: this is a report), non-zero when something could not run or answered wrongly.
#
# Knobs (environment): BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (3), BENCH_CONNS (50),
# BENCH_THREADS (2), BENCH_FLOOD_RATE (500 req/s), BENCH_FLOOD_CONNS (4),
# SLUICE_ARGS (extra serve flags, e.g. "--workers 2 --http-threads 1"), BENCH_KEEP=1 (keep the
# temp dir), BENCH_PERF=FILE (perf record -g the sluice server during the baseline run and
# write `perf report` to FILE).
set -euo pipefail

usage() { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -x "$1" ] || { echo "msg_action: $1 is not an executable (build it first: make bench)" >&2; exit 2; }

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REQ="$HERE/request.json"
COMPONENTS="$HERE/components"
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP_SECONDS:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-2}
FLOOD_RATE=${BENCH_FLOOD_RATE:-500}
FLOOD_CONNS=${BENCH_FLOOD_CONNS:-4}
ACTION_PATH="/fs/bench/actions/Map%20Order"

for tool in wrk nginx curl base64 awk; do
  command -v "$tool" >/dev/null || { echo "msg_action: $tool is not installed (scripts/install-deps.sh bench)" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
chmod 755 "$TMP" # nginx workers may run as another user when started as root
BENCH_NAME=msg_action
# shellcheck source=bench/lib/common.sh
. "$HERE/lib/common.sh" # stop_pid, die, say, pick_port, run_wrk, field, machine_busy, cpu_ticks, check_quiet …
FLOOD_PID=""

cleanup() {
  stop_pid "$FLOOD_PID"
  stop_pid "$SLUICE_PID"
  stop_pid "$NGINX_PID"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "msg_action: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- sluice
SPORT=${BENCH_SLUICE_PORT:-$(pick_port)} || die "no free port"
DATA="$TMP/data"
say "sluice: $BIN (data $DATA, port $SPORT)"
TOKEN=$("$BIN" user add bench --data "$DATA" 2>"$TMP/user.log") || { cat "$TMP/user.log" >&2; die "sluice user add"; }
[ -n "$TOKEN" ] || die "sluice user add printed no token"
# shellcheck disable=SC2086 # SLUICE_ARGS is a list of flags
"$BIN" serve --listen "127.0.0.1:$SPORT" --data "$DATA" --deploy "$COMPONENTS" --log-level warn ${SLUICE_ARGS:-} \
  >"$TMP/sluice.log" 2>&1 &
SLUICE_PID=$!
up=0
for _ in $(seq 100); do
  kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice exited during start-up"
  if curl -sf -o /dev/null "http://127.0.0.1:$SPORT/healthz"; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || die "sluice did not answer /healthz within 10 s"

SURL="http://127.0.0.1:$SPORT$ACTION_PATH"
call() { # URL OUT USER:TOKEN -> "status content-type"
  curl -sS -o "$2" -w '%{http_code} %{content_type}' -u "$3" -H 'Content-Type: application/json' \
    -H 'Accept: application/json' --data-binary "@$REQ" "$1"
}
read -r st ctype <<<"$(call "$SURL" "$TMP/sluice.body" "bench:$TOKEN")" || die "curl to sluice"
[ "$st" = 200 ] || { cat "$TMP/sluice.body" >&2; echo >&2; die "sluice answered $st to the action call (expected 200)"; }
grep -q '"invokeType":"FORWARD"' "$TMP/sluice.body" || die "sluice's answer is not a FORWARD ServiceResponse: $(head -c 300 "$TMP/sluice.body")"
read -r st2 _ <<<"$(call "$SURL" "$TMP/sluice.body2" "bench:$TOKEN")" || die "curl to sluice"
[ "$st2" = 200 ] && cmp -s "$TMP/sluice.body" "$TMP/sluice.body2" ||
  die "two identical calls gave different bytes; nginx could not stand in for the same response"
read -r st _ <<<"$(call "$SURL" "$TMP/wrong.body" "bench:slt_wrong")" || die "curl to sluice"
[ "$st" = 401 ] || die "a wrong token got HTTP $st (expected 401)"
say "sluice answers 200 $ctype, $(wc -c <"$TMP/sluice.body") bytes; a wrong token gets 401"

# ---------------------------------------------------------------- nginx with the same bytes
NPORT=$(pick_port "$SPORT") || die "no free port"
# The body as an nginx single-quoted string: escape \ and ', and write $ through a variable.
esc=$(sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g" -e 's/\$/${dollar}/g' "$TMP/sluice.body")
[ "$(wc -l <"$TMP/sluice.body")" -eq 0 ] || die "the response has newlines; the nginx return string does not handle them"
NGINX_HTTP_EXTRA='  geo $dollar { default "$"; }'
start_nginx <<EOF
    location = "/fs/bench/actions/Map Order" {
      default_type "$ctype";
      return 200 '$esc';
    }
EOF
NURL="http://127.0.0.1:$NPORT$ACTION_PATH"
up=0
for _ in $(seq 100); do
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited during start-up"
  if read -r st nctype <<<"$(call "$NURL" "$TMP/nginx.body" "bench:$TOKEN" 2>/dev/null)" && [ "$st" = 200 ]; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || die "nginx did not answer POST with 200 within 10 s"
cmp -s "$TMP/sluice.body" "$TMP/nginx.body" || die "nginx's body differs from sluice's (see $TMP/*.body)"
[ "$nctype" = "$ctype" ] || die "nginx's Content-Type \"$nctype\" differs from sluice's \"$ctype\""
say "nginx (port $NPORT) answers POST with 200 $nctype and the same $(wc -c <"$TMP/nginx.body") bytes"

# ---------------------------------------------------------------- the runs
BUSY_LIST=""
BUSY=0
export BENCH_BODY="$REQ" BENCH_TYPE="application/json"
BENCH_AUTH=$(printf 'bench:%s' "$TOKEN" | base64 -w0)
export BENCH_AUTH
export FLOOD_AUTH FLOOD_RATE FLOOD_CONNS
FLOOD_AUTH=$(printf 'bench:%s' "slt_0000000000000000000000000000000000000000000000000000000000000000" | base64 -w0)
WRK_GOOD=(-t"$THREADS" -c"$CONNS" --latency -s "$HERE/lib/post.lua")

say "nginx: warm-up ${WARM}s, then wrk -t$THREADS -c$CONNS -d${SECS}s"
BENCH_LABEL=warmup run_wrk nginx-warm "${WRK_GOOD[@]}" -d"${WARM}s" "$NURL" >/dev/null
check_quiet
NGX=$(BENCH_LABEL=nginx run_wrk nginx "${WRK_GOOD[@]}" -d"${SECS}s" "$NURL")

say "sluice: warm-up ${WARM}s, then wrk -t$THREADS -c$CONNS -d${SECS}s"
BENCH_LABEL=warmup run_wrk sluice-warm "${WRK_GOOD[@]}" -d"${WARM}s" "$SURL" >/dev/null
check_quiet
cpu0=$(cpu_ticks "$SLUICE_PID")
PERF_PID=""
if [ -n "${BENCH_PERF:-}" ] && command -v perf >/dev/null; then
  perf record -g -o "$TMP/perf.data" -p "$SLUICE_PID" -- sleep "$SECS" >"$TMP/perf.log" 2>&1 &
  PERF_PID=$!
fi
SLU=$(BENCH_LABEL=sluice run_wrk sluice "${WRK_GOOD[@]}" -d"${SECS}s" "$SURL")
cpu1=$(cpu_ticks "$SLUICE_PID")
if [ -n "$PERF_PID" ]; then
  wait "$PERF_PID" || true
  perf report -i "$TMP/perf.data" --no-children --percent-limit 0.5 --stdio >"$BENCH_PERF" 2>/dev/null &&
    say "perf report written to $BENCH_PERF"
fi

say "sluice under a flood of wrong passwords (~$FLOOD_RATE req/s on $FLOOD_CONNS connections): wrk -t$THREADS -c$CONNS -d${SECS}s"
check_quiet
timeout $((SECS + 30)) wrk -t1 -c"$FLOOD_CONNS" -d"$((SECS + 2))s" --latency -s "$HERE/lib/flood.lua" "$SURL" \
  >"$TMP/flood.out" 2>&1 &
FLOOD_PID=$!
sleep 1
kill -0 "$FLOOD_PID" 2>/dev/null || { cat "$TMP/flood.out" >&2; die "the flood wrk did not start"; }
UND=$(BENCH_LABEL=sluice-flood run_wrk sluice-flood "${WRK_GOOD[@]}" -d"${SECS}s" "$SURL")
wait "$FLOOD_PID" || { cat "$TMP/flood.out" >&2; die "the flood wrk failed"; }
FLOOD_PID=""
FLD=$(grep -E '^FLOOD ' "$TMP/flood.out" | tail -n 1) || { cat "$TMP/flood.out" >&2; die "the flood wrk printed no summary"; }

RSS=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")
HWM=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$SLUICE_PID/status")
kill -0 "$SLUICE_PID" 2>/dev/null || die "sluice died during the runs"

# ---------------------------------------------------------------- report
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.2f", u / 1000 }'; }
row() { # LABEL LINE
  printf '%-22s %12s %10s %10s %10s %10s\n' "$1" "$(field "$2" rps)" "$(ms "$(field "$2" p50_us)")" \
    "$(ms "$(field "$2" p90_us)")" "$(ms "$(field "$2" p99_us)")" "$(ms "$(field "$2" max_us)")"
}
n_rps=$(field "$NGX" rps); s_rps=$(field "$SLU" rps); f_rps=$(field "$UND" rps)
s_p99=$(field "$SLU" p99_us); f_p99=$(field "$UND" p99_us)
s_req=$(field "$SLU" requests)
ratio=$(awk -v a="$s_rps" -v b="$n_rps" 'BEGIN { printf "%.1f", 100 * a / b }')
p99x=$(awk -v a="$f_p99" -v b="$s_p99" 'BEGIN { printf "%.2f", a / b }')
tck=$(getconf CLK_TCK)
cpu_k=$(awk -v t=$((cpu1 - cpu0)) -v hz="$tck" -v n="$s_req" 'BEGIN { printf "%.1f", n ? 1000 * (t / hz) * 1000 / n : 0 }')
verdict() { awk -v c="$1" 'BEGIN { print (c ? "PASS" : "FAIL") }'; }
v1=$(verdict "$(awk -v r="$ratio" 'BEGIN { print (r >= 15) }')")
v2=$(verdict "$(awk -v p="$s_p99" 'BEGIN { print (p < 10000) }')")
v3=$(verdict "$(awk -v x="$p99x" 'BEGIN { print (x <= 2) }')")

echo
echo "W1 message-action round trip — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "request: POST $ACTION_PATH, $(wc -c <"$REQ") bytes, Basic auth; response: $(wc -c <"$TMP/sluice.body") bytes $ctype"
echo "wrk -t$THREADS -c$CONNS -d${SECS}s --latency (after a ${WARM}s warm-up); client and servers share the cores"
echo "machine busy in the second before each run (servers idle; should be ~0%):$BUSY_LIST$([ "$BUSY" -le 10 ] ||
  echo "  <-- WARNING: something else was using the CPU; these numbers are low")"
echo
printf '%-22s %12s %10s %10s %10s %10s\n' "server" "req/s" "p50 ms" "p90 ms" "p99 ms" "max ms"
row "nginx (1 worker)" "$NGX"
row "sluice" "$SLU"
row "sluice + bad-pw flood" "$UND"
echo
echo "flood: $(field "$FLD" requests) requests in $(field "$FLD" seconds) s = $(field "$FLD" rps) req/s (aimed at $FLOOD_RATE on $FLOOD_CONNS connections);" \
  "401: $(field "$FLD" status401), 2xx: $(field "$FLD" status2xx), other: $(field "$FLD" other_status)," \
  "socket errors: connect $(field "$FLD" connect_err) read $(field "$FLD" read_err) write $(field "$FLD" write_err) timeout $(field "$FLD" timeouts);" \
  "its own p50 $(ms "$(field "$FLD" p50_us)") ms, p99 $(ms "$(field "$FLD" p99_us)") ms"
echo "sluice: RSS $RSS after the runs (peak $HWM); CPU $cpu_k ms per 1k requests in the baseline run"
echo
printf '%-48s %-22s %s\n' "target" "measured" "verdict"
printf '%-48s %-22s %s\n' "sluice req/s >= 15% of nginx (c=$CONNS)" "$ratio %" "$v1"
printf '%-48s %-22s %s\n' "sluice p99 < 10 ms (c=$CONNS)" "$(ms "$s_p99") ms" "$v2"
printf '%-48s %-22s %s\n' "p99 under the flood <= 2x baseline p99" "${p99x}x ($(ms "$f_p99") ms)" "$v3"
echo "(sluice req/s under the flood: $f_rps = $(awk -v a="$f_rps" -v b="$s_rps" 'BEGIN { printf "%.0f", 100 * a / b }') % of its baseline)"

# A run whose good client saw errors measured something else than the workload: report it as a failure to run.
bad=0
for line in "$NGX" "$SLU" "$UND"; do
  for k in non2xx connect_err read_err write_err timeouts; do
    v=$(field "$line" "$k")
    if [ "$v" != 0 ]; then echo "msg_action: $(field "$line" label): $k=$v" >&2; bad=1; fi
  done
done
if [ "$(field "$FLD" status401)" = 0 ] || [ "$(field "$FLD" status2xx)" != 0 ]; then
  echo "msg_action: the flood did not get 401s only" >&2; bad=1
fi
[ "$bad" = 0 ] || { echo "msg_action: FAILED: errors during the runs (above); the numbers are not valid" >&2; exit 1; }
exit 0
