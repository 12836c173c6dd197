-- Outbound mail (client 127.0.0.1) without a Message-ID gets one added by threadmill, and
-- the decision line records that id.
local conn = tm_connect()
tm_conninfo(conn, "localhost", "127.0.0.1")
local qid = "MT1" .. RUN
tm_message(conn, { qid = qid, from = "<alice@example.com>", rcpts = { "<carol@example.org>" },
  headers = { { "From", "Alice <alice@example.com>" }, { "To", "carol@example.org" },
              { "Subject", "no message-id " .. RUN } } })
if not (mt.eom_check(conn, MT_HDRADD, "Message-ID") or mt.eom_check(conn, MT_HDRINSERT, "Message-ID")
        or mt.eom_check(conn, MT_HDRADD, "Message-Id") or mt.eom_check(conn, MT_HDRINSERT, "Message-Id")) then
  error("no Message-ID header added")
end
local added = mt.getheader(conn, "Message-ID", 0) or mt.getheader(conn, "Message-Id", 0)
if added == nil or not string.find(added, "@", 1, true) then
  error("added Message-ID looks wrong: " .. tostring(added))
end
local id = string.match(added, "<[^>]+>") or added
local line = tm_wait_line({ qid .. ":", "decision=" })
tm_expect(line, "direction", "outbound")
tm_expect(line, "decision", "recorded")
local logged = tm_field(line, "msgid")
if string.gsub(logged, "[<>]", "") ~= string.gsub(id, "[<>%s]", "") then
  error("decision msgid " .. logged .. " is not the added " .. id)
end
mt.disconnect(conn)
