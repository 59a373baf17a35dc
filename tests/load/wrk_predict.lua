-- wrk script for POST /predict saturation runs (bench/serve_compare.sh,
-- bench/shared_state.sh).
--
--   BODIES=/tmp/bodies.txt MODE=hit wrk -t1 -c64 -d20s -s tests/load/wrk_predict.lua http://127.0.0.1:8000
--
-- BODIES: one JSON body per line, each containing the marker __ID__ inside
-- its text (the bench scripts make them from bench/data/heldout.jsonl).
-- MODE=hit: the first HOT (default 50) bodies in rotation, marker removed, so
--   after the first pass every request is a cache hit.
-- MODE=unique: every request's text is made unique (thread and counter in
--   place of the marker), so every request misses the in-process cache and
--   runs the engine (with Redis: a GET, the engine and a SET).
-- MODE=mix: the repeat mix of tests/load/baseline.js — HOT_FRACTION
--   (default 0.5) of requests drawn from the HOT first bodies, the rest
--   uniformly from all of them, marker removed.
-- ID_BASE: where unique mode's counter starts (default 0). Give each wrk
--   run against the same server its own base (the bench scripts use the
--   run's sequence number times 10^9), so no run repeats an earlier run's
--   texts, which that server's cache would answer.
-- THINK_MIN_MS, THINK_MAX_MS: the seed's load shape instead of saturation.
--   Each connection is a user that waits a random think time, uniform in
--   [THINK_MIN_MS, THINK_MAX_MS], after every answer (wrk's delay()), so
--   users do not march in lock-step. With -c50, 125-375 ms is the seed's
--   50 users with a 0.25 s mean think time (~200 req/s). wrk's own client
--   cost is a few µs per request, so unlike k6 it does not put a
--   multi-millisecond floor under the percentiles.
--
-- The load generator shares the 2 cores with the server, so its own CPU
-- per request is kept small: every request is built once in init() (hit,
-- mix), or from two prebuilt halves around a fixed-width id (unique: one
-- concatenation, where substituting the marker and formatting the request
-- anew cost wrk ~23 us of CPU per 5 KB request). No response() callback
-- (a Lua call per response); non-2xx responses are counted in
-- summary.errors.status.

local mode = os.getenv("MODE") or "hit"
local path = os.getenv("BODIES") or "/tmp/falcon_bodies.txt"
local hot = tonumber(os.getenv("HOT") or "50")
local hot_fraction = tonumber(os.getenv("HOT_FRACTION") or "0.5")
local prebuilt = {} -- hit, mix: whole requests
local heads, tails = {}, {} -- unique: the request before and after the id
local counter = tonumber(os.getenv("ID_BASE") or "0")
local tid = 0
local think_min = tonumber(os.getenv("THINK_MIN_MS") or "")
local think_max = tonumber(os.getenv("THINK_MAX_MS") or "")

-- Same width for every id, so Content-Length is fixed per body.
local ID_FORMAT = "%03d-%012d "
local PLACEHOLDER = string.rep("#", 17)

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end

function init(args)
  for line in io.lines(path) do
    if mode == "unique" then
      local s, e = line:find("__ID__", 1, true)
      local req = wrk.format("POST", "/predict", { ["Content-Type"] = "application/json" },
        line:sub(1, s - 1) .. PLACEHOLDER .. line:sub(e + 1))
      local p = req:find(PLACEHOLDER, 1, true)
      heads[#heads + 1] = req:sub(1, p - 1)
      tails[#tails + 1] = req:sub(p + #PLACEHOLDER)
    elseif mode ~= "hit" or #prebuilt < hot then
      local body = line:gsub("__ID__", "", 1)
      prebuilt[#prebuilt + 1] = wrk.format("POST", "/predict", { ["Content-Type"] = "application/json" }, body)
    end
  end
  math.randomseed(1234 + (tid or 0))
end

function request()
  counter = counter + 1
  if mode == "unique" then
    local i = (counter % #heads) + 1
    return heads[i] .. string.format(ID_FORMAT, tid, counter) .. tails[i]
  elseif mode == "mix" then
    if math.random() < hot_fraction then
      return prebuilt[math.random(1, math.min(hot, #prebuilt))]
    end
    return prebuilt[math.random(1, #prebuilt)]
  end
  return prebuilt[(counter % #prebuilt) + 1]
end

if think_min and think_max then
  function delay()
    return math.random(think_min, think_max)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"rps\": %.1f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
