-- wrk script for the GET phases: counts answers per status class and prints
-- one machine-readable line at the end (read by bench/run.py):
--   BENCH_JSON {"requests":..,"duration_us":..,"latency_us":{..},"status":{..},"errors":{..}}
-- Status counts are per thread (each has its own Lua state) and summed in done().

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- As behind a proxy (bench/run.py trusts 127.0.0.1 as one): every request forwards a client
-- address, one synthetic address per thread from 198.19.255.0/24 (in 198.18.0.0/15, which RFC 2544
-- sets aside for benchmarks). GETs are not rate-limited; the header is set once per thread, in
-- init(), so wrk still sends a prebuilt request and the figures keep their cost.
function init(args)
  wrk.headers["X-Forwarded-For"] = string.format("198.19.255.%d", (tid or 0) % 256)
end

c1, c2, c3, c4, c5 = 0, 0, 0, 0, 0

function response(status, headers, body)
  if status >= 500 then c5 = c5 + 1
  elseif status >= 400 then c4 = c4 + 1
  elseif status >= 300 then c3 = c3 + 1
  elseif status >= 200 then c2 = c2 + 1
  else c1 = c1 + 1 end
end

function done(summary, latency, requests)
  local s = {0, 0, 0, 0, 0}
  for _, t in ipairs(threads) do
    s[1] = s[1] + t:get("c1"); s[2] = s[2] + t:get("c2"); s[3] = s[3] + t:get("c3")
    s[4] = s[4] + t:get("c4"); s[5] = s[5] + t:get("c5")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
    '"status":{"1xx":%d,"2xx":%d,"3xx":%d,"4xx":%d,"5xx":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    s[1], s[2], s[3], s[4], s[5],
    e.connect, e.read, e.write, e.timeout, e.status))
end
