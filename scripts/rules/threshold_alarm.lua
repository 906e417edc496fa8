-- threshold_alarm: raise an alarm event when a series stays above `high`
-- (or below `low`) for `delay` seconds, and clear it once the value is back
-- past the hysteresis band. Active alarms survive restarts (gridlet.state).
--
-- params:
--   series      pattern of the watched series (exact, prefix/ or glob)   required
--   high        raise above this value                                    optional
--   low         raise below this value                                    optional
--   hysteresis  clear at high - hysteresis (low + hysteresis)             default 0
--   delay       seconds the condition must hold before raising            default 0
--   severity    of the raised event: info, warning, error, critical       default "warning"
--   name        event types are <name>_raised and <name>_cleared          default "threshold"
--
-- Events: <name>_raised {series, value, limit, kind = "high"|"low"},
--         <name>_cleared {series, value, limit, kind, seconds}.
-- Samples of bad quality are ignored (neither raise nor clear).

local p = params
assert(type(p.series) == "string", "params.series (a series pattern) is required")
assert(p.high ~= nil or p.low ~= nil, "give params.high, params.low or both")
local high, low = p.high, p.low
local hyst = p.hysteresis or 0
local delay_ms = (p.delay or 0) * 1000
local severity = p.severity or "warning"
local name = p.name or "threshold"

local pending = {}                     -- series -> {kind, since}: not yet raised
local active = gridlet.state.active or {}  -- series -> {kind, since, limit}

local function save()
  gridlet.state.active = active
end

gridlet.on(p.series, function(v, series, ts, quality)
  if quality ~= 192 then return end
  local a = active[series]
  if a then
    local back = (a.kind == "high" and v <= a.limit - hyst) or (a.kind == "low" and v >= a.limit + hyst)
    if back then
      active[series] = nil
      save()
      gridlet.emit(name .. "_cleared", "info", {series = series, value = v, limit = a.limit, kind = a.kind,
                                                seconds = (ts - a.since) / 1000})
    end
    return
  end
  local kind, limit
  if high and v > high then kind, limit = "high", high
  elseif low and v < low then kind, limit = "low", low end
  if not kind then
    pending[series] = nil
    return
  end
  local pd = pending[series]
  if not pd or pd.kind ~= kind then
    pd = {kind = kind, since = ts}
    pending[series] = pd
  end
  if ts - pd.since >= delay_ms then
    pending[series] = nil
    active[series] = {kind = kind, since = ts, limit = limit}
    save()
    gridlet.state.raised_total = (gridlet.state.raised_total or 0) + 1
    gridlet.emit(name .. "_raised", severity, {series = series, value = v, limit = limit, kind = kind})
  end
end)
