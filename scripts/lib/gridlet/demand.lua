-- gridlet.demand: interval demand as a utility bills it, computed by the
-- gateway from a power series (kW) or an energy counter (kWh), with block or
-- sliding sub-intervals as the BCPM defines them (spec bcpm-panel-meter.md
-- §3: registers 71 and 72), aligned to the site's wall clock, the demand
-- predicted for the end of the running interval, and the maximum demand of
-- the billing period, persisted across restarts. A library independent of
-- the gridlet API (like gridlet.greenup), so that a rule, tests and
-- benchmarks drive it alike:
--
--   local demand = require("gridlet.demand")
--   local d = demand.new(params, io [, extra_keys])  -- extra_keys: the rule's own params
--   d:feed(value, ts, quality)   -- a sample of d.series (kW or kWh)
--   d:feed_device(value, ts, q)  -- a sample of the meter's own demand (params.device_demand)
--   d:start()                    -- writes params.device_setup (once the rule is loaded)
--   d:tick(now)                  -- closes the sub-intervals ended by now
--   d:present()                  -- kW: the demand of the last completed interval
--   d:predicted(now)             -- kW: the demand the running interval will end with
--   d:peak()                     -- {kw, ts (interval end), period} of the billing period
--
-- io.offset(ms) -> the site zone's UTC offset at that instant (ms);
-- io.local_date(ms) -> {year, month, day} in site time; io.emit(type,
-- severity, body); io.log(level, text); io.load(key) / io.save(key, value):
-- persistent state; io.publish(point, value, ts) (optional): each completed
-- interval's demand as a series; io.write(target, value, on_reply(ok, err))
-- and io.now() -> ms: commands to the meter (params.device_setup and
-- device_sync; required only with them). Every parameter and every decision the
-- sources leave open: scripts/lib/gridlet/README.md, "gridlet.demand".
--
-- Times are UTC ms; powers kW; energies kWh. Sub-interval length L =
-- interval / subintervals; a boundary is an instant whose local time of day
-- is a multiple of L (15 min intervals: on the quarter hour, whatever the
-- DST offset).
local M = {}

local HOUR_MS = 3600000

local function fail(key, msg)
  error("demand: params." .. key .. ": " .. msg, 0)
end

local function duration_s(p, key, default)
  local v = p[key]
  if v == nil then return default end
  if type(v) == "string" then
    local n, unit = v:match("^%s*([%d%.]+)%s*(%a*)%s*$")
    local mult = ({[""] = 1, s = 1, m = 60, h = 3600})[unit or ""]
    if not n or not mult or not tonumber(n) then
      fail(key, "must be seconds or a duration like \"15m\", got \"" .. v .. "\"")
    end
    v = tonumber(n) * mult
  end
  if type(v) ~= "number" or v ~= v or v <= 0 then fail(key, "must be a positive duration") end
  return v
end

local function integer(p, key, default, lo, hi)
  local v = p[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or v > hi then
    fail(key, string.format("must be a whole number %d..%d, got %s", lo, hi, tostring(v)))
  end
  return v
end

local KEYS = {"name", "power", "energy", "interval", "subintervals", "billing_day", "max_gap", "keep_periods",
  "device_demand", "device_tolerance", "device_sync", "device_setup", "rate_window"}

-- Checks and normalises the parameters (errors name the parameter). A key
-- neither the library's nor in `extra` (the rule's own) is refused: a typo
-- would otherwise be a default silently.
function M.check(p, extra)
  if type(p) ~= "table" then error("demand: params must be a table", 0) end
  local known = {}
  for _, k in ipairs(KEYS) do known[k] = true end
  for _, k in ipairs(extra or {}) do known[k] = true end
  for k in pairs(p) do
    if not known[k] then
      local list = table.concat(KEYS, ", ") .. (extra and #extra > 0 and ", " .. table.concat(extra, ", ") or "")
      fail(tostring(k), "unknown (known: " .. list .. ")")
    end
  end
  local c = {}
  c.name = p.name or "demand"
  if type(c.name) ~= "string" or not c.name:match("^[%w_][%w_%-%.]*$") or #c.name > 64 then
    fail("name", "letters, digits, _ - . (at most 64), got " .. tostring(p.name))
  end
  if (p.power == nil) == (p.energy == nil) then
    fail("power", "give exactly one of power (a kW series) and energy (a kWh counter series)")
  end
  c.series = p.power or p.energy
  c.source = p.power and "power" or "energy"
  if type(c.series) ~= "string" or c.series == "" then fail(c.source, "must be a series name") end
  c.interval_s = duration_s(p, "interval", 900)
  c.subintervals = integer(p, "subintervals", 1, 1, 6)
  local L = c.interval_s / c.subintervals
  if L ~= math.floor(L) or L < 10 then
    fail("interval", string.format("interval / subintervals must be whole seconds, at least 10 (BCPM register 72), got %g s", L))
  end
  if 86400 % L ~= 0 then
    fail("interval", string.format("a sub-interval of %d s does not divide a day: intervals are aligned to the wall clock", L))
  end
  c.sub_s = L
  c.billing_day = integer(p, "billing_day", 1, 1, 28)
  c.max_gap_s = duration_s(p, "max_gap", 60)
  c.rate_window_s = duration_s(p, "rate_window", 60)
  c.keep_periods = integer(p, "keep_periods", 24, 1, 120)
  -- A meter's own present demand (BCPM "present kW demand"), cross-checked
  -- against the gateway's at each interval end.
  c.device_demand = p.device_demand
  if c.device_demand ~= nil and (type(c.device_demand) ~= "string" or not c.device_demand:match("^[^/]+/.+$")) then
    fail("device_demand", "must be a series name \"device/point\"")
  end
  c.device_tolerance = p.device_tolerance == nil and 0.05 or p.device_tolerance
  if type(c.device_tolerance) ~= "number" or c.device_tolerance < 0 or c.device_tolerance > 1 then
    fail("device_tolerance", "must be a fraction 0..1")
  end
  -- Keeping the meter's own intervals on ours (BCPM "sync to comms":
  -- register 72 = 0, and code 26012 to register 295 at each boundary, the
  -- profile's command demand/new_subinterval).
  c.device_sync = p.device_sync
  if c.device_sync ~= nil and (type(c.device_sync) ~= "string" or not c.device_sync:match("^[^/]+/.+$")) then
    fail("device_sync", "must be a command target \"device/point\" (e.g. \"panel1/demand/new_subinterval\")")
  end
  -- Points written once at start: {["device/point"] = value}.
  c.device_setup = {}
  if p.device_setup ~= nil then
    if type(p.device_setup) ~= "table" then fail("device_setup", "must be a table {\"device/point\" = value}") end
    for point, value in pairs(p.device_setup) do
      if type(point) ~= "string" or not point:match("^[^/]+/.+$") then
        fail("device_setup", "keys must be \"device/point\", got " .. tostring(point))
      end
      if type(value) ~= "number" and type(value) ~= "boolean" then
        fail("device_setup", point .. ": the value must be a number or a boolean")
      end
      c.device_setup[#c.device_setup + 1] = {point = point, value = value}
    end
    table.sort(c.device_setup, function(a, b) return a.point < b.point end)
  end
  if (c.device_sync or #c.device_setup > 0) and not c.device_demand then
    fail(c.device_sync and "device_sync" or "device_setup", "needs device_demand: the meter's figure it keeps comparable")
  end
  return c
end

-- The UTC offset (ms) as the rule gives it, and the first boundary after t.
local function boundary_after(self, t)
  local L = self.sub_ms
  local off = self.io.offset(t)
  local b = t - (t + off) % L + L
  local off_b = self.io.offset(b)
  if off_b == off then return b end
  -- The offset changes in (t, b]: find the instant (to the second) and take
  -- the first boundary of the old offset before it, else of the new one.
  local lo, hi = t, b  -- offset(lo) == off, offset(hi) ~= off
  while hi - lo > 1000 do
    local mid = lo + math.floor((hi - lo) / 2000) * 1000
    if mid <= lo then mid = lo + 1000 end
    if mid >= hi then break end
    if self.io.offset(mid) == off then lo = mid else hi = mid end
  end
  local change = hi
  local new = self.io.offset(change)
  local first_new = change + (L - (change + new) % L) % L
  if first_new <= t then first_new = first_new + L end
  return first_new
end

-- For a rule: the io of new() made of the gridlet API `g` (the rule's
-- `gridlet`), so that every rule wires it alike: the site's clock and zone,
-- events, logs, persistent state, the series <rule>/<point> (kW, stamped
-- with the interval's end) and commands. A rule adds its own keys to it.
function M.rule_io(g)
  return {
    offset = M.os_offset,
    local_date = M.os_local_date,
    now = g.now,
    emit = g.emit,
    log = function(level, text) g.log[level]("%s", text) end,
    load = function(key) return g.state[key] end,
    save = function(key, value) g.state[key] = value end,
    publish = function(point, value, ts) g.publish(g.rule .. "/" .. point, value, {ts = ts, unit = "kW"}) end,
    write = function(target, value, on_reply) g.write(target, value, on_reply) end,
  }
end

-- For a rule: the site zone's UTC offset (ms) and local date at `ms`, from
-- os.date (which uses the site's zone in gridlet).
function M.os_offset(ms)
  local z = os.date("%z", math.floor(ms / 1000))
  local sign = z:sub(1, 1) == "-" and -1 or 1
  return sign * (tonumber(z:sub(2, 3)) * 3600 + tonumber(z:sub(4, 5)) * 60) * 1000
end
function M.os_local_date(ms)
  return os.date("*t", math.floor(ms / 1000))
end

local D = {}
D.__index = D

function M.new(p, io, extra_keys)
  local c = M.check(p, extra_keys)
  local self = setmetatable({c = c, io = io, series = c.series, sub_ms = c.sub_s * 1000,
    max_gap_ms = c.max_gap_s * 1000, rate_window_ms = c.rate_window_s * 1000,
    win = {ts = {}, kw = {}, head = 1, n = 0}}, D)
  local s = io.load("demand")
  if type(s) ~= "table" or s.version ~= 1 or s.sub_s ~= c.sub_s or s.n ~= c.subintervals or s.source ~= c.source then
    if type(s) == "table" then
      io.log("warn", "demand '" .. c.name .. "': its interval, sub-intervals or source changed: the saved sub-intervals are dropped (the billing peak is kept)")
    end
    local old = type(s) == "table" and s or {}
    s = {version = 1, sub_s = c.sub_s, n = c.subintervals, source = c.source, history = {},
         peak = old.peak, peaks = old.peaks or {}}
  end
  self.s = s
  if #c.device_setup > 0 then self.setup_due = 0 end  -- written at the first tick
  return self
end

-- The running sub-interval: its start and end, the energy seen in it (in
-- kW x ms, so that whole kW over whole ms add up exactly) and the time it
-- covers (ms).
local function open_sub(self, start)
  local s = self.s
  s.cur = {start = start, stop = boundary_after(self, start), e = 0, covered = 0}
end

-- Charges the energy `e` (kW x ms) spread evenly over [a, b) to the
-- sub-intervals it crosses, closing each one it ends; `covered`: [a, b) has
-- data (else it counts as missing).
local function charge(self, a, b, e, covered)
  local s = self.s
  if a < s.cur.start and b > a then
    -- The part before the running sub-interval belongs to one already
    -- closed (a counter reading after its end came too late): left out.
    local cut = math.min(b, s.cur.start)
    e = e * (b - cut) / (b - a)
    a = cut
  end
  while a < b do
    local cur = s.cur
    if a >= cur.stop then
      self:close(cur.stop)
    else
      local upto = math.min(b, cur.stop)
      local part = (upto - a) / (b - a)
      if covered then
        cur.e = cur.e + e * part
        cur.covered = cur.covered + (upto - a)
      end
      e = e - e * part
      a = upto
      if a >= cur.stop then self:close(cur.stop) end
    end
  end
end

-- A sample of the series. Power: the value holds until the next sample, at
-- most max_gap (beyond: data missing). Energy: the increase since the last
-- reading is spread evenly over the time between them (a drop is a counter
-- reset: the new reading is what was counted since).
function D:feed(value, ts, quality)
  local s = self.s
  if type(value) ~= "number" or value ~= value or (quality and quality < 192) then
    if self.c.source == "power" and s.last_ts and ts > s.last_ts then
      self:advance(ts)
      s.last_value = nil  -- nothing holds past a bad sample
    end
    return
  end
  if s.last_ts and ts <= s.last_ts then return end  -- late or repeated: already accounted
  if not s.cur then open_sub(self, ts - (ts + self.io.offset(ts)) % self.sub_ms) end
  if self.c.source == "power" then
    self:advance(ts)
    s.last_value, s.last_ts = value, ts
    self.rate = value
    -- The samples of the last rate_window (and the one before it), for the
    -- present rate the prediction uses: parallel arrays from index w.head.
    local w = self.win
    w.n = w.n + 1
    w.ts[w.n], w.kw[w.n] = ts, value
    while w.n - w.head > 0 and w.ts[w.head + 1] <= ts - self.rate_window_ms do
      w.ts[w.head], w.kw[w.head] = nil, nil
      w.head = w.head + 1
    end
    self.rate_cache = nil
  else
    if s.last_value and s.last_ts then
      local inc = value >= s.last_value and value - s.last_value or value
      local gap = ts - s.last_ts
      charge(self, s.last_ts, ts, inc * HOUR_MS, true)
      self.rate = inc / (gap / HOUR_MS)
      self.rate_ts = ts
    end
    s.last_value, s.last_ts = value, ts
  end
end

-- Power source: the held value up to `t` (at most max_gap after its sample).
function D:advance(t)
  local s = self.s
  if self.c.source ~= "power" or not s.last_ts or t <= (s.held_to or s.last_ts) then return end
  local from = math.max(s.held_to or s.last_ts, s.last_ts)
  if s.last_value then
    local until_ = math.min(t, s.last_ts + self.max_gap_ms)
    if until_ > from then charge(self, from, until_, s.last_value * (until_ - from), true) end
    if t > until_ then charge(self, math.max(from, until_), t, 0, false) end
  else
    charge(self, from, t, 0, false)
  end
  s.held_to = t
end

-- Closes the sub-intervals that ended by `now`, also with no sample: a
-- power source at once (its held value is known up to now); a counter once
-- its first reading after the end came (the increase across the boundary is
-- split in time), or max_gap after the end without one. Saves the running
-- sub-interval every 10 s, so a restart loses at most that.
function D:tick(now)
  local s = self.s
  if self.setup_due and now >= self.setup_due then self:start() end
  if not s.cur then return end
  local wait = 0
  if self.c.source == "power" then
    self:advance(now)
  else
    wait = self.max_gap_ms
  end
  while s.cur.stop + wait <= now do self:close(s.cur.stop) end
  if self.c.device_sync then self:sync(now) end
  if now - (self.saved_at or 0) >= 10000 then
    self.saved_at = now
    self.io.save("demand", s)
  end
end

-- The local billing period that an interval ending at `stop` belongs to:
-- "2026-03" is from billing_day of March (00:00 site time) to billing_day
-- of April.
function D:period_of(stop)
  local d = self.io.local_date(stop - 1)
  local y, m = d.year, d.month
  if d.day < self.c.billing_day then
    m = m - 1
    if m == 0 then y, m = y - 1, 12 end
  end
  return string.format("%04d-%02d", y, m)
end

-- Ends the running sub-interval at `stop`: its average, the present demand
-- (mean of the last N sub-interval averages; fewer until N are there), the
-- billing peak; then opens the next.
function D:close(stop)
  local s = self.s
  local cur = s.cur
  local length = stop - cur.start
  local avg = cur.covered > 0 and cur.e / cur.covered or nil
  local coverage = length > 0 and cur.covered / length or 0
  local h = s.history
  h[#h + 1] = {start = cur.start, stop = stop, kw = avg, coverage = coverage}
  while #h > self.c.subintervals do table.remove(h, 1) end
  local sum, n, cov = 0, 0, 0
  for i = 1, #h do
    if h[i].kw then sum, n = sum + h[i].kw, n + 1 end
    cov = cov + h[i].coverage
  end
  local present = n > 0 and sum / n or nil
  s.present, s.present_ts, s.present_coverage = present, stop, cov / #h
  if present then
    local period = self:period_of(stop)
    if s.peak and s.peak.period ~= period then
      -- The period ended: its peak is the record the utility bills.
      local record = s.peak
      self.io.emit("demand_peak_final", "info", {name = self.c.name, period = record.period, kw = record.kw,
        ts = record.ts, coverage = record.coverage})
      local peaks = s.peaks
      peaks[#peaks + 1] = record
      while #peaks > self.c.keep_periods do table.remove(peaks, 1) end
      s.peak = nil
    end
    if not s.peak or present > s.peak.kw then
      s.peak = {period = period, kw = present, ts = stop, coverage = s.present_coverage}
      self.io.emit("demand_peak", "info", {name = self.c.name, period = period, kw = present, ts = stop,
        coverage = s.present_coverage})
    end
  end
  if self.io.publish and present then self.io.publish("kw", present, stop) end
  if self.c.device_demand and present then
    self.check_due = {stop = stop, kw = present, ready = not self.c.device_sync}
    if self.c.device_sync then
      -- Synchronised: compared only when the meter's whole window began
      -- on our boundaries, and once it has begun its next sub-interval.
      local bounds = {h[1].start}
      for i = 1, #h do bounds[#bounds + 1] = h[i].stop end
      self.check_due.bounds = #h == self.c.subintervals and bounds or nil
    end
  end
  self.io.emit("demand_interval", "debug", {name = self.c.name, ts = stop, kw = present, subinterval_kw = avg,
    coverage = s.present_coverage})
  open_sub(self, stop)
  self.io.save("demand", s)
end

-- A sample of the meter's own present demand (c.device_demand). The first
-- one taken after an interval end (within max_gap) is compared with the
-- gateway's demand of that interval, in the event demand_cross_check: debug
-- when they agree, warning (and a log line) for a difference above
-- device_tolerance (of the larger, at least 0.1 kW). The BCPM's interval
-- timer is free-running: its figures match only when it is synchronised to
-- the same boundaries (device_sync, D:sync). Returns the difference (kW)
-- when it compared, else nil.
function D:feed_device(value, ts, quality)
  local due = self.check_due
  if not due or type(value) ~= "number" or value ~= value or (quality and quality < 192) then return nil end
  if not due.ready and not self:synced_for(due) then return nil end
  if ts <= due.stop or ts < (due.after or 0) then return nil end
  self.check_due = nil
  if ts - due.stop > self.max_gap_ms then return nil end
  local diff = value - due.kw
  local allowed = math.max(0.1, self.c.device_tolerance * math.max(math.abs(value), math.abs(due.kw)))
  local agrees = math.abs(diff) <= allowed
  -- Every comparison is an event (debug when they agree), so that a check
  -- that never happens (an unsynchronised meter) is seen too.
  self.io.emit("demand_cross_check", agrees and "debug" or "warning", {name = self.c.name, ts = due.stop, kw = due.kw,
    device_kw = value, device_series = self.c.device_demand, difference_kw = diff, agrees = agrees})
  if not agrees then
    self.io.log("warn", string.format("demand '%s': the meter's own demand %.2f kW differs from the gateway's %.2f kW for the interval ending %s (is the meter synchronised to the same intervals?)",
      self.c.name, value, due.kw, os.date("%H:%M", math.floor(due.stop / 1000))))
  end
  return diff
end

-- Writes c.device_setup (e.g. the BCPM's register 72 = 0, sync to comms);
-- a point that fails is written again a minute later, until it is set.
function D:start()
  self.setup_due = nil
  for _, w in ipairs(self.c.device_setup) do
    if not w.done then
      self.io.write(w.point, w.value, function(ok, err)
        if ok then
          w.done = true
          self.io.log("info", string.format("demand '%s': the meter is set up: %s = %s", self.c.name, w.point, tostring(w.value)))
        else
          self.setup_due = self.io.now() + 60000
          self.io.log("warn", string.format("demand '%s': setting %s = %s failed: %s; tried again in 60 s", self.c.name,
            w.point, tostring(w.value), tostring(err)))
        end
      end)
    end
  end
end

-- Sync to comms: at each boundary (within a tenth of a sub-interval, at
-- most 5 s, of it) the meter is told to begin its next sub-interval
-- (io.write(device_sync, 1)). A boundary missed (gridlet stopped, the
-- command failed) is not synchronised: the cross-check waits until the
-- meter's whole window is on synchronised boundaries again.
function D:sync(now)
  local b = boundary_after(self, now - self.sub_ms)
  if b > now or b == self.sync_boundary then return end
  self.sync_boundary = b
  self.synced = self.synced or {}
  for t in pairs(self.synced) do
    if t < b - 8 * self.sub_ms then self.synced[t] = nil end
  end
  if now - b > math.min(self.sub_ms / 10, 5000) then return end
  -- A boundary counts as synchronised only once the meter is in sync mode
  -- (every device_setup point written): before, its own timer ran.
  local set_up = true
  for _, w in ipairs(self.c.device_setup) do set_up = set_up and w.done == true end
  local entry = {}
  self.synced[b] = entry
  self.io.write(self.c.device_sync, 1, function(ok, err)
    entry.ok, entry.at = ok and set_up or false, self.io.now()
    if not ok then
      self.io.log("warn", string.format("demand '%s': %s (begin a demand sub-interval) failed: %s; the meter's demand is not compared until its window is synchronised again",
        self.c.name, self.c.device_sync, tostring(err)))
    end
  end)
end

-- Whether a due cross-check may compare now (synchronised meter): every
-- boundary of its window was synchronised, and the meter confirmed the one
-- at its end (a sample read after that counts). Drops a check that can no
-- longer be valid.
function D:synced_for(due)
  local synced = self.synced or {}
  if not due.bounds then
    self.check_due = nil
    return false
  end
  for i, b in ipairs(due.bounds) do
    local e = synced[b]
    local last = i == #due.bounds
    if e == nil and not last then self.check_due = nil return false end
    if e == nil or e.ok == nil then return false end  -- not sent or not answered yet
    if e.ok == false then self.check_due = nil return false end
  end
  due.ready, due.after = true, synced[due.stop].at
  return true
end

-- kW: the demand of the last completed (sliding) interval, its end and its
-- data coverage (0..1); nil before the first.
function D:present()
  return self.s.present, self.s.present_ts, self.s.present_coverage
end

-- kW: the demand the running interval will end with if the load stays as it
-- is now: the running sub-interval's energy so far plus the present rate
-- (the last power sample while fresh; for a counter, the rate between its
-- last two readings) for what is left, with the N-1 completed sub-intervals
-- of the sliding window. nil without fresh data (the last sample older
-- than max_gap). `since` (UTC ms, optional): the rate counts only from then
-- (a controller's last switching, once it shows), not the whole window.
function D:predicted(now, since)
  local s = self.s
  local cur = s.cur
  if not cur then return nil end
  if self.c.source == "power" then self:advance(now) end
  local L = cur.stop - cur.start
  local elapsed = math.max(0, math.min(now, cur.stop) - cur.start)
  -- No fresh data (nothing newer than max_gap): no prediction.
  local rate = self:present_rate(now, since)
  if not rate or not s.last_ts or now - s.last_ts > self.max_gap_ms then return nil end
  local so_far = cur.covered > 0 and cur.e / cur.covered or rate
  local sub = (so_far * elapsed + rate * (L - elapsed)) / L
  local h, sum, n = s.history, sub, 1
  for i = math.max(1, #h - self.c.subintervals + 2), #h do
    if h[i].kw then sum, n = sum + h[i].kw, n + 1 end
  end
  return sum / n
end

-- kW: the present rate the prediction carries to the interval's end. A
-- power series: its time-weighted mean over the last rate_window (so that
-- one noisy sample does not move the prediction, and a load switched shows
-- within that window; `since` shortens it); a counter: the rate between its
-- last two readings.
function D:present_rate(now, since)
  local w = self.win
  if self.c.source ~= "power" or w.n < w.head then return self.rate end
  local c = self.rate_cache
  if c and c.now == now and c.since == since then return c.rate end
  local from = now - self.rate_window_ms
  if since and since > from then from = since end
  local ts, kw, gap = w.ts, w.kw, self.max_gap_ms
  local e, dt = 0, 0
  for i = w.head, w.n do
    local a = ts[i]
    if a < from then a = from end
    local b = i < w.n and ts[i + 1] or now
    if b > ts[i] + gap then b = ts[i] + gap end
    if b > a then
      e = e + kw[i] * (b - a)
      dt = dt + (b - a)
    end
  end
  local rate = dt > 0 and e / dt or self.rate
  self.rate_cache = {now = now, since = since, rate = rate}
  return rate
end

-- The billing period's peak so far: {period = "2026-03", kw, ts, coverage},
-- or nil; and the final peaks of the past periods (oldest first).
function D:peak()
  return self.s.peak, self.s.peaks
end

-- When the running sub-interval ends (UTC ms), or nil before any data.
function D:next_boundary()
  return self.s.cur and self.s.cur.stop
end

return M
