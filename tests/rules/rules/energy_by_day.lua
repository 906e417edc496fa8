-- Energy of each of the last three local days, in one query: step = "day"
-- gives calendar days of the site's zone (the spring DST day is 23 h), as
-- `gridlet query --step day` does. Runs Mondays at 00:05.
gridlet.at("5 0 * * 1", function(now)
  local d = os.date("*t", now / 1000)
  local to = os.time{year = d.year, month = d.month, day = d.day, hour = 0} * 1000
  local from = os.time{year = d.year, month = d.month, day = d.day - 3, hour = 0} * 1000
  local rows = gridlet.query{series = params.meter, from = from, to = to, step = "day", agg = "delta"}
  local days = {}
  for i, r in ipairs(rows) do days[i] = {day = os.date("%Y-%m-%d", r.ts / 1000), kwh = r.value} end
  gridlet.emit("energy_by_day", "info", {days = days})
end)
