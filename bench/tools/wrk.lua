-- wrk.lua: GET / on every connection, optionally pipelined, and one result line at the end
-- that bench/servers.sh reads (wrk's own report has no p99.9 and prints rounded units).
--
--   wrk -t1 -c64 -d3s -s bench/tools/wrk.lua http://127.0.0.1:PORT/ -- DEPTH
--
-- DEPTH > 1 sends DEPTH requests in one write and waits for all their responses; wrk then
-- records one latency per batch (first request written to last response read).
function init(args)
  local depth = tonumber(args[1] or "1")
  if depth > 1 then
    local r = {}
    for i = 1, depth do r[i] = wrk.format(nil, "/") end
    local batch = table.concat(r)
    request = function() return batch end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_s=%.3f req_per_s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.connect + e.read + e.write + e.status + e.timeout))
end
