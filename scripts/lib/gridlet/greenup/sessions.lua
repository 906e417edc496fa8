-- gridlet.greenup.sessions: the life of a charging session at one station
-- (detection from the station's state, metering, history event, persistence)
-- for gridlet.greenup. A session is a plain table, persisted as
-- state["session/<station>"] so that a restart forgets nothing:
--   start (ms)        when the vehicle was first seen connected
--   status            "waiting" (not authorized) | "charging" (authorized)
--   level             0 = 100 % of the rated current, 1 = first step, 2 = second step
--   red               restore order: sequence number of its first reduction (nil: not reduced)
--   since (ms)        waiting since (the waiting list is served longest-waiting first)
--   prio              Priority for this session (station default or run-time override)
--   hold              nil | "start" | "wait" (run-time override, this session only)
--   ah, wh            delivered so far; imin, imax: measured current while charging (A)
--   skew (ms)         wall-clock steps seen during the session (its duration leaves them out)
--   reductions, stops how many times the logic reduced / stopped it; full: the vehicle stopped drawing
local S = {}

-- Station states (config/profiles/evse.toml, register "state").
S.AVAILABLE, S.CONNECTED, S.CHARGING, S.WAITING, S.ERROR = 0, 1, 2, 3, 4

function S.new(st, now, charging)
  return {
    start = now, status = charging and "charging" or "waiting", level = 0, red = nil,
    since = (not charging) and now or nil, prio = st.cfg.priority, hold = nil,
    ah = 0, wh = 0, imin = nil, imax = nil, reductions = 0, stops = 0, full = false, skew = 0,
  }
end

-- The largest current the station measures on one of its phases (A).
function S.phase_current(st)
  local r = st.raw
  if st.cfg.phases == 1 then return r[1] end
  local m = r[1]
  if r[2] > m then m = r[2] end
  if r[3] > m then m = r[3] end
  return m
end

local function round(x, d)
  local m = 10 ^ d
  return math.floor(x * m + 0.5) / m
end

-- The charge-history record of one session (event "ev_session").
function S.history(st, s, now, reason)
  return {
    station = st.name,
    start = s.start,
    ["end"] = now,
    -- Wall time from start to end, less the wall-clock steps seen meanwhile.
    duration_s = math.floor((now - s.start - (s.skew or 0)) / 1000 + 0.5),
    ah = round(s.ah, 2),
    wh = round(s.wh, 0),
    min_current = round(s.imin or 0, 1),
    max_current = round(s.imax or 0, 1),
    reductions = s.reductions,
    stops = s.stops,
    stop_reason = reason,
    priority = s.prio and "Priority" or "Normal",
    battery_full = s.full,
    phases = st.cfg.phases,
  }
end

function S.key(st)
  return "session/" .. st.name
end

return S
