-- Wrapper for every threadmill miltertest script: defines shared helpers, runs the script
-- given with -D script=FILE under pcall and reports the error text (Debian's miltertest 1.6.0
-- exits 1 without printing the message of error()).
-- Globals expected from the command line: socket (libmilter spec), log (threadmill log file),
-- script (the test script).

RUN = tostring(os.time()) .. tostring(math.random(100000, 999999))

local function fail(msg)
  io.stderr:write("FAIL: " .. tostring(msg) .. "\n")
  io.stderr:flush()
  os.exit(1)
end

-- Connect and negotiate with the daemon under test.
function tm_connect()
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then error("mt.connect(" .. socket .. ") failed") end
  local err = mt.negotiate(conn, nil, nil, nil)
  if err ~= nil then error("mt.negotiate: " .. tostring(err)) end
  return conn
end

local BAD = { [SMFIR_REJECT] = "reject", [SMFIR_TEMPFAIL] = "tempfail",
              [SMFIR_DISCARD] = "discard", [SMFIR_REPLYCODE] = "replycode" }

-- A step's reply must let the message go on (continue; accept ends filtering early but is
-- still not a refusal).
function tm_ok(conn, what, err)
  if err ~= nil then error(what .. ": " .. tostring(err)) end
  local r = mt.getreply(conn)
  if BAD[r] then error(what .. ": milter answered " .. BAD[r]) end
  return r
end

-- Connection info (skipped when the milter negotiated SMFIP_NOCONNECT: miltertest aborts
-- the script if conninfo is sent anyway), HELO likewise.
function tm_conninfo(conn, host, ip, macros)
  for k, v in pairs(macros or {}) do mt.macro(conn, SMFIC_CONNECT, k, v) end
  if not mt.test_option(conn, SMFIP_NOCONNECT) then
    tm_ok(conn, "conninfo", mt.conninfo(conn, host, ip))
  end
  if not mt.test_option(conn, SMFIP_NOHELO) then
    tm_ok(conn, "helo", mt.helo(conn, "client.example.org"))
  end
end

-- One transaction. t = { from=, rcpts={}, headers={{name,value},...}, body=, qid=,
-- mail_macros={} }. Returns the EOM reply.
function tm_message(conn, t)
  -- miltertest refuses to send a step the milter negotiated away (SMFIP_NO*): skip those.
  local function sends(flag) return not mt.test_option(conn, flag) end
  mt.macro(conn, SMFIC_MAIL, "i", t.qid)
  for k, v in pairs(t.mail_macros or {}) do mt.macro(conn, SMFIC_MAIL, k, v) end
  if sends(SMFIP_NOMAIL) then tm_ok(conn, "mailfrom", mt.mailfrom(conn, t.from)) end
  for _, r in ipairs(t.rcpts) do
    mt.macro(conn, SMFIC_RCPT, "i", t.qid)
    if sends(SMFIP_NORCPT) then tm_ok(conn, "rcptto " .. r, mt.rcptto(conn, r)) end
  end
  if sends(SMFIP_NOHDRS) then
    for _, h in ipairs(t.headers) do
      tm_ok(conn, "header " .. h[1], mt.header(conn, h[1], h[2]))
    end
  end
  if sends(SMFIP_NOEOH) then tm_ok(conn, "eoh", mt.eoh(conn)) end
  if sends(SMFIP_NOBODY) then tm_ok(conn, "body", mt.bodystring(conn, t.body or "Hello.\r\n")) end
  local err = mt.eom(conn)
  if err ~= nil then error("eom: " .. tostring(err)) end
  local r = mt.getreply(conn)
  if r ~= SMFIR_ACCEPT and r ~= SMFIR_CONTINUE then
    error("eom: expected accept/continue, got " .. tostring(BAD[r] or r))
  end
  return r
end

-- Wait (up to 10 s) for a threadmill log line containing every plain string in needles.
function tm_wait_line(needles, timeout)
  local deadline = os.time() + (timeout or 10)
  repeat
    local f = io.open(log, "rb")
    if f then
      for line in f:lines() do
        local all = true
        for _, n in ipairs(needles) do
          if not string.find(line, n, 1, true) then all = false; break end
        end
        if all then f:close(); return line end
      end
      f:close()
    end
    mt.sleep(0.1)
  until os.time() > deadline
  error("no log line with: " .. table.concat(needles, " | "))
end

-- The value of key=value in a decision line (quoted values unquoted).
function tm_field(line, key)
  local q = string.match(line, "%s" .. key .. "=\"([^\"]*)\"")
  if q then return q end
  return string.match(line, "%s" .. key .. "=(%S*)")
end

function tm_expect(line, key, want)
  local got = tm_field(line, key)
  if got ~= want then
    error(string.format("%s=%s expected, got %s in: %s", key, want, tostring(got), line))
  end
end

-- Like tm_expect for msg-id fields: angle brackets do not matter.
function tm_expect_id(line, key, want)
  local got = tm_field(line, key) or ""
  if string.gsub(got, "[<>]", "") ~= string.gsub(want, "[<>]", "") then
    error(string.format("%s=%s expected, got %s in: %s", key, want, tostring(got), line))
  end
end

local ok, err = pcall(dofile, script)
if not ok then fail(err) end
io.stderr:write("PASS " .. script .. "\n")
