-- gridlet.greenup: EV charging load management, the Legrand Energy Web Server
-- "Green'Up" logic (manual 7.12.5 and 8.3), as a library independent of the
-- gridlet API so that it can be driven by the rule (scripts/rules/greenup.lua),
-- tests and benchmarks alike:
--
--   local greenup = require("gridlet.greenup")
--   local g = greenup.new(params, io)   -- io: now, write, emit, log, load, save
--   g:feed(series, value, ts, quality)  -- meter, station and override samples
--   g:step(now)                         -- one control step: decide, command, persist
--
-- io.write(target, value, on_reply(ok, err)) sends a command; io.emit(type,
-- severity, body) an event; io.log(level, text); io.load(key) / io.save(key,
-- value) persistent state. The behaviour, every parameter and every decision
-- where the manual is silent: scripts/lib/gridlet/README.md.
local params = require("gridlet.greenup.params")
local S = require("gridlet.greenup.sessions")

local M = {}
M.GREEN, M.YELLOW, M.RED = 1, 2, 3
local AVAILABLE, CONNECTED, CHARGING, WAITING, ERROR = S.AVAILABLE, S.CONNECTED, S.CHARGING, S.WAITING, S.ERROR
M.AREA = {"green", "yellow", "red"}

local G = {}
G.__index = G

local function level_current(c, rated, pct)
  local a = math.floor(rated * pct / 100 * 10 + 1e-6) / 10
  if a < c.min_current then a = c.min_current end  -- never below 6 A (IEC 61851)
  if a > rated then a = rated end
  return a
end

function M.new(p, io)
  local c = params.check(p)
  local self = setmetatable({
    c = c, io = io, stations = {}, inputs = {},
    meter = {0, 0, 0}, meter_ts = {false, false, false},
    area = {1, 1, 1}, I = {0, 0, 0}, now = 0, last_step = nil, first_step = nil,
    failsafe = false, overload = false, status_at = 0, seq = io.load("seq") or 0, overrides_seen = 0, version = 0,
  }, G)
  self.stale_ms, self.response_ms = c.stale * 1000, c.response * 1000
  -- One setter per series read: fn(value, ts) -> true for a meter sample.
  local meter, meter_ts = self.meter, self.meter_ts
  if c.meter then
    if c.meter_single then
      self.inputs[c.meter[1]] = function(v, ts)
        meter[1], meter[2], meter[3] = v, v, v
        meter_ts[1], meter_ts[2], meter_ts[3] = ts, ts, ts
        return true
      end
    else
      for k = 1, 3 do
        self.inputs[c.meter[k]] = function(v, ts)
          meter[k], meter_ts[k] = v, ts
          return true
        end
      end
    end
  end
  for i, sc in ipairs(c.stations) do
    local st = {
      cfg = sc, name = sc.name, on = sc.on, index = i, single = sc.phases == 1,
      lv = {[0] = sc.rated, level_current(c, sc.rated, c.step1), level_current(c, sc.rated, c.step2)},
      raw = {0, 0, 0}, m = {0, 0, 0}, state = nil, ts = nil, ah = nil, wh = nil,
      allow = 0, pend_until = 0, pend = "down", sent_sp = nil, sent_en = nil, acked_sp = nil,
      dirty = false, saved_at = 0,
    }
    local s = io.load(S.key(st))
    if type(s) == "table" and s.start then
      st.session = s
      if s.status == "charging" then st.allow = st.lv[s.level] or sc.rated end
    end
    self.stations[i] = st
    local n, raw, inputs = sc.name .. "/", st.raw, self.inputs
    inputs[n .. "state"] = function(v, ts) st.state, st.ts = v, ts end
    inputs[n .. "current/l1"] = function(v, ts) raw[1], st.ts = v, ts end
    inputs[n .. "current/l2"] = function(v, ts) raw[2], st.ts = v, ts end
    inputs[n .. "current/l3"] = function(v, ts) raw[3], st.ts = v, ts end
    inputs[n .. "session/ah"] = function(v) st.ah = v end
    inputs[n .. "session/wh"] = function(v) st.wh = v end
    local o = c.override_prefix .. "/" .. sc.name .. "/"
    inputs[o .. "start_wait"] = function(v) self:override(st, "start_wait", v) end
    inputs[o .. "priority"] = function(v) self:override(st, "priority", v) end
  end
  return self
end

-- The series the logic reads: a set {name = true}.
function G:series()
  local out = {}
  for name in pairs(self.inputs) do out[name] = true end
  return out
end

-- One sample. Returns true when it came from the meter (the caller then
-- runs a control step: the logic reacts to every new meter sample). Bad
-- quality or NaN samples are ignored (stale data then leads to the fail-safe).
function G:feed(series, value, ts, quality)
  local f = self.inputs[series]
  if not f or (quality and quality <= 0) or value ~= value then return false end
  return f(value, ts) == true
end

-- Run-time overrides (manual 8.3.2): Start/Wait and Normal/Priority, for the
-- current session only.
function G:override(st, kind, value)
  self.overrides_seen = self.overrides_seen + 1
  local s = st.session
  local what = kind == "priority" and (value >= 0.5 and "Priority" or "Normal") or (value >= 0.5 and "Start" or "Wait")
  if not s then
    self.io.log("info", string.format("%s: %s ignored: no charging session", st.name, what))
    return
  end
  self.now = self.io.now()
  self.version = self.version + 1
  if kind == "priority" then
    s.prio = value >= 0.5
  elseif value >= 0.5 then
    s.hold = s.status == "waiting" and "start" or nil
  else
    s.hold = "wait"
    if s.status == "charging" then self:stop(st, false) end
  end
  st.dirty = true
  self.io.log("info", string.format("%s: %s for this session", st.name, what))
end

-- ------------------------------------------------------------ estimation
-- What a station is expected to draw on an installation phase once the
-- commands sent are followed: a start or raise is reserved at once (no
-- overshoot), a reduction is counted at once; a station that stopped
-- answering is counted at the higher of its last current and its setpoint.
local function expected(self, st, p)
  local m = st.m[p]
  if st.stale then
    local a = st.allow
    if st.acked_sp and st.session and st.acked_sp > a then a = st.acked_sp end
    return m > a and m or a
  end
  if self.now < st.pend_until then
    local mode, a = st.pend, st.allow
    if mode == "up" then return m > a and m or a end  -- raised or started: reserved
    if mode == "resv" then return a end               -- lowered while still reserved
    return m < a and m or a                           -- lowered: counted at once
  end
  return m
end

function G:set_allow(st, a, start)
  if a == st.allow then return end
  self.version = self.version + 1
  local I, now = self.I, self.now
  local old1, old2, old3 = expected(self, st, 1), expected(self, st, 2), expected(self, st, 3)
  local reserved = now < st.pend_until and st.pend ~= "down"
  local hold = self.response_ms
  if start and hold < 30000 then hold = 30000 end  -- vehicles take time to start drawing
  if a > st.allow then
    st.pend = "up"
  elseif reserved and a > 0 then
    st.pend = "resv"
  else
    st.pend = "down"
  end
  st.allow = a
  if reserved and st.pend ~= "down" and st.pend_until > now + hold then hold = st.pend_until - now end
  st.pend_until = now + hold
  if st.on[1] then I[1] = I[1] + expected(self, st, 1) - old1 end
  if st.on[2] then I[2] = I[2] + expected(self, st, 2) - old2 end
  if st.on[3] then I[3] = I[3] + expected(self, st, 3) - old3 end
end

-- Would `st` fit at `a` amperes below thr[p] on each of its phases? (A raise
-- or start is reserved at once: the station then counts max(measured, a).)
function G:fits(st, a, thr)
  for p = 1, 3 do
    if st.on[p] then
      local m = st.m[p]
      if self.I[p] - expected(self, st, p) + (m > a and m or a) >= thr[p] then return false end
    end
  end
  return true
end

-- The installation current per phase once the commands sent are followed:
-- the other loads (meter minus what the stations measure) plus what each
-- station is expected to draw. The meter and the stations are polled at
-- slightly different times: a meter sample may already see a station's new
-- current while the station's own sample does not yet, which would count
-- it twice (or not at all when it is being reduced). So while stations are
-- changing, a jump of the other loads is trusted only beyond what those
-- stations could explain (sum of |setpoint - measured|); the rest is taken
-- from the previous step. A real change of the other loads is seen at once.
function G:estimate()
  local I, c, now = self.I, self.c, self.now
  local sum, mine, up, down = {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}
  local stations = self.stations
  for i = 1, #stations do
    local st = stations[i]
    local pending, on, ms = now < st.pend_until, st.on, st.m
    if pending or st.stale then
      for p = 1, 3 do
        if on[p] then
          local m = ms[p]
          sum[p] = sum[p] + expected(self, st, p)
          mine[p] = mine[p] + m
          if pending then
            if st.allow > m then up[p] = up[p] + st.allow - m else down[p] = down[p] + m - st.allow end
          end
        end
      end
    else  -- settled: it draws what it measures
      local m1, m2, m3 = ms[1], ms[2], ms[3]
      sum[1], sum[2], sum[3] = sum[1] + m1, sum[2] + m2, sum[3] + m3
      mine[1], mine[2], mine[3] = mine[1] + m1, mine[2] + m2, mine[3] + m3
    end
  end
  if not c.meter then
    for p = 1, 3 do I[p] = sum[p] end
    return
  end
  local prev, base = self.base, {0, 0, 0}
  for p = 1, 3 do
    local b = self.meter[p] - mine[p]
    if b < 0 then b = 0 end
    if prev then
      if b > prev[p] and up[p] > 0 then b = math.max(prev[p], b - up[p]) end
      if b < prev[p] and down[p] > 0 then b = math.min(prev[p], b + down[p]) end
    end
    base[p] = b
    I[p] = b + sum[p]
  end
  self.base = base
end

local function next_area(z, i, c)
  local up = (i >= c.max) and 3 or ((i >= c.max_charging) and 2 or 1)
  if up >= z then return up end
  if z == 3 and i >= c.max - c.hysteresis then return 3 end
  if i >= c.max_charging - c.hysteresis then return 2 end
  return 1
end

-- ------------------------------------------------------------ sessions
function G:observe(st, dt)
  local now = self.now
  local stale = st.ts == nil or now - st.ts > self.stale_ms
  if stale ~= st.stale then
    st.stale = stale
    self.version = self.version + 1
  end
  if stale then return end
  local r, m = st.raw, st.m
  if st.single then
    local on = st.on
    m[1], m[2], m[3] = on[1] and r[1] or 0, on[2] and r[1] or 0, on[3] and r[1] or 0
  else
    m[1], m[2], m[3] = r[1], r[2], r[3]
  end
  local s, state = st.session, st.state
  if not s and state == AVAILABLE then return end  -- most stations, most of the time
  if state == AVAILABLE or state == ERROR then
    if s then self:finish(st, state == ERROR and "station_error" or "vehicle_left") end
    return
  end
  if state ~= CONNECTED and state ~= CHARGING and state ~= WAITING then return end
  if not s then
    -- A new charge request; a station found charging on its own (nobody
    -- authorized it) is adopted as a session in progress.
    s = S.new(st, now, state ~= S.CONNECTED)
    st.session = s
    self.version = self.version + 1
    st.dirty = true
    if s.status == "charging" then self:set_allow(st, st.lv[0]) end
    self.io.log("info", string.format("%s: vehicle connected (%s)", st.name, s.status == "charging" and "already charging" or "charge request"))
  end
  -- Metering: current range while charging, Ah and Wh (the station's own
  -- session counters win; without them, integrate).
  local i = r[1]
  if not st.single then
    if r[2] > i then i = r[2] end
    if r[3] > i then i = r[3] end
  end
  if state == CHARGING and i >= 0.5 then
    if not s.imin or i < s.imin then s.imin = i end
    if not s.imax or i > s.imax then s.imax = i end
  elseif state == WAITING and s.status == "charging" then
    s.full = true
  end
  if st.ah then s.ah = st.ah elseif i > 0 then s.ah = s.ah + i * dt / 3600 end
  if st.wh then
    s.wh = st.wh
  elseif i > 0 then
    local sum = st.single and r[1] or (r[1] + r[2] + r[3])
    s.wh = s.wh + sum * self.c.voltage * dt / 3600
  end
  -- A station that did not follow a command within the response time gets it again.
  if now >= st.pend_until and now >= (st.resend_at or 0) then
    local again = (s.status == "charging" and state == S.CONNECTED and st.sent_en == 1)
      or (s.status == "waiting" and state == S.CHARGING and st.sent_en == 0)
    if again then
      st.sent_en = nil
      st.resend_at = now + self.response_ms
    end
  end
end

function G:finish(st, reason)
  local s = st.session
  self.version = self.version + 1
  self.io.emit("ev_session", "info", S.history(st, s, self.now, reason))
  self.io.log("info", string.format("%s: session ended (%s), %.1f Ah, %.0f Wh", st.name, reason, s.ah, s.wh))
  st.session = nil
  self:set_allow(st, 0)
  st.pend_until = 0
  self.io.save(S.key(st), nil)
  st.sent_sp = nil  -- the next session gets its setpoint again
  if reason == "station_error" then st.sent_en = nil end
end

-- ------------------------------------------------------------ decisions
local function on_any(st, set)
  return (st.on[1] and set[1]) or (st.on[2] and set[2]) or (st.on[3] and set[3])
end

local function active(st)
  -- A session in progress whose vehicle draws current (a vehicle that is
  -- full or paused draws nothing: reducing or stopping it gains nothing).
  local s = st.session
  return s and s.status == "charging" and not st.stale and st.state ~= S.WAITING
end

-- Reduction order: non-priority sessions before priority ones; within each,
-- all sessions to the first step before any to the second; then the one
-- connected longest first.
local function reduce_before(a, b)
  local sa, sb = a.session, b.session
  if sa.prio ~= sb.prio then return not sa.prio end
  if sa.level ~= sb.level then return sa.level < sb.level end
  if sa.start ~= sb.start then return sa.start < sb.start end
  return a.index < b.index
end

-- Stop order (manual): the non-priority session connected longest that has
-- received the minimum guaranteed quantity; then priority ones likewise.
local function stop_before(a, b)
  local sa, sb = a.session, b.session
  if sa.prio ~= sb.prio then return not sa.prio end
  if sa.start ~= sb.start then return sa.start < sb.start end
  return a.index < b.index
end

function G:pick(set, ok, before)
  local best = nil
  for _, st in ipairs(self.stations) do
    if on_any(st, set) and active(st) and ok(self, st) and (best == nil or before(st, best)) then best = st end
  end
  return best
end

local function reducible(_, st) return st.session.level < 2 end
local function stoppable(self, st) return st.session.ah >= self.c.min_ah end
local function anyone() return true end

function G:reduce(st)
  local s = st.session
  s.level = s.level + 1
  s.reductions = s.reductions + 1
  if not s.red then
    self.seq = self.seq + 1
    s.red = self.seq
    self.seq_dirty = true
  end
  st.dirty = true
  self:set_allow(st, st.lv[s.level])
end

function G:stop(st, by_logic)
  local s = st.session
  s.status, s.since, s.level, s.red = "waiting", self.now, 0, nil
  if by_logic then s.stops = s.stops + 1 end
  st.dirty = true
  self:set_allow(st, 0)
end

function G:start(st, k)
  local s = st.session
  s.status, s.level, s.since, s.hold = "charging", k, nil, nil
  if k > 0 then
    self.seq = self.seq + 1
    s.red = self.seq
    self.seq_dirty = true
  end
  st.dirty = true
  self:set_allow(st, st.lv[k], true)
end

-- Red area: reduce by steps to get back to yellow; when every session is at
-- the second step and it is still red, stop sessions (stop order).
function G:shed()
  local c, I, area = self.c, self.I, self.area
  local limit = c.max - c.hysteresis
  while true do
    local over, any = {false, false, false}, false
    for p = 1, 3 do
      if area[p] == M.RED and I[p] >= limit then over[p], any = true, true end
    end
    if not any then return end
    local st = self:pick(over, reducible, reduce_before)
    if st then
      self:reduce(st)
    else
      st = self:pick(over, stoppable, stop_before)
      if st then
        self:stop(st, true)
        self.io.log("warn", string.format("%s: stopped (red area, %.1f Ah received)", st.name, st.session.ah))
      else
        -- Decision: Maximum current available is the installation's rated
        -- current (its breaker). When no session may be stopped under the
        -- manual's rule (none has the minimum guaranteed quantity), the
        -- installation wins: sessions below it are stopped, same order, and
        -- a critical event records it (once per overload).
        st = self:pick(over, anyone, stop_before)
        if not self.overload then
          self.overload = true
          self.io.emit("greenup_overload", "critical", {
            current = math.max(I[1], I[2], I[3]), maximum_current_available = c.max,
            stopping = st and st.name or nil,
            message = st and "red area with every session at the second step and none with the minimum guaranteed quantity: stopping sessions below it"
              or "red area without any session to reduce or stop (the other loads alone)",
          })
        end
        if not st then return end
        self:stop(st, true)
        self.io.log("warn", string.format("%s: stopped below the minimum guaranteed quantity (%.1f Ah): installation above its maximum current", st.name, st.session.ah))
      end
    end
  end
end

-- Waiting sessions start longest-waiting first (Priority ones and a
-- run-time Start first). Green: authorized if it fits below the charging
-- limit; yellow: sessions in progress are reduced to make room, if that is
-- enough. Never in the red area; never without reserving its current.
function G:try_start(st)
  local c, area, s, I = self.c, self.area, st.session, self.I
  local forced = s.hold == "start"
  -- Nothing changed since it last could not start (same sessions and
  -- setpoints, same areas, no less current): it still cannot.
  local memo = st.no_start
  if memo and memo.version == self.version and memo.forced == forced and memo.a1 == area[1] and memo.a2 == area[2]
    and memo.a3 == area[3] and I[1] >= memo.i1 and I[2] >= memo.i2 and I[3] >= memo.i3 then
    return false
  end
  local ok = self:try_start_now(st, forced)
  if ok then
    st.no_start = nil
  else
    st.no_start = {version = self.version, forced = forced, a1 = area[1], a2 = area[2], a3 = area[3],
      i1 = I[1], i2 = I[2], i3 = I[3]}
  end
  return ok
end

function G:try_start_now(st, forced)
  local c, area = self.c, self.area
  local thr = {}
  for p = 1, 3 do
    if st.on[p] and area[p] == M.RED then return false end
    if forced then
      thr[p] = c.max - c.hysteresis
    else
      thr[p] = area[p] == M.GREEN and c.max_charging or (c.max_charging - c.hysteresis)
    end
  end
  for k = 0, 2 do
    if self:fits(st, st.lv[k], thr) then self:start(st, k) return true end
  end
  -- Room needed per phase, and what reducing every other session to the
  -- second step would give.
  local need, gain, short = {}, {0, 0, 0}, false
  for p = 1, 3 do
    need[p] = st.on[p] and (self.I[p] - expected(self, st, p) + st.lv[2] - thr[p]) or -1
    short = short or need[p] >= 0
  end
  if not short then return false end
  for _, o in ipairs(self.stations) do
    if o ~= st and active(o) and o.session.level < 2 then
      for p = 1, 3 do
        if o.on[p] and need[p] >= 0 then
          local e = expected(self, o, p)
          local after = (self.now < o.pend_until and o.pend ~= "down") and o.lv[2] or math.min(o.m[p], o.lv[2])
          if e > after then gain[p] = gain[p] + e - after end
        end
      end
    end
  end
  for p = 1, 3 do
    if need[p] >= 0 and gain[p] <= need[p] then return false end
  end
  local lacking = {need[1] >= 0, need[2] >= 0, need[3] >= 0}
  while not self:fits(st, st.lv[2], thr) do
    local o = self:pick(lacking, function(_, x) return x ~= st and x.session.level < 2 end, reduce_before)
    if not o then return false end
    self:reduce(o)
  end
  for k = 0, 2 do
    if self:fits(st, st.lv[k], thr) then self:start(st, k) return true end
  end
  return false
end

local function queue_before(a, b)
  local sa, sb = a.session, b.session
  local fa, fb = sa.hold == "start", sb.hold == "start"
  if fa ~= fb then return fa end
  if sa.prio ~= sb.prio then return sa.prio end
  if sa.since ~= sb.since then return (sa.since or 0) < (sb.since or 0) end
  return a.index < b.index
end

function G:serve_queue()
  local q = nil
  local stations = self.stations
  for i = 1, #stations do
    local st = stations[i]
    local s = st.session
    if s and s.status == "waiting" and s.hold ~= "wait" and not st.stale and st.state ~= S.ERROR then
      q = q or {}
      q[#q + 1] = st
    end
  end
  if not q then return end
  table.sort(q, queue_before)
  -- A request that cannot start holds its phases: nobody behind it on the
  -- same phase goes first.
  local blocked = {false, false, false}
  for _, st in ipairs(q) do
    if not on_any(st, blocked) and not self:try_start(st) then
      for p = 1, 3 do blocked[p] = blocked[p] or st.on[p] end
    end
  end
end

-- Restoring: reduced sessions are raised step by step, the first reduced
-- first, while the installation stays in the green area (with the hysteresis).
local function reduced_first(a, b) return a.session.red < b.session.red end

function G:raise()
  local list = nil
  local stations = self.stations
  for i = 1, #stations do
    local st = stations[i]
    local s = st.session
    if s and s.status == "charging" and s.red and not st.stale then
      list = list or {}
      list[#list + 1] = st
    end
  end
  if not list then return end
  table.sort(list, reduced_first)
  local c = self.c
  local thr = {c.max_charging - c.hysteresis, c.max_charging - c.hysteresis, c.max_charging - c.hysteresis}
  local blocked = {false, false, false}
  -- Only from the green area: a phase in yellow or red holds its sessions.
  for p = 1, 3 do blocked[p] = self.area[p] ~= M.GREEN end
  for _, st in ipairs(list) do
    if not on_any(st, blocked) then
      local s = st.session
      while s.level > 0 and self:fits(st, st.lv[s.level - 1], thr) do
        s.level = s.level - 1
        st.dirty = true
        self:set_allow(st, st.lv[s.level])
      end
      if s.level == 0 then
        s.red = nil
      else
        for p = 1, 3 do blocked[p] = blocked[p] or st.on[p] end
      end
    end
  end
end

-- Fail-safe (meter silent): every session to the safe current, nothing new.
function G:fail_safe()
  local fsc = self.c.fail_safe_current
  for _, st in ipairs(self.stations) do
    local s = st.session
    if s and s.status == "charging" then
      if fsc == 0 then
        self:stop(st, true)
      else
        if s.level < 2 then
          s.level, s.reductions, st.dirty = 2, s.reductions + 1, true
          if not s.red then
            self.seq, self.seq_dirty = self.seq + 1, true
            s.red = self.seq
          end
        end
        local a = st.lv[2]
        if fsc and fsc < a then a = math.max(fsc, self.c.min_current) end
        self:set_allow(st, a)
      end
    end
  end
end

-- ON/OFF = OFF: no management; every request is authorized at the rated current.
function G:unmanaged()
  for _, st in ipairs(self.stations) do
    local s = st.session
    if s and not st.stale and (s.status ~= "charging" or s.level ~= 0) then
      s.red = nil
      self:start(st, 0)
    end
  end
end

-- ------------------------------------------------------------ commands
function G:send(st, target, value, field)
  st[field] = value
  self.io.write(target, value, function(ok, err)
    local streak = field .. "_failing"
    if ok then
      if field == "sent_sp" then st.acked_sp = value end
      st[streak] = false
      return
    end
    if st[field] == value then st[field] = nil end  -- sent again at the next step
    if not st[streak] then
      st[streak] = true
      self.io.log("warn", string.format("%s: %s = %g failed: %s", st.name, target, value, tostring(err)))
      self.io.emit("greenup_command_failed", "warning", {station = st.name, target = target, value = value, error = tostring(err)})
    end
  end)
end

function G:command(st)
  local s = st.session
  if not s and st.sent_en ~= 1 then return end
  if s and s.status == "charging" then
    if st.sent_sp ~= st.allow then self:send(st, st.cfg.setpoint_target, st.allow, "sent_sp") end
    if st.sent_en ~= 1 then self:send(st, st.cfg.enable_target, 1, "sent_en") end
  elseif s then
    if st.sent_en ~= 0 and (st.sent_en == 1 or st.state == S.CHARGING or st.state == S.WAITING) then
      self:send(st, st.cfg.enable_target, 0, "sent_en")
    end
  elseif st.sent_en == 1 and st.state ~= S.ERROR then
    self:send(st, st.cfg.enable_target, 0, "sent_en")  -- the next vehicle must ask again
  end
end

-- ------------------------------------------------------------ the step
function G:step(now)
  local c = self.c
  self.now = now
  self.first_step = self.first_step or now
  local dt = self.last_step and (now - self.last_step) / 1000 or 0
  self.last_step = now
  local stations = self.stations
  for i = 1, #stations do self:observe(stations[i], dt) end

  -- Meter freshness: silent for stale_after (or never heard) -> fail-safe.
  local failsafe = false
  if c.meter then
    for p = 1, 3 do
      local ts = self.meter_ts[p] or self.first_step
      if now - ts > self.stale_ms then failsafe = true end
    end
  end
  if failsafe ~= self.failsafe then
    self.failsafe = failsafe
    self.io.emit(failsafe and "greenup_failsafe" or "greenup_failsafe_cleared", failsafe and "warning" or "info",
      {reason = "meter data older than " .. c.stale .. " s", meter = c.meter and c.meter[1]})
    self.io.log(failsafe and "warn" or "info", failsafe and "meter silent: fail-safe, every session to the safe current"
      or "meter back: normal management")
  end

  self:estimate()
  local I, area = self.I, self.area
  local before = math.max(area[1], area[2], area[3])
  for p = 1, 3 do area[p] = next_area(area[p], I[p], c) end
  local now_area = math.max(area[1], area[2], area[3])
  if now_area ~= before then
    self.io.log("info", string.format("area %s -> %s (%.1f / %.1f / %.1f A)", M.AREA[before], M.AREA[now_area], I[1], I[2], I[3]))
  end
  if now_area < M.RED then self.overload = false end

  if not c.on then
    self:unmanaged()
  elseif self.failsafe then
    self:fail_safe()
  else
    if now_area == M.RED then self:shed() end
    -- Starting and raising: skipped when nothing changed since they last
    -- found nothing to do (same sessions and setpoints, same areas, no less
    -- current), which is most steps.
    local q = self.quiet
    if not (q and q.version == self.version and q.a1 == area[1] and q.a2 == area[2] and q.a3 == area[3]
        and I[1] >= q.i1 and I[2] >= q.i2 and I[3] >= q.i3) then
      local v = self.version
      self:serve_queue()
      self:raise()
      self.quiet = self.version == v and {version = v, a1 = area[1], a2 = area[2], a3 = area[3], i1 = I[1], i2 = I[2], i3 = I[3]} or nil
    end
  end

  self:persist(now)
  if c.status_every > 0 and now - self.status_at >= c.status_every * 1000 then
    self.status_at = now
    self.io.log("info", self:status_line())
  end
end

function G:persist(now)
  local stations = self.stations
  for i = 1, #stations do
    local st = stations[i]
    local s = st.session
    if s or st.sent_en == 1 then self:command(st) end
    if s and (st.dirty or now - st.saved_at >= 60000) then
      self.io.save(S.key(st), s)
      st.dirty, st.saved_at = false, now
    end
  end
  if self.seq_dirty then
    self.io.save("seq", self.seq)
    self.seq_dirty = false
  end
end

-- ------------------------------------------------------------ reporting
local LEVEL = {[0] = "100%", "step1", "step2"}

function G:status_line()
  local c, I = self.c, self.I
  local area = math.max(self.area[1], self.area[2], self.area[3])
  local parts = {string.format("%s%s %.1f A (L1 %.1f L2 %.1f L3 %.1f; max %g, charging %g)",
    M.AREA[area]:upper(), self.failsafe and " FAIL-SAFE" or (c.on and "" or " OFF"),
    math.max(I[1], I[2], I[3]), I[1], I[2], I[3], c.max, c.max_charging)}
  for _, st in ipairs(self.stations) do
    local s = st.session
    local what
    if st.stale then
      what = "no-data"
    elseif st.state == S.ERROR then
      what = "error"
    elseif not s then
      what = "free"
    elseif s.status == "waiting" then
      what = s.hold == "wait" and "wait(user)" or "waiting"
    else
      what = string.format("%s %gA %.1fA", LEVEL[s.level], st.allow, S.phase_current(st))
    end
    parts[#parts + 1] = st.name .. " " .. what .. ((s and s.prio) and " P" or "")
  end
  return table.concat(parts, " | ")
end

-- For tests and the status line: a summary of the current decisions.
function G:snapshot()
  local out = {area = M.AREA[math.max(self.area[1], self.area[2], self.area[3])], current = {self.I[1], self.I[2], self.I[3]},
    failsafe = self.failsafe, stations = {}}
  for _, st in ipairs(self.stations) do
    local s = st.session
    out.stations[st.name] = s and {status = s.status, level = s.level, setpoint = st.allow, ah = s.ah} or {status = "free"}
  end
  return out
end

return M
