-- wrk script of bench/data_paging.sh: walks the 100 pages of the customers table in order
-- (offsets 0, 100, ..., 9900, then again from 0), one POST per page, and prints one
-- machine-readable summary line at the end.
--   PAGES_DIR    directory with req/<offset>.json, the ObjectDataRequest of each page
--   PAGES_TARGET "sluice": POST /fs/bench/data with the page's request
--                "nginx":  POST /pages/<offset>.json with the same request body (nginx serves
--                          the bytes sluice answered for that offset)
--   PAGES_COUNT  number of pages (default 100), PAGES_SIZE rows per page (default 100)
--   BENCH_AUTH   base64 of "user:token" (sent to both servers)
--   BENCH_LABEL  label for the summary line
-- Requests are built once in init(), so the client does no per-request work but pick the next.
local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

local dir = assert(os.getenv("PAGES_DIR"), "PAGES_DIR is not set")
local target = os.getenv("PAGES_TARGET") or "sluice"
local count = tonumber(os.getenv("PAGES_COUNT") or "100")
local size = tonumber(os.getenv("PAGES_SIZE") or "100")
local reqs, i = {}, 0

function init(args)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  local auth = os.getenv("BENCH_AUTH")
  if auth and auth ~= "" then
    headers["Authorization"] = "Basic " .. auth
  end
  for p = 0, count - 1 do
    local off = p * size
    local body = slurp(dir .. "/req/" .. off .. ".json")
    local path = target == "nginx" and ("/pages/" .. off .. ".json") or "/fs/bench/data"
    reqs[p] = wrk.format("POST", path, headers, body)
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
