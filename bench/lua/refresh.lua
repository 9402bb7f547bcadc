-- Rotating refresh: every request presents a refresh token that was never used.
--
-- Argument 1 is a file of fresh refresh tokens, one per line, each thread taking its
-- own slice. They form a queue: a request takes the oldest, and every 200 response puts
-- the rotated token it carries back at the end, as a real client would. A failed request
-- loses its token. If the queue runs dry, the script re-presents a used token: the
-- server answers 401 (reuse) and revokes that session, and the non-2xx count shows it.
-- done() writes the tokens still unused back to the file, so a warm-up run and the
-- measured run can share it.
--
-- Argument 2 is the transport: "header" (Authorization: Bearer, for /auth/refresh) or
-- "form" (grant_type=refresh_token, for /oauth/token). Argument 3: the number of threads.
--   wrk -t1 -c16 -d10s --latency -s bench/lua/refresh.lua \
--       http://127.0.0.1:8000/auth/refresh -- refresh_tokens.txt header
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

fresh, head, tail, token_path = {}, 1, 0, nil
local mode, last = "header", nil
local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
  token_path = assert(args[1], "give a file of refresh tokens")
  mode = args[2] or "header"
  for _, token in ipairs(read_lines(token_path, thread_id or 1, tonumber(args[3] or "1"))) do
    tail = tail + 1
    fresh[tail] = token
  end
end

local function take()
  if head <= tail then
    last = fresh[head]
    fresh[head] = nil
    head = head + 1
  end
  return last  -- nil only if the file was empty
end

function request()
  local token = take()
  if mode == "form" then
    return wrk.format("POST", nil, form_headers,
                      "grant_type=refresh_token&refresh_token=" .. token)
  end
  return wrk.format("POST", nil, { Authorization = "Bearer " .. token })
end

function response(status, headers, body)
  tally(status)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      tail = tail + 1
      fresh[tail] = token
    end
  end
end

function done(summary, latency, requests)
  print_statuses()
  io.write("fresh tokens left: " .. write_unused("token_path") .. "\n")
end
