-- The benchmark's trivial threshold rule, per sample.
local n = 0
gridlet.on("meter/", function(v) if v > 100 then n = n + 1 end end)
gridlet.every("1h", function() gridlet.state.over = n end)
