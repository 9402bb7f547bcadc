-- POST /auth/login with a JSON body, cycling through the emails of a file (argument 1),
-- all sharing one password (argument 2, or env BENCH_PASSWORD).
--   wrk -t1 -c4 -d20s --latency --timeout 60s -s bench/lua/login.lua \
--       http://127.0.0.1:8000/auth/login -- emails.txt 'the-password'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local emails, password, index = {}, nil, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  emails = read_lines(assert(args[1], "give a file of emails"), thread_id or 1,
                      tonumber(args[3] or "1"))
  password = assert(args[2] or os.getenv("BENCH_PASSWORD"), "give the password")
end

function request()
  index = index % #emails + 1
  local body = '{"email":"' .. emails[index] .. '","password":"' .. password .. '"}'
  return wrk.format("POST", nil, headers, body)
end
