-- wrk script of the benchmark (bench/load.ts): every request carries the next token of a file,
-- each token `burst` times in a row (a page's parallel calls with one fresh token), so the
-- server's caches see thousands of sessions, not one. Prints one JSON line when done.
--
-- wrk -t1 -c10 -d5s -s bench/wrk/tokens.lua URL -- <tokens file, one per line> <path> [burst=10] [start=0] [header]
-- `start`: the index of the first token (a second target starts half-way, so two nodes do not see
-- the same session at the same moment). `header`: `authorization` (default: Authorization: Bearer
-- <line>) or `cookie` (Cookie: <line>, for the cookie-session peer).
-- An empty tokens file argument ("-") sends no Authorization header (the static route).

local requests = {}
local count = 0
local sent = 0
local burst = 10

function init(args)
  local file, path = args[1], args[2] or "/"
  burst = tonumber(args[3] or "10")
  sent = burst * tonumber(args[4] or "0")
  local cookie = args[5] == "cookie"
  if file == nil or file == "-" then
    requests[1] = wrk.format("GET", path)
    count = 1
    return
  end
  for line in io.lines(file) do
    if #line > 0 then
      count = count + 1
      if cookie then
        requests[count] = wrk.format("GET", path, { ["Cookie"] = line })
      else
        requests[count] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
      end
    end
  end
end

function request()
  local r = requests[(math.floor(sent / burst) % count) + 1]
  sent = sent + 1
  return r
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
