-- Direction: an outside client is inbound, unless the session is SMTP-authenticated
-- ({auth_authen}) or arrives on a submission daemon ({daemon_name} = ORIGINATING).
local cases = {
  { name = "plain", conn = {}, mail = {}, want = "inbound" },
  { name = "auth", conn = {}, mail = { ["{auth_authen}"] = "alice" }, want = "outbound" },
  { name = "submission", conn = { ["{daemon_name}"] = "ORIGINATING" }, mail = {}, want = "outbound" },
}
for _, c in ipairs(cases) do
  local conn = tm_connect()
  tm_conninfo(conn, "[192.0.2.10]", "192.0.2.10", c.conn)
  local qid = "MD" .. c.name .. RUN
  tm_message(conn, { qid = qid, from = "<alice@example.com>", rcpts = { "<carol@example.org>" },
    mail_macros = c.mail,
    headers = { { "From", "alice@example.com" }, { "Subject", "direction " .. c.name },
                { "Message-ID", "<d" .. c.name .. "." .. RUN .. "@example.com>" } } })
  local line = tm_wait_line({ qid .. ":", "decision=" })
  tm_expect(line, "direction", c.want)
  mt.disconnect(conn)
end
