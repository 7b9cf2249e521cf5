-- wrk script for tests/bench/user_manager_load.sh: the user-manager's write and read path.
--
-- Each wrk thread alternates
--   POST /user-manager/users          a fresh user, with a fresh Idempotency-Key, and
--   GET  /user-manager/users/<email>  a user that this thread created earlier.
-- Emails are "u<n>.t<thread>.<prefix>@bench.example" and keys "<prefix>-t<thread>-<n>":
-- unique across threads (thread number), requests (counter n) and runs (prefix, from
-- FLIGHTWATCH_BENCH_PREFIX; the caller makes it unique per wrk run).
--
-- wrk does not say which request a response belongs to, so a GET only asks for a user whose
-- POST was sent at least FLIGHTWATCH_BENCH_GET_LAG POSTs earlier by the same thread (that
-- thread has at most connections/threads requests in flight). Until a thread has sent that
-- many POSTs it sends only POSTs. A GET that still finds no user (404) means a POST was
-- stuck for that long (or lost); it counts as a failure like any other non-2xx answer.
-- The "posts" count includes one request that wrk builds but never sends (see request()).
--
-- FLIGHTWATCH_BENCH_THINK_MS (default 0): milliseconds each connection waits after an answer
-- before its next request.
--
-- done() prints one line for the caller to parse:
--   fw-bench: requests=N non2xx=N socket_errors=N posts=N gets=N rps=X p50_us=X p99_us=X
--             statuses=201:N,200:N,...

local prefix = os.getenv("FLIGHTWATCH_BENCH_PREFIX")
if prefix == nil or prefix == "" then
  prefix = string.format("%d-%d", os.time(), math.random(1, 1e9))
end
local lag = tonumber(os.getenv("FLIGHTWATCH_BENCH_GET_LAG") or "") or 500

-- main state: the threads, for done()
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Per-thread state: each wrk thread has its own Lua state. Globals, so that done() can
-- read them with thread:get().
posts, gets, responses, non2xx = 0, 0, 0, 0
statuses = {}
local next_is_get = false
local post_headers = { ["Content-Type"] = "application/json" }

local think = tonumber(os.getenv("FLIGHTWATCH_BENCH_THINK_MS") or "") or 0
if think > 0 then
  function delay()
    return think
  end
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
end

local function email_of(n)
  return string.format("u%d.t%d.%s@bench.example", n, tid, prefix)
end

function request()
  if next_is_get and posts > lag + 1 then
    next_is_get = false
    gets = gets + 1
    -- Never user 1: wrk calls request() once on its first thread before the run, to check
    -- the script, and never sends that request.
    local n = math.random(2, posts - lag)
    return wrk.format("GET", "/user-manager/users/" .. email_of(n))
  end
  next_is_get = true
  posts = posts + 1
  post_headers["Idempotency-Key"] = string.format("%s-t%d-%d", prefix, tid, posts)
  local body = string.format('{"email":"%s","first_name":"Bench","last_name":"User %d"}',
                             email_of(posts), posts)
  return wrk.format("POST", "/user-manager/users", post_headers, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = { posts = 0, gets = 0, responses = 0, non2xx = 0 }
  local by_status = {}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(total) do
      total[k] = total[k] + (thread:get(k) or 0)
    end
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
    "fw-bench: requests=%d non2xx=%d socket_errors=%d posts=%d gets=%d rps=%.1f " ..
    "p50_us=%d p99_us=%d statuses=%s\n",
    summary.requests, total.non2xx, socket_errors, total.posts, total.gets,
    summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), table.concat(list, ",")))
end
