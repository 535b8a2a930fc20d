-- wrk script: a fixed offered load instead of saturation. Each connection waits PACE_MS milliseconds after a
-- response before it sends its next request, so 50 connections offer about 50 * 1000 / (PACE_MS + latency)
-- requests per second to whichever proxy is measured; wrk's latency figures then describe the proxy at that load
-- rather than how the machine's two CPUs are shared between wrk, nginx and the proxy at saturation.
local pace = tonumber(os.getenv("PACE_MS") or "2")
function delay()
  return pace
end
