-- More than max_references (100) References: decision=no-reply reason=references, the thread
-- is still resolved; exactly 100 is a normal match. (Short ids: miltertest 1.6.0 crashes on
-- header values over ~1 KB; the big cases are in test_protocol.py.)
local out_id = "<o" .. RUN .. "@e.com>"
local conn = tm_connect()
tm_conninfo(conn, "localhost", "127.0.0.1")
tm_message(conn, { qid = "MLO" .. RUN, from = "<alice@example.com>", rcpts = { "<carol@example.org>" },
  headers = { { "From", "alice@example.com" }, { "Subject", "limit " .. RUN }, { "Message-ID", out_id } } })
mt.disconnect(conn)
local thread = tm_field(tm_wait_line({ "MLO" .. RUN .. ":", "decision=" }), "thread")

local function refs(n)
  local t = {}
  for i = 1, n - 1 do t[#t + 1] = "<" .. i .. "@q>" end
  t[#t + 1] = out_id
  return table.concat(t, " ")
end

for _, case in ipairs({ { n = 101, decision = "no-reply", reason = "references" },
                        { n = 100, decision = "matched", reason = "" } }) do
  conn = tm_connect()
  tm_conninfo(conn, "[192.0.2.10]", "192.0.2.10")
  local qid = "MLI" .. case.n .. "x" .. RUN
  local r = refs(case.n)
  if #r > 1000 then error("references header too long for miltertest: " .. #r) end
  tm_message(conn, { qid = qid, from = "<carol@example.org>", rcpts = { "<alice@example.com>" },
    headers = { { "From", "carol@example.org" }, { "Subject", "Re: limit " .. RUN },
                { "Message-ID", "<i" .. case.n .. "." .. RUN .. "@e.org>" }, { "References", r } } })
  local line = tm_wait_line({ qid .. ":", "decision=" })
  tm_expect(line, "refs", tostring(case.n))
  tm_expect(line, "decision", case.decision)
  tm_expect(line, "reason", case.reason)
  tm_expect(line, "thread", thread)
  mt.disconnect(conn)
end
