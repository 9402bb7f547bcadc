-- GET with "Authorization: DPoP <access token>" and a DPoP proof of its own on every
-- request (RFC 9449: the server refuses a proof's jti the second time).
--
-- Argument 1 is a file of proofs, one per line, signed for this method and URL by the
-- token's key (bench/prover.py); each thread takes its own slice and uses each proof
-- once. If they run out, the last one is sent again: the server answers 401 (replay),
-- and the non-2xx count shows it. done() writes the proofs still unused back to the
-- file, so a warm-up run and the measured run can share it. Argument 2 is the
-- DPoP-bound access token; argument 3 the number of threads.
--   wrk -t1 -c16 -d5s --latency -s bench/lua/dpop.lua \
--       http://127.0.0.1:8000/auth/check -- proofs.txt <access token>
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

fresh, head, tail, proof_path = {}, 1, 0, nil
local authorization, last = nil, nil

function init(args)
  proof_path = assert(args[1], "give a file of DPoP proofs")
  authorization = "DPoP " .. assert(args[2], "give the DPoP-bound access token")
  for _, proof in ipairs(read_lines(proof_path, thread_id or 1, tonumber(args[3] or "1"))) do
    tail = tail + 1
    fresh[tail] = proof
  end
end

function request()
  if head <= tail then
    last = fresh[head]
    fresh[head] = nil
    head = head + 1
  end
  return wrk.format("GET", nil, { Authorization = authorization, DPoP = last })
end

function done(summary, latency, requests)
  print_statuses()
  io.write("proofs left: " .. write_unused("proof_path") .. "\n")
end
