-- gridlet.greenup.estimate: the areas and the installation current as
-- gridlet.greenup sees it once the commands sent are followed (reservations,
-- per-phase accounting, the meter/station polling skew). Methods of the
-- greenup object (installed by gridlet.greenup) plus shared helpers.
local E = {methods = {}}
local NEVER = -math.huge  -- "no data yet" as a time (a local: hot paths)
local G = E.methods

E.GREEN, E.YELLOW, E.RED = 1, 2, 3
E.AREA = {"green", "yellow", "red"}

-- A command is in flight until the station's data taken after its
-- response time has passed (pend_until, monotonic ms; data taken exactly
-- then may not show it yet) arrives: until then
-- its measured current may still be the old one, and acting on it again
-- would shed or raise twice (slow polling, slow vehicles).
--
-- A vehicle slower than response_time: while its station's data shows it
-- has not followed yet (still above a lowered setpoint, or below a raised
-- one), the command stays in flight for up to twice response_time more.
local function not_followed(st)
  local m, a, on = st.m, st.allow, st.on
  if st.pend == "up" then
    for p = 1, 3 do
      if on[p] and m[p] >= a - 0.5 then return false end
    end
    return true
  end
  return m[1] > a + 0.5 or m[2] > a + 0.5 or m[3] > a + 0.5
end

-- A station that has lagged behind a reduction (lag_from: the first
-- reduction it has not followed yet, monotonic ms) gets three times
-- response_time in all, whatever was sent since: after that its commands
-- are no longer in flight (it counts at what it draws), and it is not
-- following (greenup.lua).
local function lagged_out(self, st)
  local lag = st.lag_from
  if lag == nil then return false end
  local cap = lag + 3 * self.response_ms  -- and data taken after it still shows the lag
  return self.mono >= cap and (st.recv or NEVER) > cap
end
E.lagged_out = lagged_out

local function pending(self, st)
  local u, mono = st.pend_until, self.mono
  if st.pend ~= "up" and st.lag_from then return not lagged_out(self, st) end
  return mono < u or (st.recv or NEVER) <= u
    or (mono < u + 2 * self.response_ms and not_followed(st))
end
E.pending = pending

-- A reduction is in flight until the station's data received after its
-- response time arrives (shed_until, monotonic ms; set by every lowering
-- command): until then its vehicle may still draw the old current.
local function shedding(self, st)
  local u, mono = st.shed_until, self.mono
  if u == nil then return false end
  if st.lag_from then return not lagged_out(self, st) end
  if mono < u or (st.recv or NEVER) <= u then return true end
  if mono >= u + 2 * self.response_ms then
    -- Settled for good: data taken after it came, and the time a slow
    -- vehicle gets is over (the next reduction sets it again).
    st.shed_until = nil
    return false
  end
  local m, a = st.m, st.allow
  return m[1] > a + 0.5 or m[2] > a + 0.5 or m[3] > a + 0.5
end
E.shedding = shedding

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
  if pending(self, st) then
    local mode, a = st.pend, st.allow
    if mode == "up" then return m > a and m or a end  -- raised or started: reserved
    if mode == "resv" then return a end               -- lowered while still reserved
    return m < a and m or a                           -- lowered: counted at once
  end
  return m
end
E.expected = expected

-- The area of one phase at current i, coming from area z (hysteresis band).
function E.next_area(z, i, c)
  local up = (i >= c.max) and 3 or ((i >= c.max_charging) and 2 or 1)
  if up >= z then return up end
  if z == 3 and i >= c.max - c.hysteresis then return 3 end
  if i >= c.max_charging - c.hysteresis then return 2 end
  return 1
end

-- A new setpoint for `st` (0 = stopped); `start`: a session being authorized
-- (vehicles take time to start drawing: its reservation is held longer).
function G:set_allow(st, a, start)
  if a == st.allow then return end
  self.version = self.version + 1
  local I, now = self.I, self.mono
  local old1, old2, old3 = expected(self, st, 1), expected(self, st, 2), expected(self, st, 3)
  local reserved = pending(self, st) and st.pend ~= "down"
  local hold = self.response_ms
  if start and hold < 30000 then hold = 30000 end
  -- A reduction is in flight only if the station draws more than the new
  -- setpoint (a vehicle that left draws nothing: nothing to wait for).
  local m = st.m
  if a < st.allow and (m[1] > a + 0.5 or m[2] > a + 0.5 or m[3] > a + 0.5) then
    st.shed_until = now + self.response_ms
    st.lag_from = st.lag_from or now
  end
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
-- When it does not, and the step is looking for something to start or raise
-- (self.room set), the phase's room is noted: the installation current
-- below which this check could pass (decide.lua, "room").
function G:fits(st, a, thr)
  local I = self.I
  for p = 1, 3 do
    if st.on[p] then
      local m, e = st.m[p], expected(self, st, p)
      local x = m > a and m or a
      if I[p] - e + x >= thr[p] then
        local room = self.room
        if room and thr[p] - x + e > room[p] then room[p] = thr[p] - x + e end
        return false
      end
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
  local I, c = self.I, self.c
  local sum1, sum2, sum3, mine1, mine2, mine3 = 0, 0, 0, 0, 0, 0
  local up, down = self.est_up, self.est_down
  up[1], up[2], up[3], down[1], down[2], down[3] = 0, 0, 0, 0, 0, 0
  local stations = self.stations
  local n_inflight, mono, slow_ms = 0, self.mono, 2 * self.response_ms
  local meter_ts = self.meter_ts
  local unsure = self.est_unsure
  unsure[1], unsure[2], unsure[3] = false, false, false
  local mt = meter_ts[1] and math.min(meter_ts[1], meter_ts[2] or meter_ts[1], meter_ts[3] or meter_ts[1])
  for i = 1, #stations do
    local st = stations[i]
    local ms = st.m
    local m1, m2, m3 = ms[1], ms[2], ms[3]
    -- What the meter's reading holds of this station: its measurement at
    -- or before the meter's (sample times, one gateway clock); a newer one
    -- is not in the meter yet (a reduction seen by the station first would
    -- otherwise be taken for a jump of the other loads).
    -- When the station changed between its two measurements around the
    -- meter's, what the meter saw of it is unknown: that phase keeps the
    -- previous estimate of the other loads (until a meter reading after).
    if mt and st.m_ts and st.m_ts > mt and st.pm_ts and st.pm_ts <= mt then
      local pm = st.pm
      mine1, mine2, mine3 = mine1 + pm[1], mine2 + pm[2], mine3 + pm[3]
      if pm[1] ~= m1 then unsure[1] = true end
      if pm[2] ~= m2 then unsure[2] = true end
      if pm[3] ~= m3 then unsure[3] = true end
    else
      mine1, mine2, mine3 = mine1 + m1, mine2 + m2, mine3 + m3
    end
    -- pending() and shedding(), the common case inlined (every station, every step)
    local recv, u, su = st.recv or NEVER, st.pend_until, st.shed_until
    local inflight
    if st.lag_from then
      inflight = pending(self, st)
    else
      inflight = mono < u or recv <= u or (mono < u + slow_ms and pending(self, st))
    end
    if inflight then n_inflight = n_inflight + 1 end
    if su and shedding(self, st) then n_inflight = n_inflight + 1000 end  -- a count of each kind
    if inflight or st.stale then
      local on, e = st.on, 0
      for p = 1, 3 do
        if on[p] then
          local m = ms[p]
          e = expected(self, st, p)
          if p == 1 then sum1 = sum1 + e elseif p == 2 then sum2 = sum2 + e else sum3 = sum3 + e end
          if inflight then
            -- Only a start or raise can explain a rise the meter saw first
            -- (a reduced vehicle drawing below its new setpoint will not rise).
            local a = st.allow
            if a > m then
              if st.pend == "up" then up[p] = up[p] + a - m end
            else
              down[p] = down[p] + m - a
            end
          end
        end
      end
    else  -- settled: it draws what it measures
      sum1, sum2, sum3 = sum1 + m1, sum2 + m2, sum3 + m3
    end
  end
  -- How many commands are in flight: a decision memo is valid only while
  -- it is unchanged (one settling may make room without changing I).
  self.inflight = n_inflight
  if not c.meter then
    I[1], I[2], I[3] = sum1, sum2, sum3
    return
  end
  local prev, base, meter = self.base, self.base_next, self.meter
  local mine, sum = self.est_mine, self.est_sum
  mine[1], mine[2], mine[3], sum[1], sum[2], sum[3] = mine1, mine2, mine3, sum1, sum2, sum3
  -- The other loads are measured by a meter reading: a step without a new
  -- one (the control period, a station's change) keeps them, since the
  -- stations' newer measurements are not in the old reading.
  local recv, known, fresh = self.meter_recv, self.known_base, self.meter_fresh
  self.meter_fresh = {false, false, false}
  for p = 1, 3 do
    local b = meter[p] - mine[p]
    if b < 0 then b = 0 end
    if not recv[p] and known then
      b = known[p]  -- no reading since the start: the other loads last known (saved state)
    elseif prev and not fresh[p] then
      b = prev[p]
    elseif prev then
      if unsure[p] then b = prev[p] end
      if b > prev[p] and up[p] > 0 then b = math.max(prev[p], b - up[p]) end
      if b < prev[p] and down[p] > 0 then b = math.min(prev[p], b + down[p]) end
    end
    base[p] = b
    I[p] = b + sum[p]
  end
  self.base, self.base_next = base, prev or {0, 0, 0}
end

return E
