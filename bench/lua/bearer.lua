-- GET with "Authorization: Bearer <access token>", cycling through the tokens of a file
-- (one per line; argument 1 or env BENCH_TOKENS), or the one token in env AUTH_TOKEN.
-- The floor (/healthz) is driven with the same script and headers, so that the only
-- difference between the floor and a protected route is the server's work.
--   wrk -t1 -c16 -d10s --latency -s bench/lua/bearer.lua http://127.0.0.1:8000/auth/check -- tokens.txt
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local tokens, index = {}, 0

function init(args)
  local path = args[1] or os.getenv("BENCH_TOKENS")
  if path and path ~= "" then
    tokens = read_lines(path, thread_id or 1, tonumber(args[2] or "1"))
  else
    local token = assert(os.getenv("AUTH_TOKEN"), "give a token file or set AUTH_TOKEN")
    tokens = { token }
  end
end

function request()
  index = index % #tokens + 1
  return wrk.format("GET", nil, { Authorization = "Bearer " .. tokens[index] })
end
