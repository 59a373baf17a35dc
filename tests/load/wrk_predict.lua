-- wrk script for POST /predict saturation runs (bench/serve_compare.sh).
--
--   BODIES=/tmp/bodies.txt MODE=hit    wrk -t2 -c64 -d20s -s tests/load/wrk_predict.lua http://127.0.0.1:8000
--
-- BODIES: one JSON body per line, each containing the marker __ID__ inside
-- its text (made by serve_compare.sh from bench/data/heldout.jsonl).
-- MODE=hit: the first HOT (default 50) bodies in rotation, marker removed, so
--   after the first pass every request is a cache hit.
-- MODE=unique: every request's text is made unique (thread/counter in place
--   of the marker), so every request is a cache miss and runs the engine.

local mode = os.getenv("MODE") or "hit"
local path = os.getenv("BODIES") or "/tmp/falcon_bodies.txt"
local hot = tonumber(os.getenv("HOT") or "50")
local bodies = {}
local counter = 0
local tid = 0

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end

function init(args)
  for line in io.lines(path) do
    if mode == "hit" then
      if #bodies < hot then
        bodies[#bodies + 1] = line:gsub("__ID__", "", 1)
      end
    else
      bodies[#bodies + 1] = line
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local b = bodies[(counter % #bodies) + 1]
  if mode == "unique" then
    b = b:gsub("__ID__", tostring(tid) .. "-" .. tostring(counter) .. " ", 1)
  end
  return wrk.format(nil, "/predict", nil, b)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "WRK_JSON {\"requests\": %d, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
