-- wrk script for the abuse client of bench/msg_action.sh: the same POST as post.lua but with a
-- wrong token, throttled with delay() to FLOOD_RATE requests/s in total over all connections,
-- counting the status codes it gets back.
--   BENCH_BODY   path of the request body
--   FLOOD_AUTH   base64 of "user:wrong-token"
--   FLOOD_RATE   total requests/s to aim for (default 500)
--   FLOOD_CONNS  connections wrk was started with (-c; default 4)
local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open BENCH_BODY " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = "POST"
wrk.body = slurp(os.getenv("BENCH_BODY"))
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("FLOOD_AUTH"), "FLOOD_AUTH is not set")

local rate = tonumber(os.getenv("FLOOD_RATE") or "500")
-- wrk is started with -t1, so this thread owns all the connections.
local conns = tonumber(os.getenv("FLOOD_CONNS") or "4")
-- delay() is the pause before each request on a connection, so a connection's period is
-- gap + round trip. Start from the gap that ignores the round trip, then correct it once a
-- second from the achieved rate (os.time() has 1 s resolution; that is enough here).
gap = conns * 1000 / rate -- global: done() reads the final value with thread:get
local sec, cnt, settled = os.time(), 0, false

function delay()
  local g = math.floor(gap)
  if math.random() < gap - g then
    g = g + 1
  end
  return g
end

-- per-thread counters (globals, so done() can read them with thread:get)
n401, nother, n2xx = 0, 0, 0
function response(status, headers, body)
  if status == 401 then
    n401 = n401 + 1
  elseif status >= 200 and status < 300 then
    n2xx = n2xx + 1
  else
    nother = nother + 1
  end
  cnt = cnt + 1
  local now = os.time()
  if now ~= sec then
    if settled and cnt > 0 then -- the first window is a partial second: skip it
      local period = conns * 1000 * (now - sec) / cnt -- ms per request per connection
      local rtt = math.max(0, period - gap)
      gap = math.max(0, math.min(1000, conns * 1000 / rate - rtt))
    end
    settled = true
    sec, cnt = now, 0
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local a, b, c, g = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    g = t:get("gap")
    a = a + t:get("n401")
    b = b + t:get("n2xx")
    c = c + t:get("nother")
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "FLOOD requests=%d seconds=%.3f rps=%.1f target_rps=%d gap_ms=%.2f p50_us=%d p99_us=%d status401=%d status2xx=%d "
      .. "other_status=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, secs, summary.requests / secs, rate, g, latency:percentile(50), latency:percentile(99),
    a, b, c, e.connect, e.read, e.write, e.timeout))
end
