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

function write_unused(path_name)
  -- The entries of each thread's queue (`fresh`, from `head` to `tail`) not used yet,
  -- written back to the file named by the thread's global `path_name`, so that a
  -- warm-up run and the measured run can share one file. Returns how many.
  local left, path = {}, nil
  for _, thread in ipairs(threads) do
    path = thread:get(path_name)
    local queue = thread:get("fresh")
    for i = thread:get("head"), thread:get("tail") do
      left[#left + 1] = queue[i]
    end
  end
  if path then
    local file = assert(io.open(path, "w"))
    file:write(table.concat(left, "\n"), "\n")
    file:close()
  end
  return #left
end
