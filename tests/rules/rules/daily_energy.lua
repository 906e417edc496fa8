-- Daily energy report: at 00:05 local time, the energy used over the local
-- day that just ended (counter consumption: resets are handled by the query).
-- Local days are 23 h or 25 h long on DST days: compute them with os.time on
-- calendar fields (it normalizes day - 1), never as "now - 86400".
gridlet.at("5 0 * * *", function(now)
  local d = os.date("*t", now / 1000)
  local day_end = os.time{year = d.year, month = d.month, day = d.day, hour = 0} * 1000
  local day_start = os.time{year = d.year, month = d.month, day = d.day - 1, hour = 0} * 1000
  local rows = gridlet.query{series = params.meter, from = day_start, to = day_end, agg = "delta"}
  local kwh = rows[1] and rows[1].value or 0
  gridlet.emit("daily_energy", "info", {day = os.date("%Y-%m-%d", day_start / 1000), kwh = kwh,
                                        hours = (day_end - day_start) / 3600000})
end)
