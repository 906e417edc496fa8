-- gridlet.greenup.decide: the decisions of the manual's Green'Up logic
-- (7.12.5): reducing, stopping, starting and raising sessions, the fail-safe
-- and ON/OFF. Methods of the greenup object (installed by gridlet.greenup);
-- every order and decision is in scripts/lib/gridlet/README.md.
local E = require("gridlet.greenup.estimate")
local S = require("gridlet.greenup.sessions")

local D = {methods = {}}
local G = D.methods
local expected, pending, shedding = E.expected, E.pending, E.shedding

-- Room. Starting and raising are looked for again only when something they
-- depend on changed: the sessions, setpoints, stations' states or commands
-- in flight (a version and a count), an area, what the reductions in flight have still
-- to shed (est_down: it falls as the vehicles come down), or the
-- installation current. A lower current is what can make a start or a
-- raise fit; but each check that failed says how far it must fall: below
-- its "room" on that phase (the current at which it would pass: the
-- threshold less what the station would draw, plus what it draws now; for
-- reducing others to make room, that plus what the reductions would give).
-- While every phase's current stays above the highest room noted on it (or
-- did not fall), every check still fails, so nothing is looked for again.
-- One path acts on a rise: a request that fits once the commands in flight
-- settle waits, but a current that rises until it no longer would makes
-- reducing others worth looking at; that notes a ceiling. (The memo is in
-- greenup.lua's step and in try_start; a margin of 1 µA covers rounding.)
local ROOM_MARGIN = 1e-6

-- Room per phase: [1..3] the current below which a failed check could pass
-- (the highest noted), [4..6] the current from which a waiting request
-- would look at reducing others (the lowest noted).
function D.new_room()
  return {-math.huge, -math.huge, -math.huge, math.huge, math.huge, math.huge}
end

function D.add_room(into, room)
  for p = 1, 3 do
    if room[p] > into[p] then into[p] = room[p] end
    if room[p + 3] < into[p + 3] then into[p + 3] = room[p + 3] end
  end
end

-- A memo of "nothing to do" as things are now, with the room found;
-- `memo`: a table to fill (or nil).
function D.no_room_memo(self, room, memo)
  local I, area, down = self.I, self.area, self.est_down
  memo = memo or {}
  memo.version, memo.inflight, memo.a1, memo.a2, memo.a3 = self.version, self.inflight, area[1], area[2], area[3]
  memo.d1, memo.d2, memo.d3 = down[1], down[2], down[3]
  memo.i1, memo.i2, memo.i3 = I[1], I[2], I[3]
  memo.r1, memo.r2, memo.r3 = room[1] + ROOM_MARGIN, room[2] + ROOM_MARGIN, room[3] + ROOM_MARGIN
  memo.c1, memo.c2, memo.c3 = room[4] - ROOM_MARGIN, room[5] - ROOM_MARGIN, room[6] - ROOM_MARGIN
  memo.room = room
  return memo
end

-- True while nothing the memo depends on changed, and on every phase the
-- current did not fall or is still above the room noted, and is below the
-- ceiling noted.
function D.nothing_new(self, memo)
  local I, area, down = self.I, self.area, self.est_down
  return memo.version == self.version and memo.inflight == self.inflight
    and memo.a1 == area[1] and memo.a2 == area[2] and memo.a3 == area[3]
    and memo.d1 == down[1] and memo.d2 == down[2] and memo.d3 == down[3]
    and (I[1] >= memo.i1 or I[1] > memo.r1) and (I[2] >= memo.i2 or I[2] > memo.r2)
    and (I[3] >= memo.i3 or I[3] > memo.r3)
    and I[1] < memo.c1 and I[2] < memo.c2 and I[3] < memo.c3
end

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
local function not_following(_, st) return st.session.not_following == true end
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
      if area[p] == E.RED and I[p] >= limit then over[p], any = true, true end
    end
    if not any then return end
    -- A session whose station is known not to follow a reduction is
    -- stopped first: reducing it would leave the site above its maximum
    -- for three times response_time again (decision 10).
    local faulty = self:pick(over, not_following, stop_before)
    if faulty then
      self:stop(faulty, true)
      self.io.log("warn", string.format("%s: stopped (red area; its station did not follow a reduction in this session)", faulty.name))
    else
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
end

-- Waiting sessions start longest-waiting first (Priority ones and a
-- run-time Start first). Green: authorized if it fits below the charging
-- limit; yellow: sessions in progress are reduced to make room, if that is
-- enough. Never in the red area; never without reserving its current.
function G:try_start(st)
  local forced = st.session.hold == "start"
  -- Nothing changed since it last could not start (see "Room"): it still
  -- cannot.
  -- (The step's audit, check_memos: searched, no memo changed; the step
  -- fails if anything was done.)
  if self.auditing then return self:try_start_now(st, forced) end
  local memo = st.no_start
  local outer = self.room
  if memo and memo.forced == forced and D.nothing_new(self, memo) then
    if self.c.check_memos then
      local v = self.version
      self.room = nil
      local ok = self:try_start_now(st, forced)
      self.room = outer
      if ok or self.version ~= v then
        error("greenup: check_memos: " .. st.name .. " could start or made room although its memo said nothing had changed", 0)
      end
    end
    if outer then D.add_room(outer, memo.room) end
    return false
  end
  local room = D.new_room()
  self.room = room
  local ok = self:try_start_now(st, forced)
  self.room = outer
  if ok then
    st.no_start = nil
  else
    st.no_start = D.no_room_memo(self, room, {forced = forced})
    if outer then D.add_room(outer, room) end
  end
  return ok
end

-- What the reductions still in flight have not yet shed, per phase: a start
-- is checked against it (the worst case of every pending command), so that
-- a vehicle that starts drawing at once never meets others still coming down.
function G:not_yet_shed(st)
  local extra = {0, 0, 0}
  for _, o in ipairs(self.stations) do
    if o.shed_until and o ~= st and not o.stale and shedding(self, o) then
      for p = 1, 3 do
        if o.on[p] then
          local d = o.m[p] - expected(self, o, p)
          if d > 0 then extra[p] = extra[p] + d end
        end
      end
    end
  end
  return extra
end

-- The highest step at which `st` fits below thr minus what is still to be
-- shed; nil if none.
function G:start_step(st, thr)
  local extra = self:not_yet_shed(st)
  local t = {thr[1] - extra[1], thr[2] - extra[2], thr[3] - extra[3]}
  -- A session whose station did not follow a reduction starts only at its
  -- rated current (what it draws anyway).
  for k = 0, st.session.not_following and 0 or 2 do
    if self:fits(st, st.lv[k], t) then return k end
  end
  return nil
end

function G:try_start_now(st, forced)
  local c, area = self.c, self.area
  local thr, out_of_red, green = {}, {}, true
  for p = 1, 3 do
    if st.on[p] and area[p] == E.RED then return false end
    -- Below the charging limit (green: at it; yellow: with the hysteresis);
    -- a run-time Start only out of red.
    if forced then
      thr[p] = c.max - c.hysteresis
    else
      thr[p] = area[p] == E.GREEN and c.max_charging or (c.max_charging - c.hysteresis)
    end
    out_of_red[p] = c.max - c.hysteresis
    if st.on[p] and area[p] ~= E.GREEN then green = false end
  end
  local k = self:start_step(st, thr)
  if k then self:start(st, k) return true end
  -- Green authorizes every request (manual L1443): below the charging limit
  -- if it fits (reducing others, as below), else at the highest step that
  -- keeps the installation out of red.
  local function otherwise()
    local k2 = green and self:start_step(st, out_of_red)
    if k2 then self:start(st, k2) return true end
    return false
  end
  -- Room needed per phase, and what reducing every other session to the
  -- second step would give.
  -- A session whose station did not follow a reduction is not made room
  -- for: reducing the others for it would be unfair (decision 10).
  if st.session.not_following then return otherwise() end
  local lowest = st.lv[2]  -- the lowest step it may start at (start_step)
  local need, gain, short = {}, {0, 0, 0}, false
  for p = 1, 3 do
    need[p] = st.on[p] and (self.I[p] - expected(self, st, p) + lowest - thr[p]) or -1
    short = short or need[p] >= 0
  end
  -- Not short: it fits once the commands in flight have settled; wait.
  -- (A current that rises to need = 0 on one of its phases would make it
  -- short, and reducing others would be looked at: that is its ceiling.)
  if not short then
    local room = self.room
    if room then
      for p = 1, 3 do
        if st.on[p] and self.I[p] - need[p] < room[p + 3] then room[p + 3] = self.I[p] - need[p] end
      end
    end
    return false
  end
  for _, o in ipairs(self.stations) do
    if o ~= st and active(o) and o.session.level < 2 then
      for p = 1, 3 do
        if o.on[p] and need[p] >= 0 then
          local e = expected(self, o, p)
          local after = (pending(self, o) and o.pend ~= "down") and o.lv[2] or math.min(o.m[p], o.lv[2])
          if e > after then gain[p] = gain[p] + e - after end
        end
      end
    end
  end
  for p = 1, 3 do
    if need[p] >= 0 and gain[p] <= need[p] then
      -- Reducing the others would make room once the current is below
      -- this (need falls with it).
      local room, level = self.room, self.I[p] - need[p] + gain[p]
      if room and level > room[p] then room[p] = level end
      return otherwise()
    end
  end
  local lacking = {need[1] >= 0, need[2] >= 0, need[3] >= 0}
  while not self:fits(st, lowest, thr) do
    local o = self:pick(lacking, function(_, x) return x ~= st and x.session.level < 2 end, reduce_before)
    if not o then return false end
    self:reduce(o)
  end
  -- The reductions just made are in flight: the start waits for them to
  -- show in the measured currents (a later step), unless it fits already.
  k = self:start_step(st, thr)
  if k then self:start(st, k) return true end
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

-- The stations whose session passes keep(st, s), in the order `before`; nil if none.
local function sessions_where(stations, keep, before)
  local list = nil
  for i = 1, #stations do
    local st = stations[i]
    local s = st.session
    if s and keep(st, s) then
      list = list or {}
      list[#list + 1] = st
    end
  end
  if list then table.sort(list, before) end
  return list
end

local function waiting(st, s) return s.status == "waiting" and s.hold ~= "wait" and not st.stale and st.state ~= S.ERROR end

function G:serve_queue()
  local q = sessions_where(self.stations, waiting, queue_before)
  if not q then return end
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

-- (A full or paused vehicle draws nothing: raising it gains nothing, and it
-- must not hold the others back in the restore order.)
local function reduced(st, s) return s.status == "charging" and s.red and not st.stale and st.state ~= S.WAITING end

function G:raise()
  -- Only from the green area: a phase in yellow or red holds its sessions,
  -- and so does a phase where a reduction is still in flight (made for a
  -- waiting request, or for red: raising would undo it before it shows).
  local area = self.area
  if area[1] ~= E.GREEN and area[2] ~= E.GREEN and area[3] ~= E.GREEN then return end  -- nobody can be raised
  local list = sessions_where(self.stations, reduced, reduced_first)
  if not list then return end
  local c = self.c
  local thr = {c.max_charging - c.hysteresis, c.max_charging - c.hysteresis, c.max_charging - c.hysteresis}
  local blocked = {false, false, false}
  for p = 1, 3 do blocked[p] = area[p] ~= E.GREEN end
  for _, o in ipairs(self.stations) do
    if o.shed_until and shedding(self, o) then
      for p = 1, 3 do blocked[p] = blocked[p] or o.on[p] end
    end
  end
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
-- The safe current must keep the installation below its maximum with the
-- last known other loads (the meter's last reading): where it would not,
-- the sessions on that phase go to the minimum charging current, and if
-- that is not enough either, sessions are stopped in the stop order.
function G:fail_safe()
  local c = self.c
  local fsc = c.fail_safe_current
  local I, limit = self.I, c.max - c.hysteresis
  local target, charging = {}, {}
  for _, st in ipairs(self.stations) do
    local s = st.session
    if s and s.status == "charging" then
      local a = st.lv[2]
      if fsc == 0 then a = 0 elseif fsc and fsc < a then a = math.max(fsc, c.min_current) end
      target[st], charging[#charging + 1] = a, st
    end
  end
  -- The installation current per phase with every target followed.
  local function after()
    local t = {I[1], I[2], I[3]}
    for _, st in ipairs(charging) do
      for p = 1, 3 do
        if st.on[p] then t[p] = t[p] - expected(self, st, p) + target[st] end
      end
    end
    return t
  end
  local function over(t)
    local o, any = {false, false, false}, false
    for p = 1, 3 do
      if t[p] >= limit then o[p], any = true, true end
    end
    return any and o or nil
  end
  local o = over(after())
  if o then
    for _, st in ipairs(charging) do
      if on_any(st, o) and target[st] > c.min_current then target[st] = c.min_current end
    end
    o = over(after())
    while o do
      local victim = nil
      for _, st in ipairs(charging) do
        if target[st] > 0 and on_any(st, o) and (victim == nil or stop_before(st, victim)) then victim = st end
      end
      if not victim then break end
      target[victim] = 0
      o = over(after())
    end
  end
  for _, st in ipairs(charging) do
    local s, a = st.session, target[st]
    if a == 0 then
      self:stop(st, true)
      if fsc ~= 0 then
        self.io.log("warn", string.format("%s: stopped (fail-safe: the last known other loads leave no room)", st.name))
      end
    else
      if s.level < 2 then
        s.level, s.reductions, st.dirty = 2, s.reductions + 1, true
        if not s.red then
          self.seq, self.seq_dirty = self.seq + 1, true
          s.red = self.seq
        end
      end
      self:set_allow(st, a)
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

D.on_any = on_any
return D
