-- gridlet.greenup.report: the live status line and a snapshot of the
-- decisions (tests, demo). Methods of the greenup object (installed by
-- gridlet.greenup).
local E = require("gridlet.greenup.estimate")
local S = require("gridlet.greenup.sessions")

local R = {methods = {}}
local G = R.methods

local LEVEL = {[0] = "100%", "step1", "step2"}

function G:status_line()
  local c, I = self.c, self.I
  local area = math.max(self.area[1], self.area[2], self.area[3])
  local parts = {string.format("%s%s %.1f A (L1 %.1f L2 %.1f L3 %.1f; max %g, charging %g)",
    E.AREA[area]:upper(), self.failsafe and " FAIL-SAFE" or (c.on and "" or " OFF"),
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
  local out = {area = E.AREA[math.max(self.area[1], self.area[2], self.area[3])], current = {self.I[1], self.I[2], self.I[3]},
    failsafe = self.failsafe, stations = {}}
  for _, st in ipairs(self.stations) do
    local s = st.session
    out.stations[st.name] = s and {status = s.status, level = s.level, setpoint = st.allow, ah = s.ah} or {status = "free"}
  end
  return out
end

local STATE = {[S.AVAILABLE] = "available", [S.CONNECTED] = "connected", [S.CHARGING] = "charging",
  [S.WAITING] = "waiting", [S.ERROR] = "error"}

-- The status document (gridlet.status; GET /api/v1/ev): the area, the
-- installation current against the limits and, per station, its state,
-- setpoint, measured current and session. Currents in A, times UTC ms.
function G:status_document()
  local c, I = self.c, self.I
  local area = math.max(self.area[1], self.area[2], self.area[3])
  local stations = {}
  for i, st in ipairs(self.stations) do
    local s = st.session
    stations[i] = {
      name = st.name, rated_current = st.cfg.rated, phases = st.cfg.phases,
      default_priority = st.cfg.priority and "Priority" or "Normal",
      state = st.stale and "no-data" or (STATE[st.state] or "unknown"),
      setpoint = st.allow, measured_current = S.phase_current(st),
      session = s and {
        status = s.status, level = LEVEL[s.level], started_ms = s.start, ah = s.ah, wh = s.wh,
        priority = s.prio and "Priority" or "Normal",
        override = s.hold == "wait" and "Wait" or (s.hold == "start" and "Start" or nil),
        reductions = s.reductions, stops = s.stops,
      } or nil,
    }
  end
  return {
    kind = "greenup", on = c.on, failsafe = self.failsafe, area = E.AREA[area],
    areas = {E.AREA[self.area[1]], E.AREA[self.area[2]], E.AREA[self.area[3]]},
    current = {I[1], I[2], I[3]}, maximum_current_available = c.max,
    maximum_current_available_for_the_charging = c.max_charging,
    configured_charging_limit = c.max_charging_cfg, override_prefix = c.override_prefix,
    stations = stations,
  }
end

return R
