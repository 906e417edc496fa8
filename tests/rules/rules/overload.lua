-- Overload guard: when the main meter's current stays above params.limit,
-- raise an alarm and cut the EV charger's setpoint; clear with hysteresis.
-- Used by the data-driven rule tests (tests/rules/*.jsonl).
local limit = params.limit or 80
local clear_below = limit * (1 - (params.hysteresis or 0.1))
local active = gridlet.state.active or false

gridlet.on(params.meter or "main/current", function(amps, series, ts)
  if not active and amps > limit then
    active = true
    gridlet.state.active = true
    gridlet.state.trips = (gridlet.state.trips or 0) + 1
    gridlet.emit("overload", "warning", {current = amps, limit = limit})
    gridlet.write(params.charger or "ev1/setpoint", params.reduced or 6, function(ok, err)
      if not ok then
        gridlet.log.error("could not reduce the charger: %s", err)
        gridlet.emit("overload_unhandled", "error", {error = err})
      end
    end)
  elseif active and amps < clear_below then
    active = false
    gridlet.state.active = false
    gridlet.emit("overload_cleared", "info", {current = amps})
    gridlet.write(params.charger or "ev1/setpoint", params.normal or 32)
  end
end)
