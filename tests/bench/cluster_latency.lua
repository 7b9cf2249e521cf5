-- wrk script for tests/bench/cluster_latency.sh: one GET path, optionally paced.
--
--   FLIGHTWATCH_BENCH_PATH      the path to request (default /data-collector/ping)
--   FLIGHTWATCH_BENCH_THINK_MS  (default 0) each connection waits a random 0 to 2 x that
--                               many ms after each response (wrk's latency excludes it)
--   FLIGHTWATCH_BENCH_EXPECT    (optional) a string every 200 body must contain, else the
--                               response counts as bad
--
-- done() prints one line for the caller to parse:
--   fw-bench: requests=N non2xx=N bad=N socket_errors=N rps=X p50_us=X p99_us=X
--             statuses=200:N,...

local path = os.getenv("FLIGHTWATCH_BENCH_PATH") or "/data-collector/ping"
local expect = os.getenv("FLIGHTWATCH_BENCH_EXPECT") or ""
local think_ms = tonumber(os.getenv("FLIGHTWATCH_BENCH_THINK_MS") or "") or 0
if think_ms > 0 then
  function delay()
    return math.floor(math.random() * 2 * think_ms + 0.5)
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

non2xx, bad = 0, 0
statuses = {}

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local req = nil
function request()
  if req == nil then
    req = wrk.format("GET", path)
  end
  return req
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 then
    non2xx = non2xx + 1
  elseif expect ~= "" and (body == nil or string.find(body, expect, 1, true) == nil) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_non2xx, total_bad = 0, 0
  local by_status = {}
  for _, thread in ipairs(threads) do
    total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
    total_bad = total_bad + (thread:get("bad") or 0)
    for status, n in pairs(thread:get("statuses") or {}) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local list = {}
  for status, n in pairs(by_status) do
    table.insert(list, string.format("%d:%d", status, n))
  end
  table.sort(list)
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "fw-bench: requests=%d non2xx=%d bad=%d socket_errors=%d rps=%.1f p50_us=%d p99_us=%d " ..
    "statuses=%s\n",
    summary.requests, total_non2xx, total_bad, socket_errors,
    summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), table.concat(list, ",")))
end
