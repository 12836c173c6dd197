-- Hostile input through the milter protocol: every step is answered without a refusal,
-- every message gets a decision line, and the daemon still serves afterwards.
local cases = {
  { name = "nul", headers = { { "X-Nul", "before\0after" }, { "In-Reply-To", "<a\0b@example.com>" } } },
  { name = "eightbit", headers = { { "Subject", "caf\xe9 \xff\xfe \xc3\x28" },
                                   { "References", "<\xe9t\xe9@example.org> <\xff@\xfe>" } },
    body = "caf\xe9 \xc3\x28\r\n" },
  { name = "garbage", headers = { { "In-Reply-To", "not an id (comment <x@y>" },
                                  { "References", "<<>> <@> <a@> <@b> junk \"<q@r>\"" },
                                  { "Message-ID", "no angle brackets at all" } } },
  { name = "empty", headers = { { "Subject", "" }, { "References", "" }, { "In-Reply-To", " " } } },
  { name = "mime", headers = { { "MIME-Version", "1.0" },
                               { "Content-Type", "multipart/mixed; boundary=\"unterminated" } },
    body = "--unterminated\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!===\r\n" },
  { name = "longish", headers = { { "X-Long", string.rep("y", 900) } } },
  { name = "nulbody", headers = {}, body = "a\0b\r\n\0\0\0\r\n" },
}
for _, c in ipairs(cases) do
  local conn = tm_connect()
  tm_conninfo(conn, "[192.0.2.10]", "192.0.2.10")
  local qid = "MB" .. c.name .. RUN
  local headers = { { "From", "mallory@example.org" }, { "Subject", "bad " .. c.name } }
  for _, h in ipairs(c.headers) do headers[#headers + 1] = h end
  tm_message(conn, { qid = qid, from = "<mallory@example.org>", rcpts = { "<bob@example.com>" },
    headers = headers, body = c.body })
  tm_wait_line({ qid .. ":", "decision=" })
  mt.disconnect(conn)
end
-- still alive
local conn = tm_connect()
tm_conninfo(conn, "[192.0.2.10]", "192.0.2.10")
tm_message(conn, { qid = "MBafter" .. RUN, from = "<carol@example.org>", rcpts = { "<bob@example.com>" },
  headers = { { "From", "carol@example.org" }, { "Message-ID", "<after." .. RUN .. "@example.org>" } } })
tm_wait_line({ "MBafter" .. RUN .. ":", "decision=new-thread" })
mt.disconnect(conn)
