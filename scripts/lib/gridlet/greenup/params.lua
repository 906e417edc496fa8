-- gridlet.greenup.params: checks and normalises the parameters of the
-- Green'Up load management (see scripts/lib/gridlet/README.md for each one).
-- Every error names the parameter: "greenup: params.stations[2].phase: ...".
local P = {}

local function fail(key, msg)
  error("greenup: params." .. key .. ": " .. msg, 0)
end

local function number(p, key, default, lo, hi)
  local v = p[key]
  if v == nil then
    if default == nil then fail(key, "required (a number)") end
    return default
  end
  if type(v) ~= "number" or v ~= v then fail(key, "must be a number, got " .. type(v)) end
  if lo and v < lo then fail(key, string.format("must be >= %g, got %g", lo, v)) end
  if hi and v > hi then fail(key, string.format("must be <= %g, got %g", hi, v)) end
  return v
end

local function duration(p, key, default)
  local v = p[key]
  if v == nil then return default end
  if type(v) == "string" then
    local n, unit = v:match("^%s*([%d%.]+)%s*(%a*)%s*$")
    local mult = ({[""] = 1, s = 1, ms = 0.001, m = 60, h = 3600})[unit or ""]
    if not n or not mult or not tonumber(n) then fail(key, "must be seconds or a duration like \"10s\", got \"" .. v .. "\"") end
    v = tonumber(n) * mult
  end
  if type(v) ~= "number" or v <= 0 then fail(key, "must be a positive duration") end
  return v
end

local PHASES = {L1 = 1, L2 = 2, L3 = 3}

local function on_off(v)
  if v == nil or v == true or v == "ON" or v == "on" or v == 1 then return true end
  if v == false or v == "OFF" or v == "off" or v == 0 then return false end
  fail("on_off", "must be \"ON\" or \"OFF\" (or true/false)")
end

local function priority(v, key)
  if v == nil or v == "Normal" or v == "normal" then return false end
  if v == "Priority" or v == "priority" then return true end
  fail(key, "must be \"Normal\" or \"Priority\"")
end

local function meter(p)
  local m = p.total_power_consumption_meter
  if m == nil then
    if p.topology == "charging_branch" then return nil end
    fail("total_power_consumption_meter", "required: a series (\"main/current\") or three ({\"main/current/l1\", ...})")
  end
  if type(m) == "string" then return {m, m, m}, true end
  if type(m) == "table" then
    local l = {m[1] or m.L1, m[2] or m.L2, m[3] or m.L3}
    for i = 1, 3 do
      if type(l[i]) ~= "string" then fail("total_power_consumption_meter", "a list needs three series names (L1, L2, L3)") end
    end
    return l, false
  end
  fail("total_power_consumption_meter", "must be a series name or three of them")
end

local function station(s, i, min_current, seen)
  local key = "stations[" .. i .. "]"
  if type(s) ~= "table" then fail(key, "must be a table {name, rated_current, phases, phase, priority}") end
  if type(s.name) ~= "string" or s.name == "" or s.name:find("[%*%?]") then fail(key .. ".name", "must be the station's device name") end
  if seen[s.name] then fail(key .. ".name", "station '" .. s.name .. "' is listed twice") end
  seen[s.name] = true
  local rated = number(s, "rated_current", nil, 0)
  if rated < min_current then
    fail(key .. ".rated_current", string.format("%g A is below the minimum charging current (%g A)", rated, min_current))
  end
  local phases = s.phases or 3
  if phases ~= 1 and phases ~= 3 then fail(key .. ".phases", "must be 1 or 3") end
  local on = {true, true, true}
  local phase_name = nil
  if phases == 1 then
    local k = PHASES[s.phase]
    if not k then fail(key .. ".phase", "a single-phase station names its phase: \"L1\", \"L2\" or \"L3\"") end
    on = {k == 1, k == 2, k == 3}
    phase_name = s.phase
  elseif s.phase ~= nil then
    fail(key .. ".phase", "only for single-phase stations")
  end
  for k in pairs(s) do
    if not ({name = 1, rated_current = 1, phases = 1, phase = 1, priority = 1, setpoint_point = 1, enable_point = 1})[k] then
      fail(key .. "." .. tostring(k), "unknown key (name, rated_current, phases, phase, priority, setpoint_point, enable_point)")
    end
  end
  return {
    name = s.name,
    rated = rated,
    phases = phases,
    phase = phase_name,
    on = on,
    priority = priority(s.priority, key .. ".priority"),
    setpoint_target = s.name .. "/" .. (s.setpoint_point or "current_setpoint"),
    enable_target = s.name .. "/" .. (s.enable_point or "enable"),
  }
end

local KNOWN = {
  total_power_consumption_meter = 1, maximum_current_available = 1, maximum_current_available_for_the_charging = 1,
  current_consumption_hysteresis = 1, first_reduction_step = 1, second_reduction_step = 1,
  minimum_guaranteed_charging_quantity = 1, on_off = 1, stations = 1, topology = 1, control_period = 1,
  response_time = 1, stale_after = 1, minimum_charging_current = 1, fail_safe_current = 1, voltage = 1,
  status_every = 1, override_prefix = 1, check_memos = 1,
}

-- Returns the normalised configuration (numbers in A, s, Ah).
function P.check(p)
  if type(p) ~= "table" then error("greenup: params must be a table", 0) end
  for k in pairs(p) do
    if not KNOWN[k] then fail(tostring(k), "unknown parameter") end
  end
  local topology = p.topology or "installation"
  if topology ~= "installation" and topology ~= "charging_branch" then
    fail("topology", "must be \"installation\" (meter on the whole installation) or \"charging_branch\"")
  end
  local c = {topology = topology}
  c.meter, c.meter_single = meter(p)
  c.max = number(p, "maximum_current_available", nil, 0)
  if c.max <= 0 then fail("maximum_current_available", "must be > 0") end
  c.max_charging = number(p, "maximum_current_available_for_the_charging", nil, 0, c.max)
  if c.max_charging <= 0 then fail("maximum_current_available_for_the_charging", "must be > 0") end
  c.hysteresis_pct = number(p, "current_consumption_hysteresis", 0, 0, 50)
  c.hysteresis = c.max * c.hysteresis_pct / 100
  c.step1 = number(p, "first_reduction_step", 75, 1, 100)
  c.step2 = number(p, "second_reduction_step", 50, 1, 100)
  if c.step2 > c.step1 then fail("second_reduction_step", "must not be above first_reduction_step") end
  c.min_ah = number(p, "minimum_guaranteed_charging_quantity", 32, 0)
  c.on = on_off(p.on_off)
  c.period = duration(p, "control_period", 1)
  c.response = duration(p, "response_time", 5)
  c.stale = duration(p, "stale_after", 10)
  c.min_current = number(p, "minimum_charging_current", 6, 0)
  c.fail_safe_current = p.fail_safe_current ~= nil and number(p, "fail_safe_current", nil, 0) or nil
  c.voltage = number(p, "voltage", 230, 1)
  c.status_every = p.status_every == 0 and 0 or duration(p, "status_every", 10)
  if p.check_memos ~= nil and type(p.check_memos) ~= "boolean" then fail("check_memos", "must be true or false") end
  c.check_memos = p.check_memos == true
  c.override_prefix = p.override_prefix or "greenup"
  if type(c.override_prefix) ~= "string" then fail("override_prefix", "must be a string") end
  if type(p.stations) ~= "table" or #p.stations == 0 then fail("stations", "required: a list of stations") end
  c.stations = {}
  local seen = {}
  for i, s in ipairs(p.stations) do c.stations[i] = station(s, i, c.min_current, seen) end
  return c
end

return P
