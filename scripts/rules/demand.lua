-- Interval demand as the utility bills it (gridlet.demand): from a power
-- series (kW) or an energy counter (kWh), block or sliding sub-intervals,
-- aligned to the site's wall clock, the billing period's peak persisted.
--
--   [[rules]]
--   name = "demand"
--   file = "../scripts/rules/demand.lua"
--   [rules.params]
--   energy = "panel1/mains/kwh"     # or power = "panel1/mains/kw"
--   interval = "15m"                # subintervals = 3 for a sliding window
--   billing_day = 1
--
-- A BCPM can be kept on the same intervals (sync to comms), so that its
-- own demand cross-checks the gateway's:
--   device_demand = "panel1/mains/kw_demand"
--   device_sync = "panel1/demand/new_subinterval"
--   device_setup = { "panel1/config/demand_subinterval_s" = 0 }
--
-- The series <rule name>/kw: the demand at the end of every sub-interval.
-- Events: demand_interval (debug, every sub-interval), demand_peak (a new
-- peak of the billing period), demand_peak_final (the period's peak when it
-- ends). Every parameter and decision: scripts/lib/gridlet/README.md.
local demand = require("gridlet.demand")

-- Each completed interval's demand goes to the series <rule>/kw, stamped
-- with the interval's end (gridlet query reads it); commands go to the
-- meter (device_setup, device_sync).
local d = demand.new(params, demand.rule_io(gridlet), {"status_every"})

local function hhmm(ms) return os.date("%H:%M", math.floor(ms / 1000)) end
local function kw(v) return v and string.format("%.1f kW", v) or "-" end

-- A live line every status_every seconds (0: none): the prediction for the
-- running interval, the last interval's demand, the billing period's peak.
local status_every = params.status_every or 0
if type(status_every) ~= "number" or status_every < 0 then
  error("demand: params.status_every: must be seconds >= 0", 0)
end
local function status(now)
  d:tick(now)  -- a boundary due now is closed first
  local stop = d:next_boundary()
  if not stop then
    gridlet.log.info("demand '%s': no data from %s yet", d.c.name, d.series)
    return
  end
  local present, present_ts, coverage = d:present()
  local peak = d:peak()
  gridlet.log.info("demand '%s': %s predicted for the interval ending %s | last %s (%s, %d%% data) | peak %s",
    d.c.name, kw(d:predicted(now)), hhmm(stop), kw(present), present_ts and hhmm(present_ts) or "-",
    math.floor((coverage or 0) * 100 + 0.5),
    peak and string.format("%s %s at %s", peak.period, kw(peak.kw), os.date("%m-%d %H:%M", math.floor(peak.ts / 1000))) or "-")
end

gridlet.on(d.series, function(value, _, ts, quality) d:feed(value, ts, quality) end)
if d.c.device_demand then
  gridlet.on(d.c.device_demand, function(value, _, ts, quality) d:feed_device(value, ts, quality) end)
end
-- A synchronised meter is told of a boundary within a quarter second of it.
gridlet.every(d.c.device_sync and 0.25 or 1, function(now) d:tick(now) end)
if status_every > 0 then gridlet.every(status_every, status) end
