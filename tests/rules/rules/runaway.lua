-- A rule with a bug: an endless loop when the value is negative.
gridlet.on("sensor/temp", function(v)
  gridlet.state.last = v
  while v < 0 do end
end)
