#include "alarm/alarm_table.h"

#include <algorithm>
#include <cmath>

#include "core/text.h"
#include "core/timezone.h"

namespace gridlet::alarm {

Expected<std::vector<std::string>> MemoryPersistence::load_all() {
    std::vector<std::string> out;
    for (const auto& [id, text] : records_) out.push_back(text);
    return out;
}
Status MemoryPersistence::put(uint64_t id, const std::string& json) {
    records_[id] = json;
    return Status::ok();
}
Status MemoryPersistence::erase(uint64_t id) {
    records_.erase(id);
    return Status::ok();
}

const char* transition_name(Transition t) noexcept {
    switch (t) {
        case Transition::raised: return "raised";
        case Transition::acknowledged: return "acknowledged";
        case Transition::returned: return "returned";
        case Transition::reactivated: return "reactivated";
        case Transition::finished: return "finished";
    }
    return "?";
}

std::optional<Transition> parse_transition(std::string_view name) noexcept {
    for (Transition t : {Transition::raised, Transition::acknowledged, Transition::returned, Transition::reactivated,
                         Transition::finished})
        if (name == transition_name(t)) return t;
    return std::nullopt;
}

int64_t transition_ms(Transition t, const Alarm& a) noexcept {
    switch (t) {
        case Transition::raised: return a.start_ms;
        case Transition::acknowledged: return a.ack ? a.ack->at_ms : 0;
        case Transition::returned: return a.returned_ms;
        case Transition::reactivated: {
            auto it = a.detail.find("reactivated_ms");
            return it != a.detail.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
        }
        case Transition::finished: return a.end_ms;
    }
    return 0;
}

std::string transition_event_type(Transition t) { return std::string("alarm_") + transition_name(t); }

namespace {
constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 86'400'000;

bool worse_than(double v, double extreme, int worse) {
    if (!std::isfinite(v)) return false;
    if (!std::isfinite(extreme)) return true;
    return worse > 0 ? v > extreme : worse < 0 ? v < extreme : false;
}
}  // namespace

AlarmTable::AlarmTable(AlarmPersistence& persistence, TableOptions options)
    : persistence_(persistence), options_(options) {}

Status AlarmTable::load(int64_t now_ms) {
    auto records = persistence_.load_all();
    if (!records) return records.status().with_context("alarm table");
    std::lock_guard lock(mu_);
    size_t bad = 0;
    for (const std::string& text : *records) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        auto a = alarm_from_json(j);
        if (!a) {
            ++bad;
            continue;
        }
        next_id_ = std::max(next_id_, a->id + 1);
        if (!a->active() && a->ack) {
            if (options_.history_days > 0 && a->end_ms < now_ms - options_.history_days * kDay)
                (void)persistence_.erase(a->id);
            continue;
        }
        if (a->active()) active_by_key_[a->key] = a->id;
        open_[a->id] = std::move(*a);
    }
    if (bad > 0)
        return Status::corruption("alarm table: " + std::to_string(bad) + " records do not decode (left as they are)");
    return Status::ok();
}

Status AlarmTable::persist(const Alarm& a) {
    Status st = persistence_.put(a.id, dump_json(to_json(a)));
    if (!st) {
        ++counters_.persist_failures;
        dirty_[a.id] = true;  // retried by tick()
    } else {
        dirty_.erase(a.id);
    }
    return st;
}

void AlarmTable::change(Transition t, const Alarm& a) { changes_.push_back({t, a}); }

bool AlarmTable::flood_allows(const std::string& source, int64_t ts_ms) {
    if (options_.flood_per_minute == 0) return true;
    Flood& f = floods_[source];
    while (!f.raises.empty() && f.raises.front() <= ts_ms - kMinute) f.raises.pop_front();
    if (f.raises.size() < options_.flood_per_minute && f.held_back == 0) {
        f.raises.push_back(ts_ms);
        return true;
    }
    ++f.held_back;
    ++counters_.held_back_by_flood;
    f.last_held_ms = ts_ms;
    const std::string key = "system/alarm_flood|" + source;
    auto it = active_by_key_.find(key);
    if (it != active_by_key_.end()) {
        Alarm& a = open_[it->second];
        a.detail["held_back"] = f.held_back;
        a.value_extreme = static_cast<double>(f.held_back);
        dirty_[a.id] = true;
        return false;
    }
    Alarm a;
    a.id = next_id_++;
    a.key = key;
    a.name = "alarm_flood";
    a.source = "kernel";
    a.category = "system";
    a.origin = "kernel";
    a.condition = "flood";
    a.type = AlarmType::system;
    a.criticality = Criticality::critical;
    a.start_ms = ts_ms;
    a.value_start = a.value_extreme = static_cast<double>(f.held_back);
    a.message = "'" + source + "' raises more than " + std::to_string(options_.flood_per_minute) +
                " alarms a minute: its further alarms are held back and counted here until it is quiet for a minute";
    a.detail = {{"flooding_source", source}, {"per_minute", options_.flood_per_minute}, {"held_back", f.held_back}};
    active_by_key_[key] = a.id;
    auto& stored = open_[a.id] = std::move(a);
    ++counters_.raised;
    (void)persist(stored);
    change(Transition::raised, stored);
    return false;
}

Expected<Alarm> AlarmTable::raise(const RaiseRequest& r) {
    if (r.key.empty() || r.name.empty() || r.source.empty())
        return Status::invalid("an alarm needs a key, a name and a source");
    std::lock_guard lock(mu_);
    if (auto it = active_by_key_.find(r.key); it != active_by_key_.end()) {
        Alarm& a = open_[it->second];
        if (worse_than(r.value, a.value_extreme, r.worse)) {
            a.value_extreme = r.value;
            dirty_[a.id] = true;
        }
        if (a.returned_ms != 0) {  // a latching alarm whose condition is back
            a.returned_ms = 0;
            a.detail["reactivated_ms"] = r.ts_ms;
            a.detail["reactivations"] = a.detail.value("reactivations", 0) + 1;
            (void)persist(a);
            change(Transition::reactivated, a);
        }
        return a;
    }
    if (!flood_allows(r.source, r.ts_ms))
        return Status::unavailable("alarm '" + r.name + "' of '" + r.source +
                                   "' held back: more than " + std::to_string(options_.flood_per_minute) +
                                   " alarms a minute from that source (flood control)");
    Alarm a;
    a.id = next_id_++;
    a.key = r.key;
    a.name = r.name;
    a.source = r.source;
    a.series = r.series;
    a.category = r.category;
    a.origin = r.origin;
    a.condition = r.condition;
    a.message = r.message;
    a.type = r.type;
    a.criticality = r.criticality;
    a.latching = r.latching;
    a.start_ms = r.ts_ms;
    a.value_start = a.value_extreme = r.value;
    a.detail = r.detail.is_object() ? r.detail : nlohmann::json::object();
    if (r.worse != 0) a.detail["worse"] = r.worse > 0 ? "higher" : "lower";
    active_by_key_[a.key] = a.id;
    Alarm& stored = open_[a.id] = std::move(a);
    ++counters_.raised;
    Status st = persist(stored);
    change(Transition::raised, stored);
    if (!st) return st.with_context("alarm " + std::to_string(stored.id) + " raised, but not stored yet");
    return stored;
}

void AlarmTable::finish(Alarm& a, int64_t ts_ms, const std::string& reason) {
    a.end_ms = std::max(ts_ms, a.start_ms + (ts_ms <= a.start_ms ? 1 : 0));
    if (!reason.empty()) a.detail["end_reason"] = reason;
    active_by_key_.erase(a.key);
    ++counters_.finished;
}

Expected<std::optional<Alarm>> AlarmTable::clear(std::string_view key, int64_t ts_ms, double value,
                                                 const std::string& reason) {
    std::lock_guard lock(mu_);
    auto it = active_by_key_.find(std::string(key));
    if (it == active_by_key_.end()) return std::optional<Alarm>();
    Alarm& a = open_[it->second];
    if (std::isfinite(value)) a.detail["value_end"] = value;
    a.detail.erase("off_delay_since_ms");
    Transition t;
    if (a.latching && !a.ack) {
        if (a.returned_ms != 0) return std::optional<Alarm>(a);
        a.returned_ms = ts_ms;
        t = Transition::returned;
    } else {
        finish(a, ts_ms, reason);
        t = Transition::finished;
    }
    Alarm copy = a;
    Status st = persist(a);
    change(t, copy);
    if (!a.active() && a.ack) open_.erase(copy.id);  // history now
    if (!st) return st.with_context("alarm " + std::to_string(copy.id) + " " + transition_name(t) + ", not stored yet");
    return std::optional<Alarm>(std::move(copy));
}

void AlarmTable::observe(std::string_view key, double value) {
    std::lock_guard lock(mu_);
    auto it = active_by_key_.find(std::string(key));
    if (it == active_by_key_.end()) return;
    Alarm& a = open_[it->second];
    const auto w = a.detail.find("worse");
    const int worse = w == a.detail.end() ? 0 : (*w == "higher" ? 1 : -1);
    if (worse_than(value, a.value_extreme, worse)) {
        a.value_extreme = value;
        dirty_[a.id] = true;
    }
}

void AlarmTable::mark_ending(std::string_view key, int64_t since_ms) {
    std::lock_guard lock(mu_);
    auto it = active_by_key_.find(std::string(key));
    if (it == active_by_key_.end()) return;
    Alarm& a = open_[it->second];
    if (since_ms == 0) {
        if (a.detail.erase("off_delay_since_ms") == 0) return;
    } else {
        a.detail["off_delay_since_ms"] = since_ms;
    }
    (void)persist(a);  // a failure is counted by persist; the record is written again at the next change
}

Expected<Alarm> AlarmTable::acknowledge(uint64_t id, const std::string& by, const std::string& comment,
                                        int64_t now_ms) {
    std::lock_guard lock(mu_);
    auto it = open_.find(id);
    if (it == open_.end()) {
        // Not open: unknown, or finished and acknowledged (history).
        auto records = persistence_.load_all();
        if (records)
            for (const std::string& text : *records) {
                auto a = alarm_from_json(nlohmann::json::parse(text, nullptr, false));
                if (a && a->id == id && a->ack)
                    return Status(StatusCode::already_exists,
                                  "alarm " + std::to_string(id) + " was acknowledged by " + a->ack->by + " at " +
                                      TimeZone().format_iso(a->ack->at_ms) + " (UTC)");
            }
        return Status::not_found("no alarm " + std::to_string(id) + " (see `gridlet alarms --status all`)");
    }
    Alarm& a = it->second;
    if (a.ack)
        return Status(StatusCode::already_exists, "alarm " + std::to_string(id) + " was acknowledged by " + a.ack->by +
                                                      " at " + TimeZone().format_iso(a.ack->at_ms) + " (UTC)");
    a.ack = Acknowledgement{by, now_ms, comment};
    ++counters_.acknowledged;
    change(Transition::acknowledged, a);
    if (a.active() && a.latching && a.returned_ms != 0) {
        finish(a, now_ms, "acknowledged after its condition returned");
        change(Transition::finished, a);
    }
    Alarm copy = a;
    Status st = persist(a);
    if (!copy.active()) open_.erase(it);
    if (!st) return st.with_context("alarm " + std::to_string(id) + " acknowledged, but not stored yet");
    return copy;
}

void AlarmTable::tick(int64_t now_ms) {
    std::lock_guard lock(mu_);
    for (auto it = floods_.begin(); it != floods_.end();) {
        Flood& f = it->second;
        while (!f.raises.empty() && f.raises.front() <= now_ms - kMinute) f.raises.pop_front();
        if (f.held_back > 0 && now_ms - f.last_held_ms >= kMinute) {
            // Quiet for a minute: the flood is over.
            auto a = active_by_key_.find("system/alarm_flood|" + it->first);
            if (a != active_by_key_.end()) {
                Alarm& alarm = open_[a->second];
                finish(alarm, now_ms, "quiet for a minute");
                (void)persist(alarm);
                change(Transition::finished, alarm);
                if (alarm.ack) open_.erase(alarm.id);
            }
            f.held_back = 0;
        }
        if (f.raises.empty() && f.held_back == 0) {
            it = floods_.erase(it);
        } else {
            ++it;
        }
    }
    std::vector<uint64_t> ids;
    for (const auto& [id, d] : dirty_) ids.push_back(id);
    for (uint64_t id : ids) {
        auto it = open_.find(id);
        if (it == open_.end()) {
            dirty_.erase(id);
            continue;
        }
        (void)persist(it->second);
    }
}

std::optional<int64_t> AlarmTable::next_due_ms() const {
    std::lock_guard lock(mu_);
    std::optional<int64_t> next;
    for (const auto& [source, f] : floods_)
        if (f.held_back > 0 && (!next || f.last_held_ms + kMinute < *next)) next = f.last_held_ms + kMinute;
    return next;
}

std::optional<Alarm> AlarmTable::active(std::string_view key) const {
    std::lock_guard lock(mu_);
    auto it = active_by_key_.find(std::string(key));
    if (it == active_by_key_.end()) return std::nullopt;
    return open_.at(it->second);
}

std::vector<std::string> AlarmTable::active_keys() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [k, id] : active_by_key_) out.push_back(k);
    return out;
}

Expected<std::vector<Alarm>> AlarmTable::list(const AlarmFilter& filter) const {
    std::vector<Alarm> out;
    std::lock_guard lock(mu_);
    const bool history =
        !filter.open.value_or(false) && !filter.active.value_or(false) && filter.acknowledged.value_or(true);
    if (history) {
        auto records = persistence_.load_all();
        if (!records) return records.status().with_context("alarm history");
        for (const std::string& text : *records) {
            auto a = alarm_from_json(nlohmann::json::parse(text, nullptr, false));
            if (!a || open_.count(a->id)) continue;
            if (filter.matches(*a)) out.push_back(std::move(*a));
        }
    }
    for (const auto& [id, a] : open_)
        if (filter.matches(a)) out.push_back(a);
    std::sort(out.begin(), out.end(), [](const Alarm& x, const Alarm& y) {
        return x.start_ms != y.start_ms ? x.start_ms > y.start_ms : x.id > y.id;
    });
    if (filter.limit > 0 && out.size() > filter.limit) out.resize(filter.limit);
    return out;
}

size_t AlarmTable::open_count() const {
    std::lock_guard lock(mu_);
    return open_.size();
}

size_t AlarmTable::active_count() const {
    std::lock_guard lock(mu_);
    return active_by_key_.size();
}

std::vector<AlarmChange> AlarmTable::take_transitions() {
    std::lock_guard lock(mu_);
    std::vector<AlarmChange> out;
    out.swap(changes_);
    return out;
}

TableCounters AlarmTable::counters() const {
    std::lock_guard lock(mu_);
    return counters_;
}

RaiseRequest system_raise(const std::string& name, const std::string& source, const std::string& category,
                          Criticality criticality, int64_t ts_ms) {
    RaiseRequest r;
    r.name = name;
    r.source = source;
    r.category = category;
    r.origin = "kernel";
    r.condition = name;
    r.type = AlarmType::system;
    r.criticality = criticality;
    r.ts_ms = ts_ms;
    return r;
}

}  // namespace gridlet::alarm
