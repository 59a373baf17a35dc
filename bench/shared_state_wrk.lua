-- wrk script for bench/shared_state.sh: POST /predict with held-out e-mails.
--
--   BODIES=/tmp/bodies.txt MODE=mix wrk -t1 -c64 -d20s -s bench/shared_state_wrk.lua http://127.0.0.1:8000
--
-- BODIES: one JSON body per line, each containing the marker __ID__ inside
-- its text (bench/shared_state.sh makes them from bench/data/heldout.jsonl).
-- MODE=unique: every request's text is made unique (thread and counter in
--   place of the marker): every request misses the in-process cache, so
--   with Redis it costs a Redis GET (miss) + the engine + a Redis SET, and
--   with the log on one log row.
-- MODE=mix: the repeat mix of tests/load/baseline.js — HOT_FRACTION
--   (default 0.5) of requests drawn from the HOT (default 50) first e-mails,
--   the rest uniformly from all of them, marker removed (texts repeat, so
--   most requests are cache hits once warm).
-- No response() callback (it costs wrk a Lua call per response); non-2xx
-- responses are counted in summary.errors.status.

local mode = os.getenv("MODE") or "mix"
local path = os.getenv("BODIES") or "/tmp/falcon_bodies.txt"
local hot = tonumber(os.getenv("HOT") or "50")
local hot_fraction = tonumber(os.getenv("HOT_FRACTION") or "0.5")
local bodies = {}
local counter = 0
local tid = 0

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end

function init(args)
  for line in io.lines(path) do
    if mode == "unique" then
      bodies[#bodies + 1] = line
    else
      bodies[#bodies + 1] = line:gsub("__ID__", "", 1)
    end
  end
  math.randomseed(1234 + (tid or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local b
  if mode == "unique" then
    b = bodies[(counter % #bodies) + 1]
    b = b:gsub("__ID__", tostring(tid) .. "-" .. tostring(counter) .. " ", 1)
  else
    local i
    if math.random() < hot_fraction then
      i = math.random(1, math.min(hot, #bodies))
    else
      i = math.random(1, #bodies)
    end
    b = bodies[i]
  end
  return wrk.format(nil, "/predict", nil, b)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
