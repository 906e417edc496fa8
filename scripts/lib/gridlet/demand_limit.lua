-- gridlet.demand_limit: keeps the billed interval demand under a limit by
-- shedding loads before the interval ends (peak shaving on the predicted
-- interval demand, not on instantaneous power). A library independent of
-- the gridlet API (like gridlet.greenup and gridlet.demand):
--
--   local limit = require("gridlet.demand_limit")
--   local ctl = limit.new(params, io [, extra_keys])
--   ctl:feed(series, value, ts, quality)  -- samples of ctl.series (the meter)
--   ctl:step(now)                         -- one control step (every few seconds)
--
-- io: the gridlet.demand io (offset, local_date, emit, log, load, save,
-- publish) plus now() (UTC ms), local_time(ms) -> {wday (1 = Sunday), hour,
-- min}, write(target, value, on_reply(ok, err)) for a device point,
-- publish_value(series, value) for a series (the Green'Up charging limit),
-- raise(t) / clear(key, value) (gridlet.alarm). Every parameter and decision:
-- scripts/lib/gridlet/README.md, "gridlet.demand_limit".
local demand = require("gridlet.demand")

local M = {}

local function fail(key, msg)
  error("demand_limit: params." .. key .. ": " .. msg, 0)
end

local function seconds(v, key, default)
  if v == nil then return default end
  if type(v) == "string" then
    local n, unit = v:match("^%s*([%d%.]+)%s*(%a*)%s*$")
    local mult = ({[""] = 1, s = 1, m = 60, h = 3600})[unit or ""]
    if not n or not mult or not tonumber(n) then fail(key, "must be seconds or a duration like \"5m\", got \"" .. v .. "\"") end
    v = tonumber(n) * mult
  end
  if type(v) ~= "number" or v ~= v or v < 0 then fail(key, "must be a duration >= 0") end
  return v
end

local function number(v, key, lo, hi)
  if type(v) ~= "number" or v ~= v then fail(key, "must be a number, got " .. type(v)) end
  if lo and v < lo then fail(key, string.format("must be >= %g, got %g", lo, v)) end
  if hi and v > hi then fail(key, string.format("must be <= %g, got %g", hi, v)) end
  return v
end

-- A TOML array (a Lua table with keys 1..n only); a TOML table written by
-- mistake for an array of tables would otherwise be read as an empty list.
local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local DAYS = {sun = 1, mon = 2, tue = 3, wed = 4, thu = 5, fri = 6, sat = 7}

-- "mon-fri", "sat,sun", "*" -> set of Lua wdays (1 = Sunday).
local function parse_days(text, key)
  local set = {}
  if text == nil or text == "*" then
    for d = 1, 7 do set[d] = true end
    return set
  end
  if type(text) ~= "string" then fail(key, "must be days such as \"mon-fri\", \"sat,sun\" or \"*\"") end
  for part in text:gmatch("[^,]+") do
    local a, b = part:match("^%s*(%a+)%s*%-%s*(%a+)%s*$")
    if not a then a = part:match("^%s*(%a+)%s*$") b = a end
    local da, db = a and DAYS[a:lower():sub(1, 3)], b and DAYS[b:lower():sub(1, 3)]
    if not da or not db then fail(key, "unknown day in \"" .. text .. "\" (mon, tue, wed, thu, fri, sat, sun)") end
    local d = da
    while true do
      set[d] = true
      if d == db then break end
      d = d % 7 + 1
    end
  end
  if next(set) == nil then fail(key, "names no day: the entry would never apply (\"mon-fri\", \"sat,sun\" or \"*\")") end
  return set
end

local function parse_hhmm(text, key)
  local h, m
  if type(text) == "string" then h, m = text:match("^(%d%d?):(%d%d)$") end
  h, m = tonumber(h), tonumber(m)
  if not h or m > 59 or h > 24 or (h == 24 and m > 0) then fail(key, "must be a time \"HH:MM\" (00:00..24:00)") end
  return h * 60 + m
end

local LOAD_KEYS = {name = 1, priority = 1, target = 1, shed_value = 1, restore_value = 1, kw = 1, min_on = 1,
  min_off = 1, max_off = 1, publish = 1}
local KEYS = {"limit_kw", "schedule", "loads", "shed_margin", "restore_margin", "response_time", "on_data_loss",
  "power", "energy", "interval", "subintervals", "billing_day", "max_gap", "rate_window", "name"}

function M.check(p, extra)
  if type(p) ~= "table" then error("demand_limit: params must be a table", 0) end
  local known = {}
  for _, k in ipairs(KEYS) do known[k] = true end
  for _, k in ipairs(extra or {}) do known[k] = true end
  for k in pairs(p) do
    if not known[k] then fail(tostring(k), "unknown (known: " .. table.concat(KEYS, ", ") ..
      (extra and #extra > 0 and ", " .. table.concat(extra, ", ") or "") .. ")") end
  end
  local c = {}
  c.limit_kw = number(p.limit_kw, "limit_kw", 0.001)
  c.schedule = {}
  if p.schedule ~= nil then
    if not is_list(p.schedule) then
      fail("schedule", "must be a list: schedule = [ { limit_kw = 30, days = \"mon-fri\", from = \"08:00\", to = \"20:00\" } ]")
    end
    for i, e in ipairs(p.schedule) do
      local key = "schedule[" .. i .. "]"
      if type(e) ~= "table" then fail(key, "must be a table {limit_kw, days, from, to}") end
      for k in pairs(e) do
        if k ~= "limit_kw" and k ~= "days" and k ~= "from" and k ~= "to" then
          fail(key .. "." .. tostring(k), "unknown (known: limit_kw, days, from, to)")
        end
      end
      local from = parse_hhmm(e.from or "00:00", key .. ".from")
      local to = parse_hhmm(e.to or "24:00", key .. ".to")
      if from == to then fail(key, "from and to are the same time: the entry would never apply") end
      c.schedule[i] = {limit_kw = number(e.limit_kw, key .. ".limit_kw", 0.001), days = parse_days(e.days, key .. ".days"),
        from = from, to = to}
    end
  end
  c.shed_margin = p.shed_margin == nil and 0.02 or number(p.shed_margin, "shed_margin", 0, 0.5)
  c.restore_margin = p.restore_margin == nil and 0.05 or number(p.restore_margin, "restore_margin", 0, 0.5)
  if c.restore_margin < c.shed_margin then
    fail("restore_margin", string.format("must be at least shed_margin (%g): a load restored just under the shedding threshold would be shed again", c.shed_margin))
  end
  c.response_s = seconds(p.response_time, "response_time", 10)
  c.on_data_loss = p.on_data_loss or "hold"
  if c.on_data_loss ~= "hold" and c.on_data_loss ~= "restore" then fail("on_data_loss", "must be \"hold\" or \"restore\"") end
  if not is_list(p.loads) or #p.loads == 0 then
    fail("loads", "required: a list of sheddable loads {name, priority, target, kw, ...}")
  end
  c.loads = {}
  local names, targets = {}, {}
  for i, l in ipairs(p.loads) do
    local key = "loads[" .. i .. "]"
    if type(l) ~= "table" then fail(key, "must be a table") end
    for k in pairs(l) do
      if not LOAD_KEYS[k] then
        fail(key .. "." .. tostring(k), "unknown (known: name, priority, target, shed_value, restore_value, kw, min_on, min_off, max_off, publish)")
      end
    end
    if type(l.name) ~= "string" or not l.name:match("^[%w_][%w_%-%.]*$") then fail(key .. ".name", "required: letters, digits, _ - .") end
    if names[l.name] then fail(key .. ".name", "'" .. l.name .. "' is already a load") end
    names[l.name] = true
    if type(l.target) ~= "string" or not l.target:match("^[^/]+/.+$") then
      fail(key .. ".target", "required: the point that sheds it, \"device/point\"")
    end
    if l.priority ~= nil and (type(l.priority) ~= "number" or l.priority ~= math.floor(l.priority)) then
      fail(key .. ".priority", "must be a whole number 1..1000 (1 is shed first)")
    end
    if targets[l.target] then
      fail(key .. ".target", "'" .. l.target .. "' is already the target of load '" .. targets[l.target] ..
        "': one point, one load (their times would fight)")
    end
    targets[l.target] = l.name
    local load = {name = l.name, index = i, target = l.target, publish = l.publish == true,
      priority = l.priority == nil and 1 or number(l.priority, key .. ".priority", 1, 1000),
      shed_value = l.shed_value == nil and 0 or number(l.shed_value, key .. ".shed_value"),
      restore_value = l.restore_value == nil and 1 or number(l.restore_value, key .. ".restore_value"),
      kw = number(l.kw, key .. ".kw", 0.001),
      min_on_ms = seconds(l.min_on, key .. ".min_on", 60) * 1000,
      min_off_ms = seconds(l.min_off, key .. ".min_off", 60) * 1000,
      max_off_ms = seconds(l.max_off, key .. ".max_off", 0) * 1000}
    if l.publish ~= nil and type(l.publish) ~= "boolean" then fail(key .. ".publish", "must be true or false") end
    if load.shed_value == load.restore_value then
      fail(key .. ".shed_value", "equals restore_value: shedding would change nothing")
    end
    if load.max_off_ms > 0 and load.max_off_ms < load.min_off_ms then
      fail(key .. ".max_off", "must be at least min_off (or 0: no maximum)")
    end
    c.loads[i] = load
  end
  -- Shedding order: priority 1 first, then list order; restoring: the reverse.
  c.shed_order = {}
  for i, l in ipairs(c.loads) do c.shed_order[i] = l end
  table.sort(c.shed_order, function(a, b)
    if a.priority ~= b.priority then return a.priority < b.priority end
    return a.index < b.index
  end)
  return c
end

local C = {}
C.__index = C

-- With the site's device names (io.devices(), nil when unknown: the
-- offline harness), a load's target is checked against them, so that
-- `gridlet check` refuses a misspelt device instead of the first shed
-- failing: a device point needs a device of the site, and a published
-- series (publish = true) must not be one (a device's data come from its
-- driver; gridlet.publish refuses them).
function M.check_targets(c, devices)
  local known = {}
  for _, d in ipairs(devices) do known[d] = true end
  for i, l in ipairs(c.loads) do
    local device = l.target:match("^([^/]+)/")
    local key = "loads[" .. i .. "].target"
    if l.publish and known[device] then
      fail(key, "'" .. l.target .. "' is a point of device '" .. device .. "': publish = true is for a series of a rule (e.g. greenup/charging_limit); a device point is commanded (leave publish out)")
    elseif not l.publish and not known[device] then
      fail(key, "'" .. device .. "' is not a device of this site (devices: " .. (#devices > 0 and table.concat(devices, ", ") or "none") ..
        "); a rule's series such as greenup/charging_limit needs publish = true")
    end
  end
end

function M.new(p, io, extra)
  local c = M.check(p, extra)
  local devices = io.devices and io.devices()
  if devices then M.check_targets(c, devices) end
  local dp = {name = p.name or "demand_limit", power = p.power, energy = p.energy, interval = p.interval,
    subintervals = p.subintervals, billing_day = p.billing_day, max_gap = p.max_gap, rate_window = p.rate_window}
  -- alarm_open starts true: an alarm left active before a restart is ended
  -- by the first step that finds the demand under the limit.
  local self = setmetatable({c = c, io = io, d = demand.new(dp, io), loads = {}, exceeded = false, alarm_open = true,
    data_missing = false}, C)
  -- Times that would keep the controller from acting within an interval.
  local interval_s = self.d.c.interval_s
  if c.response_s > interval_s / 4 then
    fail("response_time", string.format("%g s is more than a quarter of the %g s interval: after each command the controller could not act again before the interval ends (set response_time, e.g. %g)",
      c.response_s, interval_s, math.max(1, math.floor(interval_s / 10))))
  end
  if self.d.c.rate_window_s > interval_s / 2 then
    fail("rate_window", string.format("%g s is more than half the %g s interval: the prediction would lag behind the load (set rate_window, e.g. %g)",
      self.d.c.rate_window_s, interval_s, math.max(1, math.floor(interval_s / 5))))
  end
  self.series = self.d.series
  for _, l in ipairs(c.loads) do
    local s = io.load("load/" .. l.name)
    s = type(s) == "table" and s or {}
    -- A load shed before a restart is still shed (it is restored by the
    -- rules, not forgotten); its times go on from what was saved.
    self.loads[l.name] = {cfg = l, shed = s.shed == true, changed_at = tonumber(s.changed_at) or 0,
      pending = false, retry_at = 0, reassert = s.shed == true}
    if s.shed == true then self.reasserting = true end
  end
  self.switches = tonumber(io.load("switches")) or 0
  return self
end

function C:feed(series, value, ts, quality)
  if series == self.series then self.d:feed(value, ts, quality) end
end

-- The limit in force at `now` (site time): the first schedule entry whose
-- days and hours match, else limit_kw.
function C:limit_at(now)
  local t = self.io.local_time(now)
  local minute = t.hour * 60 + t.min
  for _, e in ipairs(self.c.schedule) do
    local inside
    if e.from < e.to then
      inside = e.days[t.wday] and minute >= e.from and minute < e.to
    else  -- across midnight: the day is the one it starts on
      local yday = (t.wday + 5) % 7 + 1
      inside = (e.days[t.wday] and minute >= e.from) or (e.days[yday] and minute < e.to)
    end
    if inside then return e.limit_kw end
  end
  return self.c.limit_kw
end

-- One key per load (what changed is what is written: a step that sheds 60
-- of 200 loads writes 60 small values, not 60 copies of the whole table).
function C:save(st)
  self.io.save("load/" .. st.cfg.name, {shed = st.shed, changed_at = st.changed_at})
end

-- Sends the load's command; its state changes once the device confirmed it
-- (a failure is retried after 10 s).
function C:command(st, shed, now, why)
  local l = st.cfg
  local value = shed and l.shed_value or l.restore_value
  st.pending = true
  local function done(ok, err)
    st.pending = false
    if not ok then
      st.retry_at = self.io.now() + 10000
      self.io.log("warn", string.format("demand_limit: %s %s: %s = %g failed: %s; retried in 10 s", shed and "shed" or "restore",
        l.name, l.target, value, tostring(err)))
      return
    end
    st.shed, st.changed_at = shed, now
    self.switches = self.switches + 1
    self:save(st)
  end
  -- No other decision until the meter can show it (response_time): one
  -- overshoot is not shed twice, a restore is not undone before it shows;
  -- and from then on the present rate counts only what came after it.
  self.settle_until = now + self.c.response_s * 1000
  -- One event per step and direction lists the loads (see report()).
  local list = shed and self.step_shed or self.step_restored
  list[#list + 1] = {load = l.name, target = l.target, value = value, kw = l.kw, reason = why.reason}
  if l.publish then
    local ok, err = pcall(self.io.publish_value, l.target, value)
    done(ok, err)
  else
    self.io.write(l.target, value, done)
  end
end

-- An interval that ended over its limit (whatever was predicted): said,
-- and alarmed with its actual demand.
function C:close_check()
  local present, ts = self.d:present()
  if not present or ts == self.judged_ts then return end
  self.judged_ts = ts
  local limit = self:limit_at(ts - 1)
  -- The alarm of an interval that ended over its limit lasts until an
  -- interval ends under it again.
  self.exceeded_actual = present > limit
  if present > limit then
    local text = string.format("demand_limit: the interval ending %s was %.1f kW, over the limit %.1f kW",
      os.date("%H:%M", math.floor(ts / 1000)), present, limit)
    self.alarm_open = true
    self.io.raise({name = "demand_limit_exceeded", key = "limit", value = present, worse = "higher",
      criticality = "non_critical", category = "demand", message = text, detail = {limit_kw = limit, demand_kw = present}})
    self.io.log("warn", text)
  end
end

-- The step's changes: an event demand_shed / demand_restore each, with the
-- loads and why, and a log line.
function C:report(why)
  for _, kind in ipairs({"shed", "restored"}) do
    local list = kind == "shed" and self.step_shed or self.step_restored
    if #list > 0 then
      local names, kw = {}, 0
      for i, e in ipairs(list) do
        names[i] = e.load
        kw = kw + e.kw
      end
      self.io.emit(kind == "shed" and "demand_shed" or "demand_restore", "info", {loads = list, kw = kw,
        reason = list[1].reason, predicted_kw = why.predicted, demand_kw = why.present, rate_kw = why.rate,
        limit_kw = why.limit})
      self.io.log("info", string.format("demand_limit: %s %s (%.1f kW, %s): %s kW predicted, limit %.1f kW", kind,
        table.concat(names, ", "), kw, list[1].reason, why.predicted and string.format("%.1f", why.predicted) or "no",
        why.limit))
    end
  end
end

-- One control step.
function C:step(now)
  self.step_shed, self.step_restored = {}, {}
  local why = {}
  self:decide(now, why)
  self:report(why)
  if self.switches ~= self.saved_switches then  -- once a step, not once a load
    self.saved_switches = self.switches
    self.io.save("switches", self.switches)
  end
end

-- After a restart, a load the state says is shed is commanded so again:
-- the relay module may have been power-cycled or switched by hand.
function C:reassert(now)
  if not self.reasserting then return end
  self.reasserting = false
  for _, l in ipairs(self.c.loads) do
    local st = self.loads[l.name]
    if st.reassert and (st.pending or now < st.retry_at) then
      self.reasserting = true  -- later
    elseif st.reassert then
      st.reassert = false
      st.pending = true
      local function done(ok, err)
        st.pending = false
        if not ok then
          st.reassert, st.retry_at = true, self.io.now() + 10000
          self.reasserting = true
          self.io.log("warn", string.format("demand_limit: %s: %s = %g (shed before the restart) failed: %s; retried in 10 s",
            l.name, l.target, l.shed_value, tostring(err)))
        end
      end
      self.io.log("info", string.format("demand_limit: %s was shed before the restart: %s = %g again", l.name, l.target,
        l.shed_value))
      if l.publish then
        local ok, err = pcall(self.io.publish_value, l.target, l.shed_value)
        done(ok, err)
      else
        self.io.write(l.target, l.shed_value, done)
      end
    end
  end
end

function C:decide(now, why)
  local c, d = self.c, self.d
  self:reassert(now)
  d:tick(now)
  self:close_check()
  local limit = self:limit_at(now)
  local stop = d:next_boundary()
  local pred = d:predicted(now, self.settle_until)
  local rate = d:present_rate(now, self.settle_until)
  -- A change commanded within response_time is counted as made.
  local sens = 0
  if stop then
    sens = math.max(0, stop - now) / (d.sub_ms * d.c.subintervals)
  end
  why.predicted, why.present, why.rate, why.limit = pred, (d:present()), rate, limit

  -- Maximum off time: restored whatever the demand (comfort, process).
  for _, l in ipairs(c.loads) do
    local st = self.loads[l.name]
    if st.shed and not st.pending and l.max_off_ms > 0 and now - st.changed_at >= l.max_off_ms and now >= st.retry_at then
      why.reason = "max_off"
      self:command(st, false, now, why)
    end
  end

  if not pred then
    if not self.data_missing then
      self.data_missing = true
      self.io.raise({name = "demand_data_missing", key = "data_missing", criticality = "non_critical",
        category = "demand", message = "demand_limit: no fresh data from " .. self.series ..
        " (on_data_loss = " .. c.on_data_loss .. ")"})
      self.io.log("warn", "demand_limit: no fresh data from " .. self.series .. ": " ..
        (c.on_data_loss == "hold" and "loads kept as they are" or "restoring loads"))
    end
    if c.on_data_loss == "restore" then
      why.reason = "data_missing"
      for i = #c.shed_order, 1, -1 do
        local st = self.loads[c.shed_order[i].name]
        if st.shed and not st.pending and now - st.changed_at >= st.cfg.min_off_ms and now >= st.retry_at then
          self:command(st, false, now, why)
        end
      end
    end
    return
  end
  if self.data_missing then
    self.data_missing = false
    self.io.clear("data_missing")
  end
  if self.settle_until and now < self.settle_until then return end

  -- The target: the limit less shed_margin, so that what the control loop
  -- cannot see coming (a load starting in the last seconds, the meter's
  -- and the relays' delays) does not cross the limit itself.
  local p, target = why.predicted, limit * (1 - c.shed_margin)
  if p > target then
    -- Shed in priority order until the prediction is under the target.
    why.reason = "predicted_over_limit"
    local held = 0
    for _, l in ipairs(c.shed_order) do
      if p <= target then break end
      local st = self.loads[l.name]
      if not st.shed and not st.pending then
        if now - st.changed_at < l.min_on_ms or now < st.retry_at then
          held = held + 1
        else
          self:command(st, true, now, why)
          p = p - l.kw * sens
        end
      end
    end
    -- Over the limit with nothing left to shed: said and alarmed. Loads
    -- held on by their minimum on time (or a failed command) will be shed
    -- when they may: no alarm for that wait (the interval's actual demand
    -- is judged when it ends, see close_check).
    -- (once that has lasted a fifth of the interval, at least a minute: a
    -- short peak that the prediction carries to the interval's end is no
    -- alarm; the interval's actual demand is judged at its end anyway)
    if p > limit and held == 0 then
      self.over_since = self.over_since or now
    else
      self.over_since = nil
    end
    local delay = math.max(60000, d.sub_ms * d.c.subintervals / 5)
    if self.over_since and now - self.over_since >= delay and not self.exceeded then
      self.exceeded = true  -- predicted
      local text = string.format("demand_limit: the interval ending %s is predicted at %.1f kW, over the limit %.1f kW, with every sheddable load shed",
        os.date("%H:%M", math.floor(stop / 1000)), p, limit)
      self.alarm_open = true
      self.io.raise({name = "demand_limit_exceeded", key = "limit", value = p, worse = "higher", criticality = "non_critical",
        category = "demand", message = text, detail = {limit_kw = limit, predicted_kw = p}})
      self.io.log("warn", text)
    end
    return
  end
  self.over_since = nil
  if self.exceeded then self.exceeded = false end
  if self.alarm_open and not self.exceeded_actual then
    self.alarm_open = false
    self.io.clear("limit", p)
  end
  -- Restore in the reverse order while the prediction and the load's own
  -- power both stay under the limit less the margin.
  local room = limit * (1 - c.restore_margin)
  local r = why.rate or p
  why.reason = "room_under_limit"
  for i = #c.shed_order, 1, -1 do
    local l = c.shed_order[i]
    local st = self.loads[l.name]
    if st.shed and not st.pending and now - st.changed_at >= l.min_off_ms and now >= st.retry_at then
      if p + l.kw * sens <= room and r + l.kw <= room then
        self:command(st, false, now, why)
        p, r = p + l.kw * sens, r + l.kw
      else
        break  -- in order: a lower-priority load does not jump the queue
      end
    end
  end
end

-- For the live line: the loads shed, in shedding order.
function C:shed_names()
  local out = {}
  for _, l in ipairs(self.c.shed_order) do
    if self.loads[l.name].shed then out[#out + 1] = l.name end
  end
  return out
end

-- The status document (gridlet.status; GET /api/v1/demand): the running
-- interval's demand against the limit, the prediction, and the loads. kW;
-- times UTC ms.
function C:status_document(now)
  local d = self.d
  local present, present_ts = d:present()
  local loads = {}
  for _, l in ipairs(self.c.shed_order) do
    local s = self.loads[l.name]
    loads[#loads + 1] = {name = l.name, priority = l.priority, target = l.target, kw = l.kw, shed = s.shed,
      changed_ms = s.changed_at ~= 0 and s.changed_at or nil, pending = s.pending}
  end
  return {kind = "demand_limit", name = d.c.name, interval_s = d.c.interval_s, limit_kw = self:limit_at(now),
    predicted_kw = d:predicted(now), interval_end_ms = d:next_boundary(), last_demand_kw = present,
    last_demand_ms = present_ts, exceeded = self.exceeded_actual == true, data_missing = self.data_missing == true,
    switch_operations = self.switches, loads = loads}
end

return M
