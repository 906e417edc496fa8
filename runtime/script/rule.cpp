#include "script/rule.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/pattern.h"
#include "core/text.h"
#include "script/sandbox.h"

namespace gridlet::script {

namespace {

// Trusted per-sample dispatcher, run inside each rule state (not in the
// sandbox). It records its position so that, after an error in the rule's
// callback, the engine resumes with the next sample.
constexpr const char* kEachSource = R"(
local rawget, rawset = rawget, rawset
return function(fn, b)
  local v, s, t, q = rawget(b, "value"), rawget(b, "series"), rawget(b, "ts"), rawget(b, "quality")
  local i, n = rawget(b, "pos"), rawget(b, "n")
  while i < n do
    i = i + 1
    rawset(b, "pos", i)
    fn(rawget(v, i), rawget(s, i), rawget(t, i), rawget(q, i))
  end
end
)";

constexpr size_t kMaxSourceBytes = 4u << 20;
const char* const kColumnNames[4] = {"value", "ts", "series", "quality"};

Expected<std::string> read_source(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return Status::not_found(path + ": no such rule file");
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return Status::io_error(path + ": " + ec.message());
    if (size > kMaxSourceBytes) return Status::invalid(path + ": file larger than 4 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::io_error(path + ": cannot read");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

const char* rule_status_name(RuleStatus s) noexcept {
    switch (s) {
        case RuleStatus::running: return "running";
        case RuleStatus::stopped: return "stopped";
        case RuleStatus::failed: return "failed";
    }
    return "?";
}

Rule::Rule(const RuleConfig& config, EngineCore& core, uint64_t uid) : config_(config), core_(core), uid_(uid) {}

Rule::~Rule() { close(); }

void Rule::close() {
    if (live_) core_.stale_timer_entries += timers_.size();
    L_.reset();
    subs_.clear();
    timers_.clear();
    writes_.clear();
    if (limits_) limits_->add_engine_bytes(-static_cast<long>(limits_->engine_bytes()));  // nothing is held any more
    window_points_.clear();
    deferred_.clear();
}

Rule& Rule::of(lua_State* L) { return *static_cast<Rule*>(RuleLimits::of(L).owner()); }

Expected<std::unique_ptr<Rule>> Rule::load(const RuleConfig& config, EngineCore& core, uint64_t uid) {
    std::unique_ptr<Rule> rule(new Rule(config, core, uid));
    Status st = rule->build();
    if (!st) return st;
    return rule;
}

Status Rule::build() {
    auto source = read_source(config_.file);
    if (!source) return source.status();
    sources_[config_.file] = *source;

    limits_ = std::make_unique<RuleLimits>(config_.budgets);
    limits_->set_owner(this);
    lua_State* L = lua_newstate(&RuleLimits::alloc, limits_.get());
    if (L == nullptr) return Status::internal("rule '" + name() + "': cannot create a Lua state (memory budget too small?)");
    L_.reset(L);
    limits_->attach(L);
    limits_->begin_callback();

    if (lua_cpcall(L, &Rule::setup_state, this) != 0) {
        std::string message = valid_text(lua_isstring(L, -1) ? to_view(L, -1) : std::string_view("?"));
        if (limits_->stopped()) message = limits_->stop_message();
        return Status::invalid("rule '" + name() + "': cannot set up its Lua state: " + message);
    }
    const std::string chunkname = "@" + config_.file;
    if (luaL_loadbufferx(L, source->data(), source->size(), chunkname.c_str(), "t") != 0) {
        std::string message = valid_text(lua_tostring(L, -1) ? to_view(L, -1) : "syntax error");
        lua_pop(L, 1);
        if (limits_->stopped()) message = config_.file + ": " + limits_->stop_message();
        return Status::invalid(message);
    }
    push_env();
    lua_setfenv(L, -2);
    std::string error;
    limits_->begin_callback();
    if (!call(0, error)) {
        if (limits_->stopped()) return Status::invalid(config_.file + ": rule stopped while loading: " + limits_->stop_message());
        return Status::invalid(error);
    }
    if (limits_->stopped()) return Status::invalid(config_.file + ": rule stopped while loading: " + limits_->stop_message());
    lua_gc(L, LUA_GCCOLLECT, 0);  // drop what compiling and loading left behind
    return Status::ok();
}

int Rule::setup_state(lua_State* L) {
    Rule& self = *static_cast<Rule*>(lua_touserdata(L, 1));
    lua_newtable(L);
    self.modules_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    self.names_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    install_sandbox(L, self);
    self.env_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    if (luaL_loadbufferx(L, kEachSource, std::strlen(kEachSource), "=gridlet.each", "t") != 0) lua_error(L);
    lua_call(L, 0, 1);
    self.each_ref_ = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

void Rule::commit() {
    live_ = true;
    live_since_ms_ = core_.host.clock().monotonic_ms();
    auto effects = std::move(deferred_);
    deferred_.clear();
    for (auto& effect : effects) effect();
    for (auto& [id, t] : timers_) schedule(t);
    core_.routes_dirty = true;
}

void Rule::side_effect(std::function<void()> effect) {
    if (live_) {
        effect();
    } else {
        deferred_.push_back(std::move(effect));
    }
}

void Rule::push_env() { lua_rawgeti(L_.get(), LUA_REGISTRYINDEX, env_ref_); }

void Rule::log(LogLevel level, std::string_view message) { core_.host.log(level, name(), valid_text(message)); }

void Rule::log_text(LogLevel level, std::string_view where, std::string_view text) {
    std::string line(where);
    if (line.size() + text.size() > kMaxLogLine) {
        size_t keep = kMaxLogLine > line.size() ? kMaxLogLine - line.size() : 0;
        while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;  // whole UTF-8 characters
        line.append(text.substr(0, keep));
        line += " ... (" + std::to_string(text.size() - keep) + " more bytes cut)";
    } else {
        line += text;
    }
    if (!take(Rate::log_byte, static_cast<int64_t>(line.size()))) return;  // dropped, counted
    log(level, line);
}

int64_t Rule::rate_limit(Rate kind) const noexcept {
    const Budgets& b = limits_->budgets();
    switch (kind) {
        case Rate::write: return b.writes_per_s;
        case Rate::event: return b.events_per_s;
        case Rate::state_write: return b.state_writes_per_s;
        case Rate::log_line: return b.log_lines_per_s;
        case Rate::log_byte: return b.log_bytes_per_s;
        case Rate::event_byte: return b.event_bytes_per_s;
        case Rate::state_byte: return b.state_bytes_per_s;
    }
    return 0;
}

bool Rule::take(Rate kind, int64_t amount) {
    const int64_t now = core_.host.clock().now_ms();
    const int64_t second = now >= 0 ? now / 1000 : (now - 999) / 1000;
    RateWindow& w = rates_[static_cast<int>(kind)];
    if (w.second != second) w = RateWindow{second, 0};
    const bool log = kind == Rate::log_line || kind == Rate::log_byte;
    if (log && log_lines_dropped_ > 0 && now - log_drop_reported_ms_ >= 60'000) {
        core_.host.log(LogLevel::warn, name(),
                       std::to_string(log_lines_dropped_) + " log lines dropped (over log_lines_per_s = " +
                           std::to_string(rate_limit(Rate::log_line)) + " or log_bytes_per_s = " +
                           std::to_string(rate_limit(Rate::log_byte)) + ")");
        log_lines_dropped_ = 0;
        log_drop_reported_ms_ = now;
    }
    if (w.used + amount > rate_limit(kind)) {
        if (log) {
            if (log_lines_dropped_++ == 0 && now - log_drop_reported_ms_ >= 60'000) {
                core_.host.log(LogLevel::warn, name(),
                               kind == Rate::log_line
                                   ? "more than " + std::to_string(rate_limit(kind)) +
                                         " log lines in a second: lines are dropped (log_lines_per_s; counted, "
                                         "reported once a minute)"
                                   : "more than " + std::to_string(rate_limit(kind)) +
                                         " bytes of log in a second: lines are dropped (log_bytes_per_s; counted, "
                                         "reported once a minute)");
                log_drop_reported_ms_ = now;
            }
        }
        return false;
    }
    w.used += amount;
    return true;
}

void Rule::state_saved(const std::string& key, const Status& result) {
    StateSaveFailures& f = state_failures_;
    const int64_t now = core_.host.clock().now_ms();
    if (result) {
        if (f.total > 0)
            log(LogLevel::info, "gridlet.state is saved again (" + std::to_string(f.total) + " writes were not saved)");
        f = StateSaveFailures{};
        return;
    }
    ++f.total;
    ++f.since_log;
    if (f.total > 1 && now - f.last_log_ms < 60'000) return;
    log(LogLevel::error, "gridlet.state." + key + " not saved: " + result.message() +
                             (f.since_log > 1 ? " (" + std::to_string(f.since_log) + " writes not saved since the last "
                                                "message; logged at most once a minute)"
                                              : ""));
    f.since_log = 0;
    f.last_log_ms = now;
}

bool Rule::call(int nargs, std::string& error) {
    lua_State* L = L_.get();
    const int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    const int rc = lua_pcall(L, nargs, 0, base);
    if (rc != 0) error = lua_tostring(L, -1) ? valid_text(to_view(L, -1)) : "error object is not a string";
    lua_settop(L, base - 1);
    return rc == 0;
}

bool Rule::protected_call(int nargs, const std::string& what) {
    std::string error;
    const bool ok = call(nargs, error);
    ++callbacks_;
    if (limits_->stopped()) {
        handle_stop(what);
        return false;
    }
    if (!ok) report_error(what, error);
    return ok;
}

void Rule::report_error(const std::string& what, const std::string& message) {
    ++errors_;
    last_error_ = what + ": " + message.substr(0, message.find('\n'));
    last_error_ms_ = core_.host.clock().now_ms();
    const int64_t now = core_.host.clock().monotonic_ms();
    if (now - last_error_log_ms_ < core_.options.error_log_interval_ms) {
        ++errors_unlogged_;
        return;
    }
    std::string line = "error in " + what + ": " + message;
    if (errors_unlogged_ > 0) line += "\n(" + std::to_string(errors_unlogged_) + " more errors not logged since the last one)";
    log(LogLevel::error, line);
    nlohmann::json body = {{"rule", name()},
                           {"callback", what},
                           {"error", message.substr(0, message.find('\n'))},
                           {"errors_not_logged", errors_unlogged_}};
    core_.host.emit_event({core_.host.clock().now_ms(), "rule/" + name(), "rule_error", Severity::error, dump_json(body)});
    last_error_log_ms_ = now;
    errors_unlogged_ = 0;
}

void Rule::handle_stop(const std::string& what) {
    if (!stop_message_.empty()) return;
    stop_message_ = limits_->stop_message();
    log(LogLevel::error, "rule stopped: " + stop_message_ + " (in " + what + "); other rules go on");
    nlohmann::json body = {{"rule", name()},
                           {"reason", stop_reason_name(limits_->stop_reason())},
                           {"message", stop_message_},
                           {"callback", what},
                           {"memory_bytes", limits_->memory_used()}};
    core_.host.emit_event({core_.host.clock().now_ms(), "rule/" + name(), "rule_stopped", Severity::error, dump_json(body)});
    core_.routes_dirty = true;
}

namespace {

// Splits a subscription's patterns for routing (Subscription::exact, wild)
// and returns the engine bytes it holds: each name about three times (the
// list, the index, the message text) plus the hash and vector overhead.
size_t index_patterns(Subscription& sub) {
    size_t bytes = sizeof(Subscription) + 256;
    for (const std::string& p : sub.patterns) {
        if (!has_wildcard(p) && (p.empty() || p.back() != '/')) sub.exact.insert(p);
        else sub.wild.push_back(p);
        bytes += 3 * p.size() + 96;
    }
    return bytes;
}

}  // namespace

void Rule::note_subscription(int id, bool added) {
    if (!live_) return;  // commit() rebuilds the routes
    (added ? core_.subscriptions_added : core_.subscriptions_removed).emplace_back(uid_, id);
}

int Rule::add_subscription(std::vector<std::string> patterns, bool batch, int fn_ref) {
    lua_State* L = L_.get();
    Subscription sub;
    sub.id = ++next_handle_;
    for (const std::string& p : patterns) sub.pattern += (sub.pattern.empty() ? "" : ", ") + p;
    sub.patterns = std::move(patterns);
    sub.charged = index_patterns(sub);
    sub.made_ms = core_.host.clock().monotonic_ms();
    limits_->add_engine_bytes(static_cast<long>(sub.charged));
    sub.batch = batch;
    sub.fn_ref = fn_ref;
    lua_createtable(L, 0, 6);
    for (int c = 0; c < 4; ++c) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        sub.columns_ref[c] = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_setfield(L, -2, kColumnNames[c]);
    }
    sub.table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    const int id = sub.id;
    subs_.emplace(id, std::move(sub));
    note_subscription(id, true);
    return id;
}

int Rule::add_view(std::vector<std::string> names) {
    lua_State* L = L_.get();
    const int view = lua_gettop(L);
    Subscription sub;
    sub.id = ++next_handle_;
    sub.view = true;
    sub.fn_ref = LUA_NOREF;
    sub.table_ref = LUA_NOREF;
    for (int& ref : sub.columns_ref) ref = LUA_NOREF;
    for (int c = 0; c < 2; ++c) {
        lua_getfield(L, view, kColumnNames[c]);
        sub.columns_ref[c] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    // Start from what the engine already knows (the live feed).
    for (size_t i = 0; i < names.size(); ++i) {
        const int slot = static_cast<int>(i) + 1;
        sub.slot_of.emplace(names[i], slot);
        auto ref = core_.find_series(names[i]);
        auto last = ref ? core_.cache.last(ref->id) : std::nullopt;
        if (last && last->quality > 0 && last->value == last->value) {
            sub.pending.push_back(*last);
            sub.pending_slots.push_back(slot);
        }
        sub.pattern += (i ? ", " : "") + names[i];
    }
    sub.patterns = std::move(names);
    sub.charged = sizeof(Subscription) + 256;
    for (const std::string& n : sub.patterns) sub.charged += 3 * n.size() + 128;  // list, slot map, text
    limits_->add_engine_bytes(static_cast<long>(sub.charged));
    const int id = sub.id;
    subs_.emplace(id, std::move(sub));
    deliver(id);
    note_subscription(id, true);
    return id;
}

int Rule::add_timer(Timer timer) {
    limits_->add_engine_bytes(static_cast<long>(Timer::kCharge));
    timer.id = ++next_handle_;
    const int id = timer.id;
    auto [it, inserted] = timers_.emplace(id, std::move(timer));
    if (live_) schedule(it->second);
    return id;
}

void Rule::schedule(const Timer& t) {
    TimerEntry e{t.due, uid_, t.id};
    if (t.calendar) {
        core_.calendar_timers.push(e);
    } else {
        core_.periodic_timers.push(e);
    }
}

bool Rule::cancel(int handle) {
    lua_State* L = L_.get();
    if (auto s = subs_.find(handle); s != subs_.end()) {
        luaL_unref(L, LUA_REGISTRYINDEX, s->second.fn_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, s->second.table_ref);
        for (int ref : s->second.columns_ref) luaL_unref(L, LUA_REGISTRYINDEX, ref);
        limits_->add_engine_bytes(-static_cast<long>(s->second.charged));
        subs_.erase(s);
        note_subscription(handle, false);
        return true;
    }
    if (auto t = timers_.find(handle); t != timers_.end()) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->second.fn_ref);
        timers_.erase(t);  // its queue entry goes stale
        limits_->add_engine_bytes(-static_cast<long>(Timer::kCharge));
        if (live_) ++core_.stale_timer_entries;
        return true;
    }
    return false;
}

void Rule::charge_window(uint32_t series, size_t points) {
    size_t& charged = window_points_[series];
    const long delta = (static_cast<long>(points) - static_cast<long>(charged)) * static_cast<long>(SeriesCache::kPointBytes);
    charged = points;
    limits_->add_engine_bytes(delta);
}

void Rule::note_unknown_series(std::string_view name) {
    if (!live_ || core_.host.clock().monotonic_ms() - live_since_ms_ < kSilentAfterMs) return;
    if (unknown_warned_.size() >= 100 || !unknown_warned_.emplace(name).second) return;
    log(LogLevel::warn, "no series named '" + valid_text(name) +
                            "' (gridlet.last/window return nil; a typo? `gridlet series` lists them); said once");
}

void Rule::warn_silent_subscriptions(int64_t now_ms) {
    for (auto& [id, sub] : subs_) {
        if (sub.matched || sub.warned || sub.view || now_ms - sub.made_ms < kSilentAfterMs) continue;
        sub.warned = true;
        std::string shown = sub.pattern.size() > 200 ? sub.pattern.substr(0, 200) + "..." : sub.pattern;
        log(LogLevel::warn, "gridlet.on('" + valid_text(shown) + "'): no series has reached it in " +
                                std::to_string(kSilentAfterMs / 1000) +
                                " s (a typo? `gridlet series` lists the series); said once");
    }
}

void Rule::track_reply(uint64_t request_id, int fn_ref, std::string target) {
    limits_->add_engine_bytes(static_cast<long>(kWriteCharge + target.size()));
    writes_[request_id] = PendingWrite{fn_ref, std::move(target)};
    core_.command_owner[request_id] = uid_;
}

void Rule::deliver_unguarded(int subscription_id) {
    auto it = subs_.find(subscription_id);
    if (it == subs_.end() || stopped()) return;
    if (it->second.view) {
        // No Lua runs: the latest good sample of each series into its slot.
        Subscription& sub = it->second;
        lua_State* L = L_.get();
        lua_rawgeti(L, LUA_REGISTRYINDEX, sub.columns_ref[0]);
        lua_rawgeti(L, LUA_REGISTRYINDEX, sub.columns_ref[1]);
        const int values = lua_gettop(L) - 1, times = values + 1;
        for (size_t i = 0; i < sub.pending.size(); ++i) {
            const gl_sample& s = sub.pending[i];
            if (s.quality <= 0 || s.value != s.value) continue;
            lua_pushnumber(L, s.value);
            lua_rawseti(L, values, sub.pending_slots[i]);
            lua_pushnumber(L, static_cast<double>(s.ts_ms));
            lua_rawseti(L, times, sub.pending_slots[i]);
        }
        lua_settop(L, values - 1);
        sub.pending.clear();
        sub.pending_slots.clear();
        return;
    }
    if (!live_) return;
    limits_->begin_callback();  // one budget for the whole delivery
    std::vector<gl_sample> samples = std::move(it->second.pending);
    it->second.pending.clear();
    lua_State* L = L_.get();
    const std::string what = "on('" + it->second.pattern + "')";
    for (size_t off = 0; off < samples.size();) {
        it = subs_.find(subscription_id);  // a callback may cancel it
        if (it == subs_.end() || stopped()) return;
        Subscription& sub = it->second;
        const int n = static_cast<int>(std::min(core_.options.max_batch, samples.size() - off));
        lua_rawgeti(L, LUA_REGISTRYINDEX, sub.table_ref);
        const int table = lua_gettop(L);
        lua_rawgeti(L, LUA_REGISTRYINDEX, names_ref_);
        const int names = lua_gettop(L);
        // A smaller batch than the last gets fresh columns (sized for the
        // largest seen, all nil): cheaper than clearing the tail one entry
        // at a time, and the columns still hold exactly n entries.
        const bool fresh = n < sub.last_n;
        if (n > sub.capacity) sub.capacity = n;
        for (int c = 0; c < 4; ++c) {
            if (fresh) {
                lua_createtable(L, sub.capacity, 0);
                lua_pushvalue(L, -1);
                lua_rawseti(L, LUA_REGISTRYINDEX, sub.columns_ref[c]);
            } else {
                lua_rawgeti(L, LUA_REGISTRYINDEX, sub.columns_ref[c]);
            }
            lua_pushstring(L, kColumnNames[c]);
            lua_pushvalue(L, -2);
            lua_rawset(L, table);  // repair what a callback changed (raw: no metamethod runs)
        }
        const int values = names + 1, times = names + 2, series = names + 3, quality = names + 4;
        for (int i = 0; i < n; ++i) {
            const gl_sample& s = samples[off + static_cast<size_t>(i)];
            lua_pushnumber(L, s.value);
            lua_rawseti(L, values, i + 1);
            lua_pushnumber(L, static_cast<double>(s.ts_ms));
            lua_rawseti(L, times, i + 1);
            lua_pushinteger(L, s.quality);
            lua_rawseti(L, quality, i + 1);
            lua_rawgeti(L, names, static_cast<int>(s.series_id));
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                auto info = core_.series_info(s.series_id);
                std::string nm = info ? info->name : "#" + std::to_string(s.series_id);
                lua_pushlstring(L, nm.data(), nm.size());
                lua_pushvalue(L, -1);
                lua_rawseti(L, names, static_cast<int>(s.series_id));
            }
            lua_rawseti(L, series, i + 1);
        }
        sub.last_n = n;
        lua_settop(L, table);
        lua_pushstring(L, "n");
        lua_pushinteger(L, n);
        lua_rawset(L, table);
        lua_pushstring(L, "pos");
        lua_pushinteger(L, 0);
        lua_rawset(L, table);
        const int fn_ref = sub.fn_ref;
        if (sub.batch) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
            lua_insert(L, table);
            protected_call(1, what);
        } else {
            // Per sample; after an error, go on with the next sample.
            for (;;) {
                lua_rawgeti(L, LUA_REGISTRYINDEX, each_ref_);
                lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
                lua_pushvalue(L, table);
                if (protected_call(2, what) || stopped()) break;
                lua_pushstring(L, "pos");
                lua_rawget(L, table);
                const lua_Integer pos = lua_tointeger(L, -1);
                lua_pop(L, 1);
                if (pos >= n) break;
            }
        }
        lua_settop(L, table - 1);
        off += static_cast<size_t>(n);
    }
    if (auto again = subs_.find(subscription_id); again != subs_.end() && again->second.pending.empty()) {
        samples.clear();
        again->second.pending = std::move(samples);  // keep the capacity
    }
}

void Rule::fire_timer_unguarded(int id, int64_t due) {
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.due != due || stopped() || !live_) return;
    lua_State* L = L_.get();
    const std::string what = it->second.calendar ? "at('" + it->second.spec->text() + "')"
                                                  : "every(" + std::to_string(it->second.interval_ms) + " ms)";
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->second.fn_ref);
    lua_pushnumber(L, static_cast<double>(core_.host.clock().now_ms()));
    limits_->begin_callback();
    protected_call(1, what);
    it = timers_.find(id);
    if (it == timers_.end() || stopped()) return;
    Timer& t = it->second;
    if (t.calendar) {
        const int64_t after = std::max(core_.host.clock().now_ms(), t.due);
        auto next = t.spec->next_after(core_.host.time_zone(), after);
        if (!next) {
            log(LogLevel::warn, "at('" + t.spec->text() + "'): " + next.status().message() + "; timer cancelled");
            cancel(id);
            return;
        }
        t.due = *next;
    } else {
        const int64_t now = core_.host.clock().monotonic_ms();
        t.due += t.interval_ms;
        // Late by whole periods (a long stall): skip them, keep the phase.
        if (t.due <= now) t.due += ((now - t.due) / t.interval_ms + 1) * t.interval_ms;
    }
    schedule(t);
}

void Rule::deliver_reply_unguarded(const CommandReply& reply) {
    auto it = writes_.find(reply.request_id);
    if (it == writes_.end()) return;
    PendingWrite write = std::move(it->second);
    writes_.erase(it);
    limits_->add_engine_bytes(-static_cast<long>(kWriteCharge + write.target.size()));
    if (stopped()) return;
    const bool ok = reply.status == GL_OK;
    if (write.fn_ref == LUA_NOREF) {
        // A rule's own line: under its log budgets (a flood of failing writes
        // would otherwise fill the disk).
        if (!ok && take(Rate::log_line))
            log_text(LogLevel::warn, "", "write " + write.target + " failed: " + reply.error + " (no reply callback)");
        return;
    }
    lua_State* L = L_.get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, write.fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, write.fn_ref);
    lua_pushboolean(L, ok);
    if (ok) {
        lua_pushnil(L);
    } else {
        std::string err = reply.error.empty() ? (reply.status == GL_ERR_TIMEOUT ? "timeout" : "error") : reply.error;
        lua_pushlstring(L, err.data(), err.size());
    }
    limits_->begin_callback();
    protected_call(2, "write('" + write.target + "') reply");
}

// Entry points from the engine: nothing thrown while serving one rule may
// reach the engine (it would stop every rule, or the kernel); the rule is
// stopped instead, with the reason in its rule_stopped event.
template <class F>
void Rule::guard(const std::string& what, F&& body) noexcept {
    try {
        body();
        // The delivery's wall time counts towards the rule's share of the engine.
        if (limits_->end_delivery(core_.host.clock().monotonic_ms())) handle_stop(what);
        return;
    } catch (const std::exception& e) {
        limits_->fail(e.what());
    } catch (...) {
        limits_->fail("unknown exception");
    }
    try {
        handle_stop(what);
    } catch (...) {
        // Reporting failed too: the rule is stopped all the same.
    }
}

void Rule::deliver(int subscription_id) {
    guard("delivery", [&] { deliver_unguarded(subscription_id); });
}

void Rule::set_status_function(int fn_ref) {
    if (status_ref_ != LUA_NOREF) luaL_unref(L_.get(), LUA_REGISTRYINDEX, status_ref_);
    status_ref_ = fn_ref;
}

Expected<nlohmann::json> Rule::status_document() {
    if (stopped() || !live_) return Status::unavailable("rule '" + name() + "' is not running");
    if (status_ref_ == LUA_NOREF) return nlohmann::json();
    lua_State* L = L_.get();
    const int base = lua_gettop(L);
    lua_pushcfunction(L, traceback_handler);
    lua_rawgeti(L, LUA_REGISTRYINDEX, status_ref_);
    limits_->begin_callback();
    const int rc = lua_pcall(L, 0, 1, base + 1);
    ++callbacks_;
    if (limits_->stopped()) {
        lua_settop(L, base);
        handle_stop("status()");
        return Status::unavailable("rule '" + name() + "' stopped in its status function");
    }
    if (rc != 0) {
        const std::string error = lua_tostring(L, -1) ? valid_text(to_view(L, -1)) : "error object is not a string";
        lua_settop(L, base);
        report_error("status()", error);
        return Status::invalid("rule '" + name() + "': status(): " + error.substr(0, error.find('\n')));
    }
    Expected<nlohmann::json> doc = lua_isnil(L, -1) ? Expected<nlohmann::json>(nlohmann::json()) : to_json(L, -1);
    lua_settop(L, base);
    if (!doc) {
        report_error("status()", "the result is not JSON: " + doc.status().message());
        return Status::invalid("rule '" + name() + "': status(): the result is not JSON: " + doc.status().message());
    }
    return doc;
}

void Rule::fire_timer(int id, int64_t due) {
    guard("timer", [&] { fire_timer_unguarded(id, due); });
}

void Rule::deliver_reply(const CommandReply& reply) {
    guard("write reply", [&] { deliver_reply_unguarded(reply); });
}

}  // namespace gridlet::script
