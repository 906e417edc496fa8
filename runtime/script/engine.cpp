#include "script/engine.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/pattern.h"
#include "core/text.h"
#include "script/file_watch.h"
#include "install_paths.h"

namespace gridlet::script {

namespace {

bool subscription_matches(const std::string& pattern, std::string_view name) {
    if (!has_wildcard(pattern) && (pattern.empty() || pattern.back() != '/')) return pattern == name;
    return pattern_match(pattern, name);
}

bool same_config(const RuleConfig& a, const RuleConfig& b) {
    return a.file == b.file && a.params == b.params && a.budgets.instructions == b.budgets.instructions &&
           a.budgets.time_ms == b.budgets.time_ms && a.budgets.memory_bytes == b.budgets.memory_bytes;
}

}  // namespace

Engine::Engine(RuleHost& host, EngineOptions options) : core_(host, std::move(options)) {}

Engine::~Engine() {
    for (auto& [name, slot] : slots_) retire(slot);
}

Rule* Engine::by_uid(uint64_t uid) const {
    auto it = by_uid_.find(uid);
    return it == by_uid_.end() ? nullptr : it->second;
}

void Engine::retire(Slot& slot) {
    if (!slot.rule) return;
    by_uid_.erase(slot.rule->uid());
    slot.rule.reset();
    core_.routes_dirty = true;
}

Status Engine::load_into(Slot& slot, const RuleConfig& config, bool quiet_repeat) {
    Expected<std::unique_ptr<Rule>> loaded = Status::internal("not loaded");
    try {
        loaded = Rule::load(config, core_, ++next_uid_);
    } catch (const std::exception& e) {
        loaded = Status::internal(config.file + ": engine fault while loading: " + valid_text(e.what()));
    }
    if (!loaded) {
        const bool kept = slot.rule && !slot.rule->stopped();
        const bool repeat = quiet_repeat && loaded.status().message() == slot.last_failure;
        slot.last_failure = loaded.status().message();
        if (!repeat) {  // a file watch retrying an unchanged failure says nothing new
            std::string message = "not loaded: " + loaded.status().message();
            if (kept) message += " (the previous version keeps running)";
            core_.host.log(LogLevel::error, config.name, message);
            nlohmann::json body = {{"rule", config.name}, {"file", config.file}, {"error", loaded.status().message()},
                                   {"previous_version_running", kept}};
            core_.host.emit_event({core_.host.clock().now_ms(), "rule/" + config.name, "rule_load_failed",
                                   Severity::error, dump_json(body)});
        }
        if (!kept) {
            retire(slot);
            slot.config = config;
            slot.error = loaded.status().message();
        }
        return loaded.status();
    }
    retire(slot);
    slot.config = config;
    slot.error.clear();
    slot.last_failure.clear();
    slot.rule = std::move(*loaded);
    by_uid_[slot.rule->uid()] = slot.rule.get();
    slot.rule->commit();
    core_.routes_dirty = true;
    core_.host.log(LogLevel::info, config.name, "loaded " + config.file);
    finish();
    update_watches();
    return Status::ok();
}

std::vector<RuleLoadError> Engine::configure(const std::vector<RuleConfig>& rules, bool revive_stopped) {
    std::vector<RuleLoadError> failed;
    std::map<std::string, const RuleConfig*> wanted;
    for (const RuleConfig& c : rules) {
        if (!wanted.emplace(c.name, &c).second) {
            failed.push_back({c.name, Status::invalid("rule '" + c.name + "' is configured twice")});
            core_.host.log(LogLevel::error, c.name, "configured twice: only the first [[rules]] entry runs");
        }
    }
    for (auto it = slots_.begin(); it != slots_.end();) {
        if (wanted.count(it->first) == 0) {
            core_.host.log(LogLevel::info, it->first, "unloaded (no longer configured)");
            retire(it->second);
            it = slots_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [name, config] : wanted) {
        Slot& slot = slots_[name];
        const bool revive = revive_stopped && slot.rule && slot.rule->stopped();
        if (slot.rule && !revive && same_config(slot.config, *config) && !sources_changed(*slot.rule)) continue;
        if (revive) core_.host.log(LogLevel::info, name, "stopped: loading it again (reload requested)");
        else if (slot.rule) core_.host.log(LogLevel::info, name, "changed: reloading");
        Status st = load_into(slot, *config);
        if (!st) failed.push_back({name, st});
    }
    update_watches();
    return failed;
}

bool Engine::sources_changed(const Rule& rule) const {
    for (const auto& [path, text] : rule.sources()) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return true;
        std::ostringstream now;
        now << in.rdbuf();
        if (now.str() != text) return true;
    }
    return false;
}

std::vector<std::string> builtin_lib_dirs() {
    // gridlet's own Lua library (gridlet.greenup, ...): the source tree's in
    // a build, else the install prefix's of this binary.
    std::vector<std::string> out;
    const std::string& data = executable_install_paths().data_dir;
    std::error_code ec;
    if (!data.empty() && std::filesystem::is_directory(data + "/scripts/lib", ec)) out.push_back(data + "/scripts/lib");
    return out;
}

std::vector<RuleLoadError> Engine::reload_changed(bool revive_stopped) {
    std::vector<RuleLoadError> failed;
    for (auto& [name, slot] : slots_) {
        const bool retry = !slot.rule;  // failed to load before
        const bool revive = revive_stopped && slot.rule && slot.rule->stopped();
        if (!retry && !revive && !sources_changed(*slot.rule)) continue;
        if (revive) core_.host.log(LogLevel::info, name, "stopped: loading it again (reload requested)");
        else if (slot.rule) core_.host.log(LogLevel::info, name, "source changed: reloading");
        Status st = load_into(slot, slot.config, /*quiet_repeat=*/!revive_stopped);
        if (!st) failed.push_back({name, st});
    }
    return failed;
}

Status Engine::reload(const std::string& name) {
    auto it = slots_.find(name);
    if (it == slots_.end()) return Status::not_found("no rule named '" + name + "'");
    return load_into(it->second, it->second.config);
}

const std::vector<Engine::Route>& Engine::routes_for(uint32_t series_id) {
    auto it = routes_.find(series_id);
    if (it != routes_.end()) return it->second;
    std::vector<Route> routes;
    if (auto info = core_.series_info(series_id)) {
        for (auto& [name, slot] : slots_) {
            if (!slot.rule || slot.rule->stopped()) continue;
            for (auto& [id, sub] : slot.rule->subscriptions()) {
                if (sub.view) {
                    if (auto f = sub.slot_of.find(info->name); f != sub.slot_of.end())
                        routes.push_back({slot.rule.get(), &sub, f->second});
                    continue;
                }
                for (const std::string& pattern : sub.patterns) {
                    if (subscription_matches(pattern, info->name)) {
                        routes.push_back({slot.rule.get(), &sub, 0});
                        break;
                    }
                }
            }
        }
    }
    return routes_.emplace(series_id, std::move(routes)).first->second;
}

void Engine::on_samples(std::span<const gl_sample> samples) {
    if (core_.routes_dirty) {
        routes_.clear();
        core_.routes_dirty = false;
    }
    touched_.clear();
    for (const gl_sample& s : samples) {
        core_.cache.observe(s);
        for (const Route& r : routes_for(s.series_id)) {
            r.sub->pending.push_back(s);
            if (r.slot) r.sub->pending_slots.push_back(r.slot);
            if (r.sub->pending.size() == 1) touched_.emplace_back(r.rule, r.sub->id);
        }
    }
    // Rules run one after the other; a rule's subscriptions in the order they
    // were made. (Lua may change subscriptions: deliver() looks them up by id.)
    std::vector<std::pair<uint64_t, int>> work;
    work.reserve(touched_.size());
    for (auto& [rule, sub] : touched_) {
        if (rule->is_view(sub)) {
            rule->deliver(sub);  // views first: callbacks see the whole delivery
        } else {
            work.emplace_back(rule->uid(), sub);
        }
    }
    for (auto& [uid, sub] : work) {
        if (Rule* rule = by_uid(uid)) rule->deliver(sub);
    }
    finish();
}

void Engine::on_command_reply(const CommandReply& reply) {
    auto owner = core_.command_owner.find(reply.request_id);
    if (owner == core_.command_owner.end()) return;
    const uint64_t uid = owner->second;
    core_.command_owner.erase(owner);
    if (Rule* rule = by_uid(uid)) rule->deliver_reply(reply);
    finish();
}

void Engine::run_due_timers() {
    const Clock& clock = core_.host.clock();
    for (int round = 0; round < 2; ++round) {
        TimerQueue& q = round == 0 ? core_.periodic_timers : core_.calendar_timers;
        const int64_t now = round == 0 ? clock.monotonic_ms() : clock.now_ms();
        while (!q.empty() && q.top().due <= now) {
            TimerEntry e = q.top();
            q.pop();
            if (Rule* rule = by_uid(e.rule_uid)) rule->fire_timer(e.timer_id, e.due);
        }
    }
    finish();
}

int64_t Engine::next_timer_in_ms() {
    const Clock& clock = core_.host.clock();
    int64_t best = -1;
    for (int round = 0; round < 2; ++round) {
        TimerQueue& q = round == 0 ? core_.periodic_timers : core_.calendar_timers;
        // Drop stale entries (cancelled timers, unloaded rules).
        while (!q.empty()) {
            const TimerEntry& e = q.top();
            bool valid = false;
            if (Rule* rule = by_uid(e.rule_uid); rule != nullptr && !rule->stopped()) {
                auto t = rule->timers().find(e.timer_id);
                valid = t != rule->timers().end() && t->second.due == e.due;
            }
            if (valid) break;
            q.pop();
        }
        if (q.empty()) continue;
        const int64_t now = round == 0 ? clock.monotonic_ms() : clock.now_ms();
        const int64_t in = std::max<int64_t>(0, q.top().due - now);
        if (best < 0 || in < best) best = in;
    }
    return best;
}

void Engine::finish() {
    while (!core_.local_replies.empty()) {
        auto replies = std::move(core_.local_replies);
        core_.local_replies.clear();
        for (const CommandReply& r : replies) on_command_reply(r);
    }
    for (auto& [name, slot] : slots_) {
        if (slot.rule && slot.rule->stopped() && slot.rule->state() != nullptr) {
            slot.error = slot.rule->stop_message();
            slot.rule->close();  // frees its memory; the slot stays "stopped" until reloaded
            core_.routes_dirty = true;
        }
    }
}

std::vector<RuleInfo> Engine::rules() const {
    std::vector<RuleInfo> out;
    for (const auto& [name, slot] : slots_) {
        RuleInfo info;
        info.name = name;
        info.file = slot.config.file;
        info.error = slot.error;
        if (!slot.rule) {
            info.status = RuleStatus::failed;
        } else {
            info.status = slot.rule->stopped() ? RuleStatus::stopped : RuleStatus::running;
            info.callbacks = slot.rule->callbacks();
            info.errors = slot.rule->errors();
            info.memory_bytes = slot.rule->memory_used();
        }
        out.push_back(std::move(info));
    }
    return out;
}

size_t Engine::memory_bytes() const {
    size_t total = 0;
    for (const auto& [name, slot] : slots_) {
        if (slot.rule) total += slot.rule->memory_used();
    }
    return total;
}

Status Engine::watch_files() {
    if (!watch_) {
        auto w = FileWatch::create();
        if (!w) return w.status();
        watch_ = std::move(*w);
    }
    update_watches();
    return Status::ok();
}

int Engine::watch_fd() const { return watch_ ? watch_->fd() : -1; }

void Engine::update_watches() {
    if (!watch_) return;
    std::vector<std::string> files;
    for (const auto& [name, slot] : slots_) {
        files.push_back(slot.config.file);
        if (slot.rule) {
            for (const auto& [path, text] : slot.rule->sources()) files.push_back(path);
        }
    }
    watch_->set_files(files);
}

std::vector<RuleLoadError> Engine::poll_file_changes() {
    if (!watch_ || !watch_->changed()) return {};
    return reload_changed();
}

}  // namespace gridlet::script
