-- An outbound message is recorded; an inbound reply from an outside address with
-- In-Reply-To is matched to the same thread; a second inbound with References only too.
local out_id = "<out." .. RUN .. "@example.com>"
local conn = tm_connect()
tm_conninfo(conn, "localhost", "127.0.0.1")
tm_message(conn, { qid = "MTO" .. RUN, from = "<alice@example.com>", rcpts = { "<carol@example.org>" },
  headers = { { "From", "alice@example.com" }, { "To", "carol@example.org" },
              { "Subject", "quote " .. RUN }, { "Message-ID", out_id } } })
mt.disconnect(conn)
local out = tm_wait_line({ "MTO" .. RUN .. ":", "decision=" })
tm_expect(out, "direction", "outbound")
tm_expect(out, "decision", "recorded")
local thread = tm_field(out, "thread")
if thread == nil or thread == "" then error("no thread in " .. out) end

local in_id = "<in." .. RUN .. "@example.org>"
conn = tm_connect()
tm_conninfo(conn, "[192.0.2.10]", "192.0.2.10")
tm_message(conn, { qid = "MTI" .. RUN, from = "<carol@example.org>", rcpts = { "<alice@example.com>" },
  headers = { { "From", "Carol <carol@example.org>" }, { "To", "alice@example.com" },
              { "Subject", "Re: quote " .. RUN }, { "Message-ID", in_id },
              { "In-Reply-To", out_id }, { "References", out_id } } })
local line = tm_wait_line({ "MTI" .. RUN .. ":", "decision=" })
tm_expect(line, "direction", "inbound")
tm_expect(line, "decision", "matched")
tm_expect(line, "match", "in-reply-to")
tm_expect(line, "thread", thread)
tm_expect_id(line, "parent", out_id)
tm_expect(line, "refs", "1")

-- second message on the same connection: References only, newest last
tm_message(conn, { qid = "MTR" .. RUN, from = "<carol@example.org>", rcpts = { "<alice@example.com>" },
  headers = { { "From", "carol@example.org" }, { "Subject", "Re: quote " .. RUN },
              { "Message-ID", "<in2." .. RUN .. "@example.org>" },
              { "References", "<unknown." .. RUN .. "@example.org> " .. out_id .. " " .. in_id } } })
line = tm_wait_line({ "MTR" .. RUN .. ":", "decision=" })
tm_expect(line, "decision", "matched")
tm_expect(line, "match", "references")
tm_expect_id(line, "parent", in_id)
tm_expect(line, "thread", thread)
tm_expect(line, "refs", "3")
mt.disconnect(conn)
