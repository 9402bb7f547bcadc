-- Shared by every bench script (loaded with dofile): a tally of response statuses per
-- thread, printed by done() as one line the driver parses:
--   statuses: 200=12345 401=3
-- wrk runs setup() and done() in its main Lua state, and init(), request() and
-- response() in one state per thread; thread:get() copies values across.

threads = {}
statuses = {}

function read_lines(path, slice, nslices)
  -- Lines slice, slice + nslices, ... (1-based) of a file: each thread walks its own.
  local lines, n = {}, 0
  for line in io.lines(path) do
    if line ~= "" then
      n = n + 1
      if (n - 1) % nslices == slice - 1 then
        lines[#lines + 1] = line
      end
    end
  end
  assert(#lines > 0, "no lines for this thread in " .. path)
  return lines
end

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

function tally(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function response(status, headers, body)
  tally(status)
end

function print_statuses()
  local total, keys = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      if not total[status] then keys[#keys + 1] = status end
      total[status] = (total[status] or 0) + count
    end
  end
  table.sort(keys)
  local parts = {}
  for _, status in ipairs(keys) do
    parts[#parts + 1] = status .. "=" .. total[status]
  end
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end

function done(summary, latency, requests)
  print_statuses()
end
