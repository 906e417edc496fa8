-- Green'Up EV charging load management (Legrand Energy Web Server manual,
-- 7.12.5 and 8.3) on gridlet: wires gridlet.greenup to the site.
--
--   [[rule]]
--   name = "greenup"
--   file = "scripts/rules/greenup.lua"
--   [rule.params]
--   total_power_consumption_meter = "main/current"      # or ["main/current/l1", ".../l2", ".../l3"]
--   maximum_current_available = 250
--   maximum_current_available_for_the_charging = 230
--   stations = [ { name = "ev1", rated_current = 32, phases = 3, priority = "Priority" },
--                { name = "ev2", rated_current = 16, phases = 1, phase = "L2" } ]
--
-- Every parameter and decision: scripts/lib/gridlet/README.md.
local greenup = require("gridlet.greenup")

local g = greenup.new(params, {
  now = gridlet.now,
  mono = gridlet.monotonic,
  write = function(target, value, on_reply) gridlet.write(target, value, on_reply) end,
  emit = gridlet.emit,
  log = function(level, text) gridlet.log[level]("%s", text) end,
  load = function(key) return gridlet.state[key] end,
  save = function(key, value) gridlet.state[key] = value end,
})

-- Station data: a view the engine keeps up to date (no Lua runs per station
-- sample). The meter and the run-time overrides: one subscription for all of
-- them, so that a delivery is one call; a new meter sample runs a control
-- step at once, after the whole delivery is taken in (the view already is).
local view = gridlet.latest(g.latest_series)
g:use_latest(view.value, view.ts)
local function deliver(b)
  local meter = false
  local series, values, times, quality = b.series, b.value, b.ts, b.quality
  for i = 1, b.n do
    if g:feed(series[i], values[i], times[i], quality[i]) then meter = true end
  end
  if meter then
    g.last_meter_step = gridlet.monotonic()
    g:step(gridlet.now())
  end
end

gridlet.on(g.trigger_series, function(b)
  local before = g.overrides_seen
  deliver(b)
  if g.overrides_seen ~= before then g:step(gridlet.now()) end
end, {batch = true})

-- The control period: a step every period unless a meter sample already
-- ran one within it, so that the logic acts on station changes, works
-- without a meter (charging branch) and notices a silent meter (fail-safe).
local period_ms = g.c.period * 1000
gridlet.every(g.c.period, function(now)
  if not g.last_meter_step or gridlet.monotonic() - g.last_meter_step > period_ms then g:step(now) end
end)

-- What GET /api/v1/ev shows (called only when asked).
gridlet.status(function() return g:status_document() end)

gridlet.log.info("Green'Up: %d station(s), maximum current available %g A, for the charging %g A, %s",
  #g.stations, g.c.max, g.c.max_charging, g.c.on and "ON" or "OFF")
