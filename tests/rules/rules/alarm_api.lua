-- gridlet.alarm from a rule: a demand alarm raised above params.limit and
-- cleared below it, acknowledged by the rule itself after 10 s; on
-- "flood/go" it raises 1,000 alarms in a loop (flood control holds them back).
local raised_at = nil
gridlet.on("main/kw", function(kw)
  if kw > params.limit then
    local id, err = gridlet.alarm.raise{name = "demand_high", key = "main", series = "main/kw", value = kw,
                                        worse = "higher", criticality = "critical", category = "demand",
                                        message = string.format("demand %.0f kW above %.0f kW", kw, params.limit),
                                        detail = {limit = params.limit}}
    assert(id, err)
    raised_at = raised_at or gridlet.now()
  elseif gridlet.alarm.clear("main", kw) then
    gridlet.log.info("demand back to %.0f kW", kw)
  end
  if raised_at and gridlet.now() - raised_at >= 10000 then
    local a = gridlet.alarm.active("main")
    if a and a.ack == nil then assert(gridlet.alarm.ack(a.id, "seen by the rule")) end
  end
end)
gridlet.on("flood/go", function()
  local held = 0
  for i = 1, 1000 do
    local id = gridlet.alarm.raise{name = "noisy", key = "n" .. i, value = i}
    if not id then held = held + 1 end
  end
  gridlet.log.warn("%d alarms held back; %d open", held, #gridlet.alarm.list{status = "active", limit = 1000})
end)
