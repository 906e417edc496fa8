-- Deliberately broken (tests/rules/bad_syntax.jsonl).
gridlet.on("main/current", function(v)
  if v > 3 then gridlet.write("ev1/setpoint", 6)
end)
