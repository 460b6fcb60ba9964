-- wrk script for npm run bench: every request carries one of the prepared session cookies,
-- chosen at random, and each connection's first request waits until every connection is
-- open, so that what is measured is requests on established keep-alive connections, as
-- behind nginx with upstream keepalive (docs/tail.md says why).
--
--   wrk -t2 -c50 -d10s --latency -s cookies.lua URL -- COOKIE_FILE HOLD_MS PER_THREAD [HEADER: VALUE]...
--
-- COOKIE_FILE holds one `name=value` a line (an empty file: no cookie). HOLD_MS is how
-- long each connection's first request is held (0 sends at once: the cold start), and
-- PER_THREAD how many connections each wrk thread has (wrk does not tell its scripts).

local cookies = {}
local hold_ms = 0
local first_requests = 0
local extra = {}

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then cookies[#cookies + 1] = line end
  end
  hold_ms = tonumber(args[2] or "0")
  first_requests = tonumber(args[3] or "0")
  for i = 4, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then extra[name] = value end
  end
  -- wrk calls delay() once before every request of this thread's connections, and the
  -- first request of each comes before any second one: the first PER_THREAD calls are
  -- the first requests.
  math.randomseed(os.time() + tonumber(tostring(wrk.thread):match("0x(%x+)") or "0", 16))
end

function delay()
  if first_requests > 0 then
    first_requests = first_requests - 1
    return hold_ms
  end
  return 0
end

function request()
  local headers = {}
  for name, value in pairs(extra) do headers[name] = value end
  if #cookies > 0 then headers["Cookie"] = cookies[math.random(#cookies)] end
  return wrk.format("GET", wrk.path, headers)
end
