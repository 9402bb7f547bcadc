-- POST a form to /oauth/token or /oauth/introspect with client_secret_basic.
-- Argument 1: "client_id:client_secret"; argument 2: the form body, sent as is.
--   wrk -t1 -c16 -d10s --latency -s bench/lua/oauth_form.lua \
--       http://127.0.0.1:8000/oauth/token -- "$ID:$SECRET" "grant_type=client_credentials"
--   wrk ... http://127.0.0.1:8000/oauth/introspect -- "$ID:$SECRET" "token=$TOKEN"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local headers, body = {}, nil

local function base64(data)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((data:gsub(".", function(char)
    local bits, byte = "", char:byte()
    for i = 8, 1, -1 do bits = bits .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(bits)
    if #bits < 6 then return "" end
    local value = 0
    for i = 1, 6 do value = value + (bits:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(value + 1, value + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

function init(args)
  headers["Authorization"] = "Basic " .. base64(assert(args[1], "give client_id:secret"))
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  body = assert(args[2], "give the form body")
end

function request()
  return wrk.format("POST", nil, headers, body)
end
