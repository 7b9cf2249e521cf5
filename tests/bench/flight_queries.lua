-- wrk script for tests/bench/flight_queries_load.sh: the data-collector's flight queries.
--
-- Every request goes to one route, chosen by FLIGHTWATCH_BENCH_ROUTE:
--   list     GET /data-collector/flights/<airport>                 (default limit 100)
--   list-gzip  the same with "Accept-Encoding: gzip", as browsers and Python's requests send
--   average  GET /data-collector/flights/average/<airport>?days=N  (N from
--            FLIGHTWATCH_BENCH_DAYS, default 30)
--   last     GET /data-collector/flights/last/<airport>
-- with <airport> picked at random, per request, from FLIGHTWATCH_BENCH_AIRPORTS (comma
-- separated ICAO codes; every one has flights stored).
--
-- FLIGHTWATCH_BENCH_THINK_MS (default 0): when set, each connection waits a random 0 to
-- 2 x that many milliseconds (whole ms) after each response before it sends its next
-- request, so the offered load is about connections / (think time + latency) instead of
-- as much as the server takes. wrk's latency does not include the wait.
--
-- A response counts as a failure when its status is not 200 (non2xx) or when its body
-- does not look like a hit (bad): list must be a non-empty JSON array of flights (for
-- list-gzip: or a body with Content-Encoding: gzip and gzip's magic bytes; wrk cannot
-- inflate it, the shell script compares one such answer with the plain one), last a
-- flight, average must have counted at least one flight.
--
-- done() prints one line for the caller to parse:
--   fw-bench: requests=N non2xx=N bad=N socket_errors=N rps=X p50_us=X p99_us=X
--             statuses=200:N,...

local route = os.getenv("FLIGHTWATCH_BENCH_ROUTE") or "list"
local days = tonumber(os.getenv("FLIGHTWATCH_BENCH_DAYS") or "") or 30
local airports = {}
for code in string.gmatch(os.getenv("FLIGHTWATCH_BENCH_AIRPORTS") or "", "[^,]+") do
  table.insert(airports, code)
end
if #airports == 0 then
  error("FLIGHTWATCH_BENCH_AIRPORTS is empty")
end

local paths = {}
for i, code in ipairs(airports) do
  if route == "list" or route == "list-gzip" then
    paths[i] = "/data-collector/flights/" .. code
  elseif route == "average" then
    paths[i] = "/data-collector/flights/average/" .. code .. "?days=" .. days
  elseif route == "last" then
    paths[i] = "/data-collector/flights/last/" .. code
  else
    error("FLIGHTWATCH_BENCH_ROUTE must be list, average or last, not " .. route)
  end
end

local think_ms = tonumber(os.getenv("FLIGHTWATCH_BENCH_THINK_MS") or "") or 0
if think_ms > 0 then
  function delay()
    return math.floor(math.random() * 2 * think_ms + 0.5)
  end
end

-- main state: the threads, for done()
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Per-thread state (each wrk thread has its own Lua state); globals, so that done() can
-- read them with thread:get().
non2xx, bad = 0, 0
statuses = {}

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local headers = {}
if route == "list-gzip" then
  headers["Accept-Encoding"] = "gzip"
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

local function hit(body, response_headers)
  if body == nil then
    return false
  end
  local encoding = response_headers["Content-Encoding"] or response_headers["content-encoding"]
  if route == "list-gzip" and encoding == "gzip" then
    return string.sub(body, 1, 2) == "\31\139"
  end
  if route == "list" or route == "list-gzip" then
    return string.sub(body, 1, 2) == "[{" and string.find(body, '"icao24"', 1, true) ~= nil
  elseif route == "last" then
    return string.sub(body, 1, 1) == "{" and string.find(body, '"icao24"', 1, true) ~= nil
  end
  local n = tonumber(string.match(body, '"flights":(%d+)') or "")
  return n ~= nil and n > 0
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 then
    non2xx = non2xx + 1
  elseif not hit(body, headers) then
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
