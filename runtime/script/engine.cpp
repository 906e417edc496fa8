#include "script/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
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
    return a.file == b.file && a.params == b.params && a.budgets == b.budgets;
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

int Engine::route_slot(const Subscription& sub, std::string_view name) {
    if (sub.view) {
        auto f = sub.slot_of.find(std::string(name));
        return f == sub.slot_of.end() ? -1 : f->second;
    }
    if (!sub.exact.empty() && sub.exact.count(std::string(name))) return 0;
    for (const std::string& pattern : sub.wild)
        if (subscription_matches(pattern, name)) return 0;
    return -1;
}

const std::vector<Engine::Route>& Engine::routes_for(uint32_t series_id) {
    auto it = routes_.find(series_id);
    if (it != routes_.end()) return it->second;
    std::vector<Route> routes;
    if (auto info = core_.series_info(series_id)) {
        for (auto& [name, slot] : slots_) {
            if (!slot.rule || slot.rule->stopped()) continue;
            for (auto& [id, sub] : slot.rule->subscriptions())
                if (int s = route_slot(sub, info->name); s >= 0) {
                    routes.push_back({slot.rule.get(), &sub, s, id});
                    sub.matched = true;
                }
        }
    }
    return routes_.emplace(series_id, std::move(routes)).first->second;
}

void Engine::update_routes() {
    if (core_.routes_dirty) {
        routes_.clear();
        core_.routes_dirty = false;
        core_.subscriptions_added.clear();
        core_.subscriptions_removed.clear();
        return;
    }
    if (!core_.subscriptions_removed.empty()) {
        std::set<std::pair<uint64_t, int>> gone(core_.subscriptions_removed.begin(), core_.subscriptions_removed.end());
        core_.subscriptions_removed.clear();
        // A removed subscription's Route::sub dangles: compare by ids only
        // through the rule, which is alive (a rule that goes rebuilds all).
        for (auto& [series, routes] : routes_)
            std::erase_if(routes, [&](const Route& r) {
                return gone.count({r.rule->uid(), r.sub_id}) > 0;
            });
    }
    if (!core_.subscriptions_added.empty()) {
        auto added = std::move(core_.subscriptions_added);
        core_.subscriptions_added.clear();
        for (auto& [uid, id] : added) {
            Rule* rule = by_uid(uid);
            if (!rule || rule->stopped()) continue;
            auto sub = rule->subscriptions().find(id);
            if (sub == rule->subscriptions().end()) continue;  // cancelled since
            Subscription& added_sub = sub->second;
            // Exact names only (a view, or no prefix or glob), fewer than the
            // series seen: look each name up rather than test every series.
            const size_t names = added_sub.view ? added_sub.slot_of.size() : added_sub.exact.size();
            if ((added_sub.view || added_sub.wild.empty()) && names < routes_.size()) {
                auto route_name = [&](const std::string& name) {
                    auto ref = core_.find_series(name);
                    if (!ref) return;
                    auto routes = routes_.find(ref->id);
                    if (routes == routes_.end()) return;  // not seen yet: routes_for() will route it
                    if (int s = route_slot(added_sub, name); s >= 0) {
                        routes->second.push_back({rule, &added_sub, s, id});
                        added_sub.matched = true;
                    }
                };
                if (added_sub.view) {
                    for (const auto& [name, slot] : added_sub.slot_of) route_name(name);
                } else {
                    for (const std::string& name : added_sub.exact) route_name(name);
                }
                continue;
            }
            for (auto& [series, routes] : routes_) {
                auto info = core_.series_info(series);
                if (!info) continue;
                if (int s = route_slot(added_sub, info->name); s >= 0) {
                    routes.push_back({rule, &added_sub, s, id});
                    added_sub.matched = true;
                }
            }
        }
    }
}

void Engine::warn_silent_subscriptions() {
    const int64_t now = core_.host.clock().monotonic_ms();
    if (now < next_silence_check_ms_) return;
    next_silence_check_ms_ = now + 10'000;
    for (auto& [name, slot] : slots_)
        if (slot.rule && !slot.rule->stopped()) slot.rule->warn_silent_subscriptions(now);
}

void Engine::on_samples(std::span<const gl_sample> samples) {
    update_routes();
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
    // The least busy rule first (stable: a rule's subscriptions keep their
    // order), so a slow rule delays the others by one delivery at most.
    if (work.size() > 1) {
        const int64_t now = core_.host.clock().monotonic_ms();
        std::unordered_map<uint64_t, double> busy;
        for (auto& [uid, sub] : work)
            if (!busy.count(uid)) busy[uid] = by_uid(uid) ? by_uid(uid)->recent_busy_ms(now) : 0;
        std::stable_sort(work.begin(), work.end(), [&](const auto& a, const auto& b) { return busy[a.first] < busy[b.first]; });
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
    warn_silent_subscriptions();
    // Every due timer is taken out of its queue; then, one at a time, the
    // timer of the least busy rule runs (ties: the earliest due), and timers
    // that became due meanwhile join. So a rule with many slow timers delays
    // another rule's timer by one callback at most. After kTimerSliceMs of
    // work the rest goes back to its queue, due now, and the engine's owner
    // serves samples and replies before calling again.
    const Clock& clock = core_.host.clock();
    struct Due {
        TimerEntry entry;
        bool calendar;
    };
    std::vector<Due> due;
    const auto collect = [&] {
        for (int round = 0; round < 2; ++round) {
            TimerQueue& q = round == 0 ? core_.periodic_timers : core_.calendar_timers;
            const int64_t now = round == 0 ? clock.monotonic_ms() : clock.now_ms();
            while (!q.empty() && q.top().due <= now) {
                due.push_back({q.top(), round == 1});
                q.pop();
            }
        }
    };
    const auto started = std::chrono::steady_clock::now();
    collect();
    while (!due.empty()) {
        if (std::chrono::steady_clock::now() - started > std::chrono::milliseconds(kTimerSliceMs)) {
            for (const Due& d : due) (d.calendar ? core_.calendar_timers : core_.periodic_timers).push(d.entry);
            break;
        }
        const int64_t now = clock.monotonic_ms();
        size_t best = 0;
        double best_busy = 0;
        for (size_t i = 0; i < due.size(); ++i) {
            Rule* r = by_uid(due[i].entry.rule_uid);
            const double b = r ? r->recent_busy_ms(now) : -1;  // stale entries go first (nothing runs)
            if (i == 0 || b < best_busy || (b == best_busy && due[i].entry.due < due[best].entry.due)) {
                best = i;
                best_busy = b;
            }
        }
        const TimerEntry e = due[best].entry;
        due.erase(due.begin() + static_cast<std::ptrdiff_t>(best));
        if (Rule* rule = by_uid(e.rule_uid)) rule->fire_timer(e.timer_id, e.due);
        collect();
    }
    finish();
}

void Engine::compact_timer_queues() {
    const size_t entries = core_.periodic_timers.size() + core_.calendar_timers.size();
    if (core_.stale_timer_entries < 1024 || core_.stale_timer_entries * 2 < entries) return;
    for (TimerQueue* q : {&core_.periodic_timers, &core_.calendar_timers}) {
        std::vector<TimerEntry> keep;
        keep.reserve(q->size() - std::min(q->size(), core_.stale_timer_entries));
        while (!q->empty()) {
            const TimerEntry& e = q->top();
            if (Rule* rule = by_uid(e.rule_uid); rule != nullptr && !rule->stopped()) {
                auto t = rule->timers().find(e.timer_id);
                if (t != rule->timers().end() && t->second.due == e.due) keep.push_back(e);
            }
            q->pop();
        }
        *q = TimerQueue(std::greater<TimerEntry>(), std::move(keep));
    }
    core_.stale_timer_entries = 0;
}

int64_t Engine::next_timer_in_ms() {
    compact_timer_queues();
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
            info.last_error = slot.rule->last_error();
            info.last_error_ms = slot.rule->last_error_ms();
        }
        out.push_back(std::move(info));
    }
    return out;
}

Expected<nlohmann::json> Engine::status_document(const std::string& name) {
    auto it = slots_.find(name);
    if (it == slots_.end()) return Status::not_found("no rule '" + name + "'");
    if (!it->second.rule) return Status::unavailable("rule '" + name + "' failed to load: " + it->second.error);
    auto doc = it->second.rule->status_document();
    finish();
    return doc;
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
