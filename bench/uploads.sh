#!/usr/bin/env bash
# Uploads: 10 MB multipart uploads through a Flow Service file resource (see bench/README.md).
#
#   bench/uploads.sh BIN           e.g. bench/uploads.sh build-release/sluice
#
# In one run, on 127.0.0.1 only: serves a Flow Service with one file resource ("uploads", no
# process, so an upload is stored under the data dir and answered with a $File object) with BIN
# (Basic auth on), then
#   1. memory: samples sluice's VmRSS every 50 ms while four 200 MB uploads run at once (curl),
#      and reports the baseline, the peak and the growth (target: growth < 8 MB);
#   2. throughput: drives sluice and an unprivileged nginx that reads and throws away the same
#      uploads with the same wrk POST of a 10 MB multipart body at 4 connections (-t2 -c4, 10 s,
#      after a 3 s warm-up), and reports MB/s for both.
# Prints a summary with PASS/FAIL against the target. Exits 0 when everything ran (even if the
# target is missed: this is a report), non-zero when something could not run or answered wrongly.
# Stored uploads are deleted as the run goes (a cleaner removes files older than 1 s) and the
# temp dir, with the bodies, is removed on exit: the run needs up to about 2 GB of disk.
#
# Knobs (environment): BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (3), BENCH_CONNS (4),
# BENCH_THREADS (2), BENCH_BIG_MB (200: size of each upload of the memory test), BENCH_BIG_N (4:
# uploads at once), SLUICE_ARGS (extra serve flags), BENCH_KEEP=1 (keep the temp dir),
# BENCH_PERF=FILE (perf record sluice during its throughput run and write `perf report` to FILE),
# BENCH_PERF_OPTS (perf record options; default -g).
set -euo pipefail

BENCH_NAME=uploads
usage() { echo "usage: $0 PATH/TO/sluice" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -x "$1" ] || { echo "$BENCH_NAME: $1 is not an executable (build it first: make bench)" >&2; exit 2; }

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP_SECONDS:-3}
CONNS=${BENCH_CONNS:-4}
THREADS=${BENCH_THREADS:-2}
BIG_MB=${BENCH_BIG_MB:-200}
BIG_N=${BENCH_BIG_N:-4}
MB=1000000
SMALL=$((10 * MB))
BIG=$((BIG_MB * MB))
TARGET_GROWTH_KB=$((8 * 1024)) # 8 MB of RSS growth, in kB as /proc reports it (8 MiB)
UPLOAD_PATH="/fs/files/file/content"
BOUNDARY="----sluicebench7d3f0a9c1b2e4f65"
CTYPE="multipart/form-data; boundary=$BOUNDARY"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
chmod 755 "$TMP" # nginx workers may run as another user when started as root
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
need_tools wrk nginx curl base64 awk cmp head
CLEANER_PID=""
SAMPLER_PID=""
CURL_PIDS=()

cleanup() {
  local p
  for p in "${CURL_PIDS[@]}"; do stop_pid "$p"; done
  stop_pid "$SAMPLER_PID"
  stop_pid "$CLEANER_PID"
  stop_pid "$PERF_PID"
  stop_pid "$SLUICE_PID"
  stop_pid "$NGINX_PID"
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    rm -f "$TMP"/body-*.bin "$TMP"/payload-*.bin
    rm -rf "$TMP/data/files"
    echo "$BENCH_NAME: kept $TMP (without the bodies and the stored uploads)" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the bodies
# A multipart/form-data body as a Flow engine (or a browser) sends it: a FileDataRequest JSON
# part, then the file part. The file is random bytes (so it has CR and '-' like real files).
make_body() { # PAYLOAD OUT
  {
    printf -- '--%s\r\nContent-Disposition: form-data; name="FileDataRequest"\r\nContent-Type: application/json\r\n\r\n' "$BOUNDARY"
    printf '{"resourcePath":"uploads"}\r\n'
    printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="payload.bin"\r\nContent-Type: application/octet-stream\r\n\r\n' "$BOUNDARY"
    cat "$1"
    printf -- '\r\n--%s--\r\n' "$BOUNDARY"
  } >"$2"
}
say "making the bodies: a ${SMALL}-byte and a ${BIG}-byte file in multipart/form-data"
head -c "$SMALL" /dev/urandom >"$TMP/payload-small.bin"
make_body "$TMP/payload-small.bin" "$TMP/body-small.bin"
[ $((BIG % SMALL)) = 0 ] || die "BENCH_BIG_MB must be a multiple of 10"
for _ in $(seq $((BIG / SMALL))); do cat "$TMP/payload-small.bin"; done >"$TMP/payload-big.bin"
make_body "$TMP/payload-big.bin" "$TMP/body-big.bin"
rm -f "$TMP/payload-big.bin"
SMALL_BODY=$(wc -c <"$TMP/body-small.bin")
BIG_BODY=$(wc -c <"$TMP/body-big.bin")

# ---------------------------------------------------------------- sluice
COMPONENTS="$TMP/components"
mkdir -p "$COMPONENTS"
printf '%s\n' '{"component":"flowservice","name":"F","externalName":"files","fileResources":[{"path":"uploads","maxUploadBytes":300000000}]}' \
  >"$COMPONENTS/files.json"
SPORT=${BENCH_SLUICE_PORT:-$(pick_port)} || die "no free port"
DATA="$TMP/data"
STORE="$DATA/files/files" # <data>/files/<externalName>: <id>.bin and <id>.json per upload
say "sluice: $BIN (data $DATA, port $SPORT)"
TOKEN=$("$BIN" user add b --data "$DATA" 2>"$TMP/user.log") || { cat "$TMP/user.log" >&2; die "sluice user add"; }
[ -n "$TOKEN" ] || die "sluice user add printed no token"
start_sluice
SURL="http://127.0.0.1:$SPORT$UPLOAD_PATH"

upload() { # URL BODY OUT USER:TOKEN [CURL-ARGS] -> "status size_upload time_total" (streams the file: -T)
  curl -sS -o "$3" -w '%{http_code} %{size_upload} %{time_total}' -u "$4" -X POST \
    -H "Content-Type: $CTYPE" -H 'Accept: application/json' -H 'Expect:' -T "$2" "${@:5}" "$1"
}
file_id() { grep -o '"developerName":"Id","contentType":"ContentString","contentValue":"[^"]*"' "$1" | sed -n 1p | sed 's/.*"contentValue":"//; s/"$//'; }

read -r st sz t <<<"$(upload "$SURL" "$TMP/body-small.bin" "$TMP/sluice.body" "b:$TOKEN")" || die "curl to sluice"
[ "$st" = 200 ] || { head -c 500 "$TMP/sluice.body" >&2; echo >&2; die "sluice answered $st to a 10 MB upload"; }
grep -q '"developerName":"\$File"' "$TMP/sluice.body" || die "the answer is not a \$File object: $(head -c 300 "$TMP/sluice.body")"
id=$(file_id "$TMP/sluice.body")
[ -n "$id" ] && [ -f "$STORE/$id.bin" ] || die "the upload's file ($id) is not under $STORE"
cmp -s "$TMP/payload-small.bin" "$STORE/$id.bin" || die "the stored file differs from the uploaded one"
rm -f "$STORE/$id.bin" "$STORE/$id.json"
printf 'tiny' >"$TMP/payload-tiny.bin"
make_body "$TMP/payload-tiny.bin" "$TMP/body-tiny.bin"
read -r st _ <<<"$(upload "$SURL" "$TMP/body-tiny.bin" "$TMP/wrong.body" "b:slt_wrong")" || die "curl to sluice"
[ "$st" = 401 ] || die "a wrong token got HTTP $st (expected 401)"
say "sluice stores a 10 MB upload byte for byte ($sz bytes sent in ${t}s) and answers 200 with a \$File; a wrong token gets 401"

# ---------------------------------------------------------------- 1. memory: four 200 MB uploads at once
rss() { local k v _; while read -r k v _; do [ "$k" = VmRSS: ] && { echo "$v"; return; }; done <"/proc/$SLUICE_PID/status"; echo 0; }
sleep 1
base=$(rss) # after start-up and one 10 MB upload, with the server idle
say "memory: sluice VmRSS $base kB; now $BIG_N uploads of $BIG_BODY bytes at once, VmRSS sampled every 50 ms"
(
  peak=0
  while :; do
    v=$(rss)
    [ "$v" -gt "$peak" ] && peak=$v
    echo "$peak $v" >"$TMP/rss.now"
    echo "$v" >>"$TMP/rss.samples"
    sleep 0.05
  done
) &
SAMPLER_PID=$!
sleep 0.3
t0=$(date +%s%N)
for i in $(seq "$BIG_N"); do
  timeout 180 curl -sS -o "$TMP/big$i.body" -w '%{http_code} %{size_upload} %{time_total}' -u "b:$TOKEN" -X POST \
    -H "Content-Type: $CTYPE" -H 'Expect:' -T "$TMP/body-big.bin" "$SURL" >"$TMP/big$i.res" 2>"$TMP/big$i.err" &
  CURL_PIDS+=($!)
done
for p in "${CURL_PIDS[@]}"; do wait "$p" || true; done
t1=$(date +%s%N)
CURL_PIDS=()
sleep 0.5 # a few samples after the answers
stop_pid "$SAMPLER_PID"
SAMPLER_PID=""
read -r peak last <"$TMP/rss.now"
samples=$(wc -l <"$TMP/rss.samples")
growth=$((peak - base))
big_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
for i in $(seq "$BIG_N"); do
  st="" sz="" t=""
  read -r st sz t <"$TMP/big$i.res" || true # curl's -w line has no newline
  [ -n "$st" ] || die "upload $i of the memory test printed nothing: $(cat "$TMP/big$i.err")"
  [ "$st" = 200 ] && [ "$sz" = "$BIG_BODY" ] || die "upload $i of the memory test: HTTP $st, $sz bytes sent: $(head -c 300 "$TMP/big$i.body")"
  id=$(file_id "$TMP/big$i.body")
  [ -n "$id" ] && [ "$(stat -c %s "$STORE/$id.bin" 2>/dev/null)" = "$BIG" ] || die "upload $i was not stored with $BIG bytes"
done
rm -rf "${STORE:?}"/*
say "memory: $BIG_N x $BIG_BODY bytes stored in ${big_secs}s; VmRSS base $base kB, peak $peak kB ($samples samples)"

# ---------------------------------------------------------------- nginx, reading and dropping the same uploads
NPORT=$(pick_port "$SPORT") || die "no free port"
mkdir -p "$TMP/nginx/htdocs"
: >"$TMP/nginx/htdocs/discard"
printf '{}' >"$TMP/nginx/htdocs/ok.json"
printf '{}' >"$TMP/nginx/htdocs/ok-check.json"
chmod -R a+rX "$TMP/nginx/htdocs"
# `return 200` alone would answer before reading the body and discard it afterwards: wrk then
# stalls (it writes the rest of the request and waits for an answer that already came), and the
# answer would not wait for the upload. mirror_request_body reads the whole body (into a 16 MB
# memory buffer: a 10 MB upload never touches the disk) before the content phase; the static
# handler answers POST with 405 and error_page turns that into 200 '{}'. The mirror subrequest is
# an internal 204 that does nothing with the body.
discard_loc() { # NAME ANSWER-FILE
  cat <<EOF
    location = /$1 {
      client_body_buffer_size 16m;
      mirror /sink;
      mirror_request_body on;
      root $TMP/nginx/htdocs;
      error_page 405 =200 /$2;
    }
EOF
}
: >"$TMP/nginx/htdocs/discard-check"
# /discard-check is /discard with an access log of how long nginx took over each request and how
# many bytes it read: the proof that it read the whole upload before answering. (nginx logs with
# the settings of the location that answers, so the log is on its answer location.)
NGINX_HTTP_EXTRA="  log_format check '\$request_length \$request_time \$status';" start_nginx <<EOF
    client_max_body_size 300m;
$(discard_loc discard ok.json)
$(discard_loc discard-check ok-check.json)
    location = /sink { internal; return 204; }
    location = /ok.json { internal; root $TMP/nginx/htdocs; default_type application/json; }
    location = /ok-check.json { internal; root $TMP/nginx/htdocs; default_type application/json; access_log $TMP/nginx/logs/check.log check; }
EOF
NURL="http://127.0.0.1:$NPORT/discard"
read -r st sz t <<<"$(upload "$NURL" "$TMP/body-small.bin" "$TMP/nginx.body" "b:$TOKEN")" || die "curl to nginx"
[ "$st" = 200 ] && [ "$sz" = "$SMALL_BODY" ] && [ "$(cat "$TMP/nginx.body")" = "{}" ] ||
  die "nginx answered $st after $sz bytes to a 10 MB upload (expected 200 '{}' after $SMALL_BODY)"
# The check: send 10 MB at 50 MB/s (about 0.2 s). nginx must log the whole request length and a
# request time of about 0.2 s (an answer before the body would log ~0 s).
read -r st sz tl <<<"$(upload "$NURL-check" "$TMP/body-small.bin" "$TMP/nginx.body" "b:$TOKEN" --limit-rate 50M)" || die "curl to nginx"
[ "$st" = 200 ] || die "nginx answered $st to the throttled check upload"
read -r st sz tb <<<"$(upload "$NURL-check" "$TMP/body-big.bin" "$TMP/nginx.body" "b:$TOKEN")" || die "curl to nginx"
[ "$st" = 200 ] || die "nginx answered $st to the $BIG_MB MB check upload"
sleep 0.2
len1=0 len2=0 rt1=0 rt2=0
read -r len1 rt1 _ < <(sed -n 1p "$TMP/nginx/logs/check.log") || true
read -r len2 rt2 _ < <(sed -n 2p "$TMP/nginx/logs/check.log") || true
[ "${len1:-0}" -gt "$SMALL_BODY" ] && [ "${len2:-0}" -gt "$BIG_BODY" ] || die "nginx's log shows request lengths $len1 and $len2: it did not read the bodies"
awk -v r="$rt1" -v c="$tl" 'BEGIN { exit !(r >= 0.8 * c) }' || die "nginx answered the throttled upload after ${rt1}s of the ${tl}s it took: before the body"
NGX_CHECK="nginx reads each body before answering: a 10 MB upload sent at 50 MB/s took ${tl}s and nginx logged ${rt1}s and $len1 bytes read; a $BIG_MB MB upload took ${tb}s ($len2 bytes read, in ${rt2}s; over 16 MB nginx buffers to its temp file)"
say "$NGX_CHECK"

# ---------------------------------------------------------------- 2. throughput: 10 MB uploads at c=$CONNS
export BENCH_BODY="$TMP/body-small.bin" BENCH_TYPE="$CTYPE"
BENCH_AUTH=$(printf 'b:%s' "$TOKEN" | base64 -w0)
export BENCH_AUTH
LUA="$HERE/lib/post.lua"
tck=$(getconf CLK_TCK)
start_cleaner() { # deletes sluice's stored uploads older than 1 s, counting them
  (
    while :; do
      find "$STORE" -maxdepth 1 -type f -name '*.bin' ! -newermt '1 second ago' -print -delete 2>/dev/null | wc -l >>"$TMP/cleaned"
      find "$STORE" -maxdepth 1 -type f -name '*.json' ! -newermt '1 second ago' -delete 2>/dev/null
      sleep 0.5
    done
  ) &
  CLEANER_PID=$!
}

measure() { # SERVER URL -> sets RUN_<SERVER>, CPU_<SERVER> (ms of server CPU per upload)
  local who=$1 url=$2 pid line c0 c1
  pid=$([ "$who" = sluice ] && echo "$SLUICE_PID" || echo "$NGINX_PID")
  say "$who: warm-up ${WARM}s, then wrk -t$THREADS -c$CONNS -d${SECS}s with the 10 MB upload"
  BENCH_LABEL=warmup run_wrk "$who-warm" -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$LUA" "$url" >/dev/null
  check_quiet
  c0=$(cpu_ticks "$pid")
  [ "$who" = sluice ] && perf_start "$SECS"
  line=$(BENCH_LABEL="$who" run_wrk "$who" -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$url")
  c1=$(cpu_ticks "$pid")
  [ "$who" = sluice ] && perf_finish
  kill -0 "$pid" 2>/dev/null || die "$who died during the runs"
  printf -v "RUN_$who" '%s' "$line"
  printf -v "CPU_$who" '%s' "$(awk -v t=$((c1 - c0)) -v hz="$tck" -v n="$(field "$line" requests)" \
    'BEGIN { printf "%.2f", n ? 1000 * (t / hz) / n : 0 }')"
}
measure nginx "$NURL"
: >"$TMP/cleaned"
start_cleaner
measure sluice "$SURL"
sleep 1.5
stop_pid "$CLEANER_PID"
CLEANER_PID=""
stored=$(( $(awk '{ s += $1 } END { print s + 0 }' "$TMP/cleaned") + $(find "$STORE" -maxdepth 1 -name '*.bin' | wc -l) ))
rm -rf "${STORE:?}"/* "$DATA/files/.tmp"
RSS=$(status_kb "$SLUICE_PID" VmRSS)
HWM=$(status_kb "$SLUICE_PID" VmHWM)

# ---------------------------------------------------------------- report
ms() { awk -v u="$1" 'BEGIN { if (u == "?") print "?"; else printf "%.1f", u / 1000 }'; }
mbps() { awk -v n="$(field "$1" requests)" -v b="$SMALL_BODY" -v s="$(field "$1" seconds)" 'BEGIN { printf "%.0f", n * b / s / 1e6 }'; }
n_mb=$(mbps "$RUN_nginx"); s_mb=$(mbps "$RUN_sluice")
pct=$(awk -v a="$s_mb" -v b="$n_mb" 'BEGIN { printf "%.1f", 100 * a / b }')
v1=$([ "$growth" -lt "$TARGET_GROWTH_KB" ] && echo PASS || echo FAIL)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo
echo "Uploads through a file resource — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r)"
echo "request: POST $UPLOAD_PATH, multipart/form-data (FileDataRequest part + file part), Basic auth; sluice stores each file under"
echo "  its data dir and answers 200 with a \$File object; nginx reads each body into memory and answers 200 '{}'"
echo "$NGX_CHECK"
busy_line
echo
echo "1. memory: $BIG_N uploads of $BIG_BODY bytes at once with curl (-T, streamed), VmRSS sampled every 50 ms ($samples samples)"
printf '   %-28s %s\n' "baseline (idle, before)" "$base kB ($(mib "$base"))" "peak during the uploads" "$peak kB ($(mib "$peak"))" \
  "growth" "$growth kB ($(mib "$growth"))" "after the uploads" "$last kB" \
  "all $BIG_N done in" "${big_secs} s ($(awk -v n="$BIG_N" -v b="$BIG_BODY" -v s="$big_secs" 'BEGIN { printf "%.0f", n * b / s / 1e6 }') MB/s in total)"
echo
echo "2. throughput: wrk -t$THREADS -c$CONNS -d${SECS}s (after a ${WARM}s warm-up), each request a $SMALL_BODY-byte body"
printf '   %-18s %10s %8s %10s %10s %10s %14s\n' "server" "uploads/s" "MB/s" "p50 ms" "p99 ms" "max ms" "CPU ms/upload"
for who in nginx sluice; do
  l=RUN_$who; c=CPU_$who
  printf '   %-18s %10s %8s %10s %10s %10s %14s\n' "$who$([ "$who" = nginx ] && echo ' (1 worker)')" "$(field "${!l}" rps)" \
    "$(mbps "${!l}")" "$(ms "$(field "${!l}" p50_us)")" "$(ms "$(field "${!l}" p99_us)")" "$(ms "$(field "${!l}" max_us)")" "${!c}"
done
echo "   sluice stored $stored files during its warm-up and run (deleted as it went); RSS after all runs $RSS kB (peak $HWM kB)"
echo
printf '%-56s %-26s %s\n' "target" "measured" "verdict"
printf '%-56s %-26s %s\n' "RSS growth with $BIG_N concurrent $BIG_MB MB uploads < 8 MB" "$(mib "$growth")" "$v1"
printf '%-56s %-26s %s\n' "10 MB uploads at c=$CONNS: MB/s vs nginx (no target; reported)" "$s_mb vs $n_mb MB/s = $pct %" "-"

bad=0
for line in "$RUN_nginx" "$RUN_sluice"; do
  for k in non2xx connect_err read_err write_err timeouts; do
    v=$(field "$line" "$k")
    if [ "$v" != 0 ]; then echo "$BENCH_NAME: $(field "$line" label): $k=$v" >&2; bad=1; fi
  done
done
[ "$stored" -ge "$(field "$RUN_sluice" requests)" ] || { echo "$BENCH_NAME: sluice stored $stored files but answered $(field "$RUN_sluice" requests)" >&2; bad=1; }
[ "$bad" = 0 ] || { echo "$BENCH_NAME: FAILED: errors during the runs (above); the numbers are not valid" >&2; exit 1; }
exit 0
