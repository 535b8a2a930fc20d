-- wrk script: prints one line "PCT p50=... p90=... ... max=..." (milliseconds) at the end of a run, for tails
-- finer than wrk's --latency table. Usage: wrk -t2 -c50 -d6s -s scripts/bench/wrk-percentiles.lua URL
done = function(summary, latency, requests)
  local ps = {50, 90, 95, 97, 98, 99, 99.5, 99.9, 99.99}
  local out = "PCT"
  for _, p in ipairs(ps) do out = out .. string.format(" p%s=%.2f", p, latency:percentile(p) / 1000) end
  io.write(out .. string.format(" max=%.2f\n", latency.max / 1000))
end
