-- gridlet.greenup: EV charging load management, the Legrand Energy Web Server
-- "Green'Up" logic (manual 7.12.5 and 8.3), as a library independent of the
-- gridlet API so that it can be driven by the rule (scripts/rules/greenup.lua),
-- tests and benchmarks alike:
--
--   local greenup = require("gridlet.greenup")
--   local g = greenup.new(params, io)   -- io: now, mono, write, emit, log, load, save
--   g:use_latest(value, ts)             -- station data: value[i], ts[i] of g.latest_series[i]
--   g:feed(series, value, ts, quality)  -- a sample of g.trigger_series (meter, overrides)
--   g:step(now)                         -- one control step: decide, command, persist
--
-- The station data tables are kept up to date by the host (the rule passes
-- its gridlet.latest view); feed() returns true for a meter sample, after
-- which the caller runs a step.
--
-- io.now() is the wall clock (UTC ms: session times, history); io.mono() a
-- monotonic clock (ms; defaults to io.now): every duration, timeout and
-- integral (staleness, commands in flight, Ah) is measured on it, and data
-- count as fresh from when they were received, not from their timestamps.
-- io.write(target, value, on_reply(ok, err)) sends a command; io.emit(type,
-- severity, body) an event; io.log(level, text); io.load(key) / io.save(key,
-- value) persistent state. The behaviour, every parameter and every decision
-- where the manual is silent: scripts/lib/gridlet/README.md.
--
-- The code: this file (inputs, sessions, the step); greenup/estimate.lua
-- (areas, installation current), greenup/decide.lua (reduce, stop, start,
-- raise), greenup/commands.lua, greenup/report.lua, greenup/params.lua,
-- greenup/sessions.lua.
local params = require("gridlet.greenup.params")
local S = require("gridlet.greenup.sessions")
local E = require("gridlet.greenup.estimate")
local D = require("gridlet.greenup.decide")

local M = {}
M.GREEN, M.YELLOW, M.RED = E.GREEN, E.YELLOW, E.RED
M.AREA = E.AREA
local AVAILABLE, CONNECTED, CHARGING, WAITING, ERROR = S.AVAILABLE, S.CONNECTED, S.CHARGING, S.WAITING, S.ERROR

local G = {}
G.__index = G
for _, part in ipairs({E, D, require("gridlet.greenup.commands"),
    require("gridlet.greenup.report")}) do
  for name, f in pairs(part.methods) do G[name] = f end
end

local function level_current(c, rated, pct)
  local a = math.floor(rated * pct / 100 * 10 + 1e-6) / 10
  if a < c.min_current then a = c.min_current end  -- never below 6 A (IEC 61851)
  if a > rated then a = rated end
  return a
end

-- A station's series, in slot order (its field in the station table: the slot).
local STATION_POINTS = {{"state", "k_state"}, {"current/l1", "k_l1"}, {"current/l2", "k_l2"},
  {"current/l3", "k_l3"}, {"session/ah", "k_ah"}, {"session/wh", "k_wh"}}

function M.new(p, io)
  local c = params.check(p)
  local self = setmetatable({
    c = c, io = io, stations = {}, inputs = {}, latest_series = {}, value = {}, ts = {},
    trigger_series = {},
    meter = {0, 0, 0}, meter_ts = {false, false, false}, meter_recv = {false, false, false},
    meter_fresh = {false, false, false},
    area = {1, 1, 1}, I = {0, 0, 0}, now = 0, mono = 0, last_step = nil, first_step = nil,
    implausible = 0, implausible_said = nil,
    est_up = {0, 0, 0}, est_down = {0, 0, 0}, est_unsure = {false, false, false}, est_mine = {0, 0, 0}, est_sum = {0, 0, 0}, base_next = {0, 0, 0},
    failsafe = false, overload = false, status_at = 0, seq = io.load("seq") or 0, overrides_seen = 0, version = 0,
  }, G)
  self.stale_ms, self.response_ms = c.stale * 1000, c.response * 1000
  io.mono = io.mono or io.now
  -- The other loads last known (A per phase, saved with the sessions): until
  -- the meter's first reading after a restart, the fail-safe counts them.
  local kb = io.load("other_loads")
  if type(kb) == "table" and type(kb[1]) == "number" and type(kb[2]) == "number" and type(kb[3]) == "number" then
    self.known_base = {kb[1], kb[2], kb[3]}
  end
  -- The meter and the overrides: one setter per series, fn(value, ts) ->
  -- true for a meter sample (the caller then runs a control step). A meter
  -- reading no installation can carry (negative, or above twice the
  -- Maximum current available: a sentinel such as 6553.5 A, a glitch) is
  -- bad data: ignored and counted, so a meter sending only such readings
  -- goes silent (fail-safe).
  local meter, meter_ts, meter_recv, triggers = self.meter, self.meter_ts, self.meter_recv, self.trigger_series
  local meter_top = 2 * c.max
  if c.meter then
    if c.meter_single then
      self.inputs[c.meter[1]] = function(v, ts)
        if v < -0.5 or v > meter_top then return self:reject(c.meter[1], v, "meter") end
        local r, fresh = io.mono(), self.meter_fresh
        meter[1], meter[2], meter[3] = v, v, v
        meter_ts[1], meter_ts[2], meter_ts[3] = ts, ts, ts
        meter_recv[1], meter_recv[2], meter_recv[3] = r, r, r
        fresh[1], fresh[2], fresh[3] = true, true, true
        return true
      end
      triggers[1] = c.meter[1]
    else
      for k = 1, 3 do
        self.inputs[c.meter[k]] = function(v, ts)
          if v < -0.5 or v > meter_top then return self:reject(c.meter[k], v, "meter") end
          meter[k], meter_ts[k], meter_recv[k] = v, ts, io.mono()
          self.meter_fresh[k] = true
          return true
        end
        triggers[k] = c.meter[k]
      end
    end
  end
  triggers[#triggers + 1] = c.override_prefix .. "/"
  for i, sc in ipairs(c.stations) do
    local st = {
      cfg = sc, name = sc.name, on = sc.on, index = i, single = sc.phases == 1,
      lv = {[0] = sc.rated, level_current(c, sc.rated, c.step1), level_current(c, sc.rated, c.step2)},
      raw = {0, 0, 0}, state = nil, recv = nil, seen1 = nil, seen2 = nil,
      top = sc.rated * 1.2 + 1,  -- a current above this is no reading (rated + 20 %)
      allow = 0, pend_until = 0, pend = "down", sent_sp = nil, sent_en = nil, acked_sp = nil,
      dirty = false, saved_at = 0,
    }
    st.m = st.single and {0, 0, 0} or st.raw
    st.pm, st.m_ts, st.pm_ts = {0, 0, 0}, nil, nil  -- the measurement before the latest, and their times
    for _, point in ipairs(STATION_POINTS) do
      local slot = #self.latest_series + 1
      self.latest_series[slot], st[point[2]] = sc.name .. "/" .. point[1], slot
    end
    local s = io.load(S.key(st))
    if type(s) == "table" and s.start then
      st.session = s
      if s.status == "charging" then
        -- A restored session is commanded again: reserved at its setpoint
        -- (its vehicle may start drawing) until the station answers after
        -- the response time.
        st.allow = st.lv[s.level] or sc.rated
        st.pend, st.pend_until = "up", io.mono() + self.response_ms
      end
    end
    self.stations[i] = st
    local o = c.override_prefix .. "/" .. sc.name .. "/"
    self.inputs[o .. "start_wait"] = function(v) self:override(st, "start_wait", v) end
    self.inputs[o .. "priority"] = function(v) self:override(st, "priority", v) end
  end
  -- The run-time charging limit (<prefix>/charging_limit, A): the demand
  -- controller's, or `gridlet publish`. Kept across restarts.
  c.max_cfg, c.max_charging_cfg = c.max, c.max_charging
  self.inputs[c.override_prefix .. "/charging_limit"] = function(v) self:set_charging_limit(v) end
  local kept = io.load("charging_limit")
  if type(kept) == "number" then self:set_charging_limit(kept) end
  return self
end

-- Lowers (or raises back) the Maximum current available for the charging
-- at run time, to `amps` (at most the configured value). The maximum
-- current available goes down by as much, so that the room left to charging
-- shrinks by that many amperes whatever the other loads: above it the
-- installation is red and the sessions are reduced, then stopped, by the
-- manual's own rules (steps, minimum current, minimum guaranteed quantity,
-- priority), at the next control step.
function G:set_charging_limit(amps)
  local c = self.c
  if type(amps) ~= "number" or amps ~= amps or amps < 0 then
    self.io.log("warn", "charging_limit " .. tostring(amps) .. " ignored: want amperes >= 0")
    return
  end
  local limit = math.min(amps, c.max_charging_cfg)
  if limit == c.max_charging then return end
  local lowered = c.max_charging_cfg - limit
  c.max_charging, c.max = limit, c.max_cfg - lowered
  self.version = self.version + 1
  self.io.save("charging_limit", lowered > 0 and limit or nil)
  self.io.log("info", lowered > 0 and
    string.format("charging limit %g A (configured %g A): maximum current available %g A until it is raised", limit,
      c.max_charging_cfg, c.max) or
    string.format("charging limit back to the configured %g A (maximum current available %g A)", limit, c.max))
end

-- Station data: tables the host keeps up to date with the latest good
-- sample of each series (slots in the order of self.latest_series).
function G:use_latest(value, ts)
  self.value, self.ts = value, ts
end

-- One sample of the meter or an override. Returns true when it came from the
-- meter (the caller then runs a control step: the logic reacts to every new
-- meter sample). Bad quality or NaN samples are ignored (stale data then
-- leads to the fail-safe).
function G:feed(series, value, ts, quality)
  if (quality and quality <= 0) or value ~= value then return false end
  local f = self.inputs[series]
  return f ~= nil and f(value, ts) == true
end

-- Run-time overrides (manual 8.3.2): Start/Wait and Normal/Priority, for the
-- current session only.
-- Bad data (implausible readings): ignored, counted, said at once and then
-- at most once a minute with the count. Returns false (not a meter sample).
function G:reject(what, v, kind)
  self.implausible = self.implausible + 1
  local mono = self.io.mono()
  if not self.implausible_said or mono - self.implausible_said >= 60000 then
    self.implausible_said = mono
    self.io.log("warn", string.format("%s: implausible %s reading %g A ignored (%d so far)", what, kind, v, self.implausible))
  end
  return false
end

function G:override(st, kind, value)
  self.overrides_seen = self.overrides_seen + 1
  local s = st.session
  local what = kind == "priority" and (value >= 0.5 and "Priority" or "Normal") or (value >= 0.5 and "Start" or "Wait")
  if not s then
    self.io.log("info", string.format("%s: %s ignored: no charging session", st.name, what))
    return
  end
  self.now, self.mono = self.io.now(), self.io.mono()
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

-- ------------------------------------------------------------ sessions
-- A station's latest data. It is stale (not answering) when its state or
-- its L1 current is missing or older than stale_after: both are needed to
-- manage it. A three-phase station's measured currents are its raw ones
-- (st.raw is st.m); a single-phase one's are put on its phase.
function G:observe(st, dt)
  local mono, V = self.mono, self.value
  -- Fresh data: a new L1 sample (the state comes with it), taken at its
  -- timestamp on the monotonic clock (a wall-clock step changes nothing;
  -- never later than now: a sample stamped before a step back counts as
  -- received now). What the view held at the start counts only if its
  -- timestamps are recent. A command is settled only by data taken after
  -- it. Implausible currents (negative, or above the rating + 20 %: a
  -- sentinel such as 6553.5 A) are not data: the last good ones are kept,
  -- and a station sending only such readings goes silent.
  local k = st.k_l1
  local T = self.ts
  local t2 = T[k]
  local fresh, l1, l2, l3 = false, nil, nil, nil
  local seen = st.seen2
  if t2 ~= seen and t2 then
    local t1 = T[st.k_state]
    if t1 then
      st.seen2 = t2
      local top = st.top
      l1 = V[k] or 0
      local bad = nil
      if l1 < -0.5 or l1 > top then
        bad = l1
      elseif not st.single then  -- l2, l3: the slots after l1
        l2, l3 = V[k + 1] or 0, V[k + 2] or 0
        if l2 < -0.5 or l2 > top then bad = l2 elseif l3 < -0.5 or l3 > top then bad = l3 end
      end
      if bad then
        self:reject(st.name, bad, "station current")
      elseif seen or (self.now - t1 <= self.stale_ms and self.now - t2 <= self.stale_ms) then
        -- (A sample stamped before a forward clock step maps with the
        -- offset of then, else it would look that much older; never later
        -- than now; never before the data it follows.)
        local t, jb = t1 < t2 and t1 or t2, self.jump_before
        local taken = t - ((jb and t <= jb) and self.jump_old_offset or self.offset)
        if taken > mono then taken = mono end
        local before = st.recv
        if before and taken < before then taken = before end
        st.recv, fresh = taken, true
      end
    end
  end
  local recv = st.recv
  if not recv or mono - recv > self.stale_ms then return self:silent(st) end
  if st.stale ~= false then self:answering(st) end
  if fresh then
    -- The measurement before the latest is kept with its time (estimate:
    -- what the meter's reading holds of this station): the two tables
    -- swap, and the older one takes the new measurement.
    local m, pm = st.pm, st.m
    st.pm, st.m, st.pm_ts, st.m_ts = pm, m, st.m_ts, t2
    if st.single then
      local on = st.on
      st.raw[1] = l1
      m[1], m[2], m[3] = on[1] and l1 or 0, on[2] and l1 or 0, on[3] and l1 or 0
    else
      m[1], m[2], m[3] = l1, l2, l3
      st.raw = m
    end
    -- A new state (a vehicle that pauses or resumes leaves or joins those
    -- that may be raised or reduced) or a new measured current (what a
    -- session draws is part of whether another fits, beside the
    -- installation current): the decisions' memos look again.
    local state = V[st.k_state]
    if state ~= st.state or m[1] ~= pm[1] or m[2] ~= pm[2] or m[3] ~= pm[3] then
      st.state = state
      self.version = self.version + 1
    end
  end
  local state = st.state
  local s = st.session
  if s then
    if state ~= CHARGING then
      if state == AVAILABLE or state == ERROR then
        return self:finish(st, state == ERROR and "station_error" or "vehicle_left")
      elseif state ~= CONNECTED and state ~= WAITING then
        return
      end
    end
  else
    if state == AVAILABLE or (state ~= CONNECTED and state ~= CHARGING and state ~= WAITING) then return end
    -- A new charge request; a station found charging on its own (nobody
    -- authorized it) is adopted as a session in progress.
    s = S.new(st, self.now, state ~= CONNECTED)
    st.session = s
    self.version = self.version + 1
    st.dirty = true
    if s.status == "charging" then self:set_allow(st, st.lv[0]) end
    self.io.log("info", string.format("%s: vehicle connected (%s)", st.name, s.status == "charging" and "already charging" or "charge request"))
  end
  -- Metering: current range while charging, Ah and Wh (the station's own
  -- session counters win; without them, integrate). The range and a full
  -- vehicle change only with fresh data.
  local r = st.raw
  local i = r[1]
  if not st.single then
    if r[2] > i then i = r[2] end
    if r[3] > i then i = r[3] end
  end
  if fresh then
    if state == CHARGING then
      if i >= 0.5 then
        local lo, hi = s.imin, s.imax
        if not lo or i < lo then s.imin = i end
        if not hi or i > hi then s.imax = i end
      end
    elseif state == WAITING and s.status == "charging" then
      s.full = true
    end
  end
  local ah, wh = V[st.k_ah], V[st.k_wh]
  if ah then s.ah = ah elseif i > 0 then s.ah = s.ah + i * dt / 3600 end
  if wh then
    s.wh = wh
  elseif i > 0 then
    local sum = st.single and r[1] or (r[1] + r[2] + r[3])
    s.wh = s.wh + sum * self.c.voltage * dt / 3600
  end
  -- A station whose vehicle still draws clearly more than its setpoint once
  -- a reduction has had three times the response time (a faulty vehicle,
  -- or a station that ignores setpoints) is not following: an event, and
  -- its session is stopped (enable 0), since reducing others for it would
  -- be unfair and may not be enough. Said once per session.
  if st.lag_from then self:check_following(st, s, fresh) end
  -- A station that did not follow a command within the response time gets it again.
  -- (Data taken after the response time shows it; a slow vehicle gets the
  -- command again, which is harmless, while its reservation holds.)
  local en = st.sent_en
  if (en == 1 and state == CONNECTED and s.status == "charging") or (en == 0 and state == CHARGING and s.status == "waiting") then
    local u = st.pend_until
    if mono >= u and recv > u and mono >= (st.resend_at or 0) then
      -- Sent again: in flight again (a re-enabled vehicle is reserved at
      -- its setpoint until the station answers after the response time).
      st.sent_en = nil
      st.resend_at = mono + self.response_ms
      st.pend, st.pend_until = s.status == "charging" and "up" or "down", mono + self.response_ms
      self.version = self.version + 1
    end
  end
end

-- A station without fresh data for stale_after (or never heard): counted
-- at the higher of its last current and its setpoint (estimate). Its loss
-- is an event, once per loss: a station that stops answering, or that has
-- not answered within stale_after of the start.
function G:silent(st)
  local mono = self.mono
  if not st.silent_reported and
      (st.stale == false or (self.first_mono and mono - self.first_mono > self.stale_ms)) then
    st.silent_reported = true
    self.io.emit("greenup_station_not_answering", "warning", {station = st.name,
      last_data_s_ago = st.recv and math.floor((mono - st.recv) / 1000) or nil})
    self.io.log("warn", string.format("%s: not answering (no state or current for %d s): counted at the higher of its last current and its setpoint", st.name, self.c.stale))
  end
  if st.stale ~= true then
    st.stale = true
    self.version = self.version + 1
  end
end

-- A station answering (again, or for the first time).
function G:answering(st)
  if st.silent_reported then
    st.silent_reported = false
    self.io.emit("greenup_station_answering", "info", {station = st.name})
    self.io.log("info", st.name .. ": answering again")
  end
  st.stale = false
  self.version = self.version + 1
end

-- A reduction not yet followed (st.lag_from): it followed, or after three
-- times the response time the station is not following.
function G:check_following(st, s, fresh)
  local m, a = st.m, st.allow
  local worst = math.max(m[1], m[2], m[3])
  if fresh and worst <= a + 0.5 then
    st.lag_from = nil  -- it followed
  elseif s.status == "charging" and E.lagged_out(self, st) and worst > a + 1 then
    local waited = math.floor((self.mono - st.lag_from) / 1000 + 0.5)
    if not s.not_following then
      s.not_following = true
      self.io.emit("greenup_station_not_following", "warning",
        {station = st.name, setpoint = a, current = worst, waited_s = waited})
      self.io.log("warn", string.format("%s: draws %.1f A with a setpoint of %.1f A after %d s: not following, session stopped",
        st.name, worst, a, waited))
    end
    st.shed_until, st.lag_from = nil, nil
    self:stop(st, true)
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
  st.lag_from = nil
  if reason == "station_error" then st.sent_en = nil end
end

-- ------------------------------------------------------------ the step
function G:step(now)
  local c = self.c
  local mono = self.io.mono()
  self.now, self.mono = now, mono
  self.first_step = self.first_step or now
  self.first_mono = self.first_mono or mono
  -- Ah are integrated over monotonic time: a wall-clock step credits nothing.
  local dt = self.last_mono and (mono - self.last_mono) / 1000 or 0
  self.last_step, self.last_mono = now, mono
  local stations = self.stations
  -- A wall-clock step (the two clocks drift apart by more than 2 s between
  -- steps) is left out of the sessions' durations.
  local offset = now - mono
  local jump = self.offset and offset - self.offset or 0
  self.offset = offset
  if jump > 2000 or jump < -2000 then
    for i = 1, #stations do
      local s = stations[i].session
      if s then s.skew, stations[i].dirty = (s.skew or 0) + jump, true end
    end
    -- A forward step: station samples stamped before it (at or before what
    -- the old clock reads now) keep the old offset, for stale_after.
    if jump > 2000 then
      self.jump_old_offset, self.jump_mono = offset - jump, mono
      self.jump_before = mono + self.jump_old_offset
    end
  end
  if self.jump_before and mono - self.jump_mono > self.stale_ms then self.jump_before = nil end
  local observe = G.observe
  for i = 1, #stations do observe(self, stations[i], dt) end

  -- Meter freshness, by receive time: silent for stale_after (or never
  -- heard) -> fail-safe. Until every phase has been read once, nothing is
  -- started or raised (the other loads are unknown).
  local failsafe, meter_known, silent = false, true, nil
  if c.meter then
    for p = 1, 3 do
      local r = self.meter_recv[p]
      if not r then meter_known = false end
      if mono - (r or self.first_mono) > self.stale_ms then
        failsafe = true
        silent = silent or c.meter[c.meter_single and 1 or p]
      end
    end
  end
  if meter_known ~= self.meter_known then
    self.meter_known = meter_known
    if not meter_known then
      self.io.log("info", "waiting for the meter's first reading: no session is started or raised before it")
    end
  end
  if failsafe ~= self.failsafe then
    self.failsafe = failsafe
    self.io.emit(failsafe and "greenup_failsafe" or "greenup_failsafe_cleared", failsafe and "warning" or "info",
      {reason = "meter data older than " .. c.stale .. " s", meter = silent or (c.meter and c.meter[1])})
    self.io.log(failsafe and "warn" or "info", failsafe and "meter silent: fail-safe, every session to the safe current"
      or "meter back: normal management")
  end

  self:estimate()
  local I, area = self.I, self.area
  local before = math.max(area[1], area[2], area[3])
  for p = 1, 3 do area[p] = E.next_area(area[p], I[p], c) end
  local now_area = math.max(area[1], area[2], area[3])
  if now_area ~= before then
    self.io.log("info", string.format("area %s -> %s (%.1f / %.1f / %.1f A)", E.AREA[before], E.AREA[now_area], I[1], I[2], I[3]))
  end
  if now_area < E.RED then self.overload = false end

  if not c.on then
    self:unmanaged()
  elseif self.failsafe then
    self:fail_safe()
  else
    if now_area == E.RED then self:shed() end
    -- Starting and raising: skipped when nothing changed since they last
    -- found nothing to do (same sessions and setpoints, same areas, no less
    -- current on any phase, or not below the room found: decide.lua,
    -- "Room"), which is most steps; and before the meter's first reading.
    -- (check_memos: looked for anyway, and an error if that acts.)
    -- With check_memos, a skipped search is run anyway as an audit that
    -- changes no memo (so a memo is checked at every step it is kept).
    self.auditing = false
    local q = self.quiet
    local skip = q and D.nothing_new(self, q)
    if meter_known and not skip then
      local v = self.version
      local room = D.new_room()
      self.room = room
      self:serve_queue()
      self:raise()
      self.room = nil
      self.quiet = self.version == v and D.no_room_memo(self, room) or nil
    elseif meter_known and c.check_memos then
      local v = self.version
      self.auditing = true
      self:serve_queue()
      self:raise()
      self.auditing = false
      if self.version ~= v then
        error("greenup: check_memos: a start or raise was found although the step's memo said nothing had changed", 0)
      end
    end
  end

  self:persist(mono)
  if c.status_every > 0 and mono - self.status_at >= c.status_every * 1000 then
    self.status_at = mono
    self.io.log("info", self:status_line())
  end
end

function G:persist(mono)
  local stations = self.stations
  for i = 1, #stations do
    local st = stations[i]
    local s = st.session
    if s then
      -- (most steps: a session charging at the setpoint sent, enabled)
      if st.sent_en ~= 1 or st.sent_sp ~= st.allow or s.status ~= "charging" then self:command(st) end
      if st.dirty or mono - st.saved_at >= 60000 then
        self.io.save(S.key(st), s)
        st.dirty, st.saved_at = false, mono
      end
    elseif st.sent_en == 1 then
      self:command(st)
    end
  end
  if self.seq_dirty then
    self.io.save("seq", self.seq)
    self.seq_dirty = false
  end
  -- The other loads, for a restart before the meter answers: saved when
  -- they move by 5 A or more, and at least every 60 s.
  local b = self.meter_known and self.c.meter and self.base
  if b then
    local k = self.saved_base
    if not k or math.abs(b[1] - k[1]) >= 5 or math.abs(b[2] - k[2]) >= 5 or math.abs(b[3] - k[3]) >= 5
        or mono - self.saved_base_at >= 60000 then
      k = {math.floor(b[1] * 10 + 0.5) / 10, math.floor(b[2] * 10 + 0.5) / 10, math.floor(b[3] * 10 + 0.5) / 10}
      self.saved_base, self.saved_base_at = k, mono
      self.io.save("other_loads", k)
    end
  end
end

return M
