-- wrk script for the good client of bench/msg_action.sh: POSTs a ServiceRequest with HTTP Basic
-- auth and prints one machine-readable summary line at the end.
--   BENCH_BODY  path of the request body (bench/request.json)
--   BENCH_AUTH  base64 of "user:token" (no Authorization header when unset; msg_action.sh
--               sends it to nginx too, so both servers receive the same request bytes)
--   BENCH_TYPE  Content-Type of the request (default application/json)
--   BENCH_LABEL label for the summary line
local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open BENCH_BODY " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE") or "application/json"
wrk.headers["Accept"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = "Basic " .. auth
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH label=%s requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d "
      .. "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    os.getenv("BENCH_LABEL") or "run", summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
