-- gridlet.greenup.commands: what gridlet.greenup sends to the stations
-- (setpoint, enable) and how a failed command is retried. Methods of the
-- greenup object (installed by gridlet.greenup).
local S = require("gridlet.greenup.sessions")

local C = {methods = {}}
local G = C.methods

function G:send(st, target, value, field)
  st[field] = value
  self.io.write(target, value, function(ok, err)
    local streak = field .. "_failing"
    if ok then
      if field == "sent_sp" then st.acked_sp = value end
      st[streak] = false
      return
    end
    if st[field] == value then st[field] = nil end  -- sent again at the next step
    if not st[streak] then
      st[streak] = true
      self.io.log("warn", string.format("%s: %s = %g failed: %s", st.name, target, value, tostring(err)))
      self.io.emit("greenup_command_failed", "warning", {station = st.name, target = target, value = value, error = tostring(err)})
    end
  end)
end

function G:command(st)
  local s = st.session
  if not s and st.sent_en ~= 1 then return end
  if s and s.status == "charging" then
    if st.sent_sp ~= st.allow then self:send(st, st.cfg.setpoint_target, st.allow, "sent_sp") end
    if st.sent_en ~= 1 then self:send(st, st.cfg.enable_target, 1, "sent_en") end
  elseif s then
    if st.sent_en ~= 0 and (st.sent_en == 1 or st.state == S.CHARGING or st.state == S.WAITING) then
      self:send(st, st.cfg.enable_target, 0, "sent_en")
    end
  elseif st.sent_en == 1 and st.state ~= S.ERROR then
    self:send(st, st.cfg.enable_target, 0, "sent_en")  -- the next vehicle must ask again
  end
end

return C
