-- Demand limit (peak shaving): keeps the interval demand the utility bills
-- under a limit (per time-of-use schedule) by shedding loads in priority
-- order before the interval ends, and restoring them in reverse order with
-- a margin, never faster than their minimum on and off times allow.
--
--   [[rules]]
--   name = "demand_limit"
--   file = "../scripts/rules/demand_limit.lua"
--   [rules.params]
--   power = "panel1/mains/kw"            # or energy = "...kwh"; interval = "15m"
--   limit_kw = 40
--   schedule = [ { limit_kw = 30, days = "mon-fri", from = "08:00", to = "20:00" } ]
--   loads = [ { name = "boiler", priority = 1, target = "relays/coil1", kw = 6, min_off = "2m", max_off = "30m" },
--             { name = "ev", priority = 2, target = "greenup/charging_limit", publish = true, shed_value = 16, restore_value = 64, kw = 10 } ]
--
-- Events demand_shed / demand_restore; alarms demand_limit_exceeded and
-- demand_data_missing; the interval demand as the series <rule>/kw. Every
-- parameter and decision: scripts/lib/gridlet/README.md.
local demand = require("gridlet.demand")
local demand_limit = require("gridlet.demand_limit")

local ctl_io = demand.rule_io(gridlet)
ctl_io.local_time = demand.os_local_date
ctl_io.publish_value = function(series, value) gridlet.publish(series, value) end
ctl_io.devices = gridlet.devices
ctl_io.raise = function(t) return gridlet.alarm.raise(t) end
ctl_io.clear = function(key, value) return gridlet.alarm.clear(key, value) end
local ctl = demand_limit.new(params, ctl_io, {"step_every", "status_every"})

local step_every = params.step_every or 2
local status_every = params.status_every or 0
if type(step_every) ~= "number" or step_every < 0.1 or step_every > 60 then
  error("demand_limit: params.step_every: must be seconds, 0.1..60", 0)
end
if type(status_every) ~= "number" or status_every < 0 then
  error("demand_limit: params.status_every: must be seconds >= 0", 0)
end

local function kw(v) return v and string.format("%.1f kW", v) or "-" end

gridlet.on(ctl.series, function(value, series, ts, quality) ctl:feed(series, value, ts, quality) end)
gridlet.every(step_every, function(now) ctl:step(now) end)
-- What GET /api/v1/demand shows (called only when asked).
gridlet.status(function() return ctl:status_document(gridlet.now()) end)
if status_every > 0 then
  gridlet.every(status_every, function(now)
    local stop = ctl.d:next_boundary()
    local shed = ctl:shed_names()
    gridlet.log.info("demand_limit: %s predicted for %s, limit %s | last %s | shed: %s | %d switch operations",
      kw(ctl.d:predicted(now)), stop and os.date(ctl.d.c.sub_s % 60 == 0 and "%H:%M" or "%H:%M:%S", math.floor(stop / 1000)) or "-",
      kw(ctl:limit_at(now)),
      kw((ctl.d:present())), #shed > 0 and table.concat(shed, ", ") or "none", ctl.switches)
  end)
end
