#include "script/sim_host.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "core/pattern.h"
#include "store/aggregation.h"

namespace gridlet::script {

namespace {

bool target_matches(const std::string& pattern, const std::string& target) {
    if (!has_wildcard(pattern) && (pattern.empty() || pattern.back() != '/')) return pattern == target;
    return pattern_match(pattern, target);
}

SeriesRef to_ref(const SeriesMeta& m) { return SeriesRef{m.id, m.name, m.kind}; }

}  // namespace

SimHost::SimHost(int64_t start_utc_ms, TimeZone zone) : clock_(start_utc_ms), zone_(std::move(zone)) {
    restart_alarms(start_utc_ms);
}

void SimHost::restart_alarms(int64_t now_ms) {
    alarm_table_ = std::make_unique<alarm::AlarmTable>(alarm_persistence_);
    (void)alarm_table_->load(now_ms);
}

uint32_t SimHost::intern(const std::string& name, SeriesKind kind, const std::string& unit) {
    if (auto id = registry_.find(name)) {
        if (kind == SeriesKind::gauge && unit.empty()) return *id;
    }
    SeriesMeta meta;
    meta.name = name;
    meta.kind = kind;
    meta.unit = unit;
    auto id = registry_.intern(meta);
    return id ? *id : 0;
}

void SimHost::record(const gl_sample& in) {
    // As the store writes it: a non-finite value is bad data, and an equal
    // timestamp overwrites (store/chunk_writer.h).
    gl_sample s = in;
    if (!std::isfinite(s.value)) s.quality = GL_QUALITY_BAD;
    auto& h = history_[s.series_id];
    if (h.empty() || s.ts_ms > h.back().ts_ms) {
        h.push_back(s);
    } else {
        auto pos = std::lower_bound(h.begin(), h.end(), s.ts_ms, [](const gl_sample& x, int64_t t) { return x.ts_ms < t; });
        if (pos != h.end() && pos->ts_ms == s.ts_ms) *pos = s;
        else h.insert(pos, s);
    }
    ++recorded_;
}

std::optional<int64_t> SimHost::next_reply_ms() const {
    if (due_replies_.empty()) return std::nullopt;
    return due_replies_.begin()->first;
}

std::vector<CommandReply> SimHost::take_due_replies() {
    std::vector<CommandReply> out;
    const int64_t now = clock_.now_ms();
    while (!due_replies_.empty() && due_replies_.begin()->first <= now) {
        CommandReply r = due_replies_.begin()->second;
        due_replies_.erase(due_replies_.begin());
        if (auto it = command_index_.find(r.request_id); it != command_index_.end()) {
            commands_[it->second].reply = r;
            commands_[it->second].reply_ts_ms = now;
        }
        out.push_back(std::move(r));
    }
    return out;
}

const std::map<std::string, std::string>& SimHost::state_of(const std::string& rule) const {
    static const std::map<std::string, std::string> empty;
    auto it = state_.find(rule);
    return it == state_.end() ? empty : it->second;
}

std::vector<SeriesRef> SimHost::resolve(std::string_view pattern) {
    std::vector<SeriesRef> out;
    for (const SeriesMeta& m : registry_.all()) {
        if (target_matches(std::string(pattern), m.name)) out.push_back(to_ref(m));
    }
    return out;
}

std::optional<SeriesRef> SimHost::find_series(std::string_view name) {
    auto id = registry_.find(name);
    if (!id) return std::nullopt;
    return series_info(*id);
}

std::optional<SeriesRef> SimHost::series_info(uint32_t id) {
    auto m = registry_.get(id);
    if (!m) return std::nullopt;
    return to_ref(*m);
}

std::optional<gl_sample> SimHost::last_sample(uint32_t id) {
    auto it = history_.find(id);
    if (it == history_.end() || it->second.empty()) return std::nullopt;
    // Only what has "happened" by now.
    const int64_t now = clock_.now_ms();
    const auto& h = it->second;
    auto pos = std::upper_bound(h.begin(), h.end(), now, [](int64_t t, const gl_sample& x) { return t < x.ts_ms; });
    if (pos == h.begin()) return std::nullopt;
    return *(pos - 1);
}

Expected<std::vector<QueryRow>> SimHost::query(const QuerySpec& spec) {
    if (spec.to_ms <= spec.from_ms) return Status::invalid("query: empty range");
    if (spec.aggregate) {
        if (spec.step_ms != 0 && !spec.calendar)
            if (Status st = store::check_query_step(spec.step_ms); !st) return st;
        if (Status st = store::check_query_range(spec.from_ms, spec.to_ms); !st) return st;
    }
    std::vector<QueryRow> rows;
    std::vector<store::Sample> samples;
    const store::BlockGrid grid;
    const store::QueryLimit bound{spec.max_rows, spec.meter};
    for (uint32_t id : spec.series) {
        auto it = history_.find(id);
        if (it == history_.end()) continue;
        const auto& h = it->second;
        const SeriesRef info = series_info(id).value_or(SeriesRef{});
        if (spec.aggregate == Aggregate::consumption && info.kind != SeriesKind::counter)  // as the store does
            return Status::invalid("series '" + info.name + "' is a " + series_kind_name(info.kind) +
                                   ": consumption needs a counter");
        if (!spec.aggregate) {
            auto lo = std::lower_bound(h.begin(), h.end(), spec.from_ms,
                                       [](const gl_sample& x, int64_t t) { return x.ts_ms < t; });
            uint64_t unmetered = 0;
            for (auto p = lo; p != h.end() && p->ts_ms < spec.to_ms; ++p) {
                if (bound.max_rows && rows.size() == bound.max_rows) return bound.too_many_rows();
                if (bound.meter && ++unmetered == store::QueryLimit::kMeterEvery) {
                    if (Status st = bound.meter(unmetered); !st) return st;
                    unmetered = 0;
                }
                rows.push_back({id, p->ts_ms, p->value, p->quality});
            }
            continue;
        }
        // The store's own aggregation (store/aggregation.h) over the samples
        // in memory: the same buckets, counter rules and summation order as
        // a live query.
        samples.clear();
        samples.reserve(h.size());
        for (const gl_sample& x : h) samples.push_back(store::Sample{x.ts_ms, x.value, x.quality});
        store::VectorSampleSource source(samples);
        store::CounterRule rule;
        rule.counter = info.kind == SeriesKind::counter;
        if (auto m = registry_.get(id)) rule = store::counter_rule(*m);
        store::Aggregator agg(source, nullptr, grid, rule, store::Aggregator::kNoRows);
        const store::BucketPlan plan = spec.calendar ? store::calendar_buckets(spec.from_ms, spec.to_ms, *spec.calendar, zone_)
                                       : spec.step_ms == 0
                                           ? store::single_bucket(spec.from_ms, spec.to_ms)
                                           : store::step_buckets(spec.from_ms, spec.to_ms, spec.step_ms);
        const Aggregate which = *spec.aggregate;
        Status st = store::walk_buckets(agg, spec.from_ms, spec.to_ms, plan,
                                        [&](int64_t start, int64_t, const store::RollupRow& row) {
                                            if (auto v = row.value(which))
                                                rows.push_back({id, plan.label(start), *v, GL_QUALITY_GOOD});
                                        },
                                        &bound, rows.size());
        if (!st) return st;
    }
    return rows;
}

Status SimHost::send_command(const CommandRequest& request) {
    const int64_t now = clock_.now_ms();
    command_index_[request.request_id] = commands_.size();
    commands_.push_back(SentCommand{now, request, std::nullopt, 0});
    CommandReply reply{request.request_id, GL_OK, ""};
    int64_t delay = 0;
    bool scripted = false;
    for (auto it = reply_rules_.rbegin(); it != reply_rules_.rend(); ++it) {
        if (it->count == 0 || !target_matches(it->target, request.target)) continue;
        scripted = true;
        if (it->count > 0) --it->count;
        reply.status = it->status;
        reply.error = it->error;
        delay = it->delay_ms;
        if (it->status == GL_ERR_TIMEOUT) {
            reply.error = "timeout";
            delay = request.timeout_ms;
        }
        break;
    }
    if (!scripted && plant_ != nullptr) {
        if (auto r = plant_->command(request, clock_.monotonic_ms())) reply = std::move(*r);
    }
    if (delay > static_cast<int64_t>(request.timeout_ms)) {  // later than the sender waits
        reply.status = GL_ERR_TIMEOUT;
        reply.error = "timeout";
        delay = request.timeout_ms;
    }
    due_replies_.emplace(now + delay, std::move(reply));
    return Status::ok();
}

void SimHost::emit_event(const RuleEvent& event) { events_.push_back(event); }

Status SimHost::publish_sample(const PublishedSample& p) {
    uint32_t id = 0;
    if (auto existing = registry_.find(p.series)) {
        if (auto meta = registry_.get(*existing))
            if (Status st = publish_conflict(*meta, p); !st) return st;
        id = *existing;
    } else {
        id = intern(p.series, p.kind.value_or(SeriesKind::gauge), p.unit.value_or(""));
        if (id == 0) return Status::invalid("series name '" + p.series + "' is not valid");
    }
    gl_sample s{};
    s.series_id = id;
    s.ts_ms = p.ts_ms;
    s.value = p.value;
    s.quality = GL_QUALITY_GOOD;
    record(s);
    published_.emplace_back(p.series, s);
    undelivered_.push_back(s);
    return Status::ok();
}

std::vector<gl_sample> SimHost::take_undelivered() {
    std::vector<gl_sample> out;
    out.swap(undelivered_);
    return out;
}

Expected<std::map<std::string, std::string>> SimHost::load_state(std::string_view rule) {
    return state_of(std::string(rule));
}

Status SimHost::put_state(std::string_view rule, std::string_view key, const std::optional<std::string>& json) {
    if (state_write_error_) return Status::io_error(*state_write_error_);
    auto& m = state_[std::string(rule)];
    if (json) {
        m[std::string(key)] = *json;
    } else {
        m.erase(std::string(key));
    }
    return Status::ok();
}

void SimHost::log(LogLevel level, std::string_view rule, std::string_view message) {
    logs_.push_back(LogLine{clock_.now_ms(), level, std::string(rule), std::string(message)});
    if (echo_logs_) {
        std::cerr << zone_.format_iso(clock_.now_ms()) << " " << log_level_name(level) << " [" << rule << "] " << message
                  << "\n";
    }
}

Status SimHost::export_file(std::string_view rule, const std::string& target, const std::string& name,
                            const std::string& content) {
    exported_.push_back({std::string(rule), target, name, content, clock_.now_ms()});
    log(LogLevel::info, rule,
        "gridlet.export: " + name + " (" + std::to_string(content.size()) + " bytes) queued for '" + target + "'");
    return Status::ok();
}

}  // namespace gridlet::script
