#include "script/sim_host.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "core/pattern.h"

namespace gridlet::script {

namespace {

bool target_matches(const std::string& pattern, const std::string& target) {
    if (!has_wildcard(pattern) && (pattern.empty() || pattern.back() != '/')) return pattern == target;
    return pattern_match(pattern, target);
}

SeriesRef to_ref(const SeriesMeta& m) { return SeriesRef{m.id, m.name, m.kind}; }

}  // namespace

SimHost::SimHost(int64_t start_utc_ms, TimeZone zone) : clock_(start_utc_ms), zone_(std::move(zone)) {}

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

void SimHost::record(const gl_sample& s) {
    auto& h = history_[s.series_id];
    if (h.empty() || s.ts_ms >= h.back().ts_ms) {
        h.push_back(s);
    } else {
        auto pos = std::upper_bound(h.begin(), h.end(), s.ts_ms, [](int64_t t, const gl_sample& x) { return t < x.ts_ms; });
        h.insert(pos, s);
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
    if (spec.aggregate && spec.step_ms <= 0) return Status::invalid("query: aggregate needs a step");
    std::vector<QueryRow> rows;
    for (uint32_t id : spec.series) {
        auto it = history_.find(id);
        if (it == history_.end()) continue;
        const auto& h = it->second;
        const SeriesRef info = series_info(id).value_or(SeriesRef{});
        const bool counter = info.kind == SeriesKind::counter;
        if (spec.aggregate == Aggregate::consumption && !counter)  // as the store does
            return Status::invalid("series '" + info.name + "' is a " + series_kind_name(info.kind) +
                                   ": consumption needs a counter");
        auto lo = std::lower_bound(h.begin(), h.end(), spec.from_ms, [](const gl_sample& x, int64_t t) { return x.ts_ms < t; });
        auto hi = std::lower_bound(lo, h.end(), spec.to_ms, [](const gl_sample& x, int64_t t) { return x.ts_ms < t; });
        if (!spec.aggregate) {
            for (auto p = lo; p != hi; ++p) rows.push_back({id, p->ts_ms, p->value, p->quality});
            continue;
        }
        int64_t bucket = INT64_MIN;
        double acc = 0, first = 0, last = 0, mn = 0, mx = 0, inc = 0;
        size_t n = 0;
        // Counter consumption counts the step from the sample before each
        // bucket too: energy used in [from, to) is what was added in it.
        std::optional<double> prev;
        for (auto b = lo; b != h.begin();) {
            --b;
            if (b->quality != GL_QUALITY_BAD) {
                prev = b->value;
                break;
            }
        }
        auto flush = [&] {
            if (n == 0) return;
            double v = 0;
            switch (*spec.aggregate) {
                case Aggregate::avg: v = acc / static_cast<double>(n); break;
                case Aggregate::min: v = mn; break;
                case Aggregate::max: v = mx; break;
                case Aggregate::sum: v = acc; break;
                case Aggregate::count: v = static_cast<double>(n); break;
                case Aggregate::first: v = first; break;
                case Aggregate::last: v = last; break;
                case Aggregate::consumption: v = inc; break;
            }
            rows.push_back({id, bucket, v, GL_QUALITY_GOOD});
        };
        for (auto p = lo; p != hi; ++p) {
            if (p->quality == GL_QUALITY_BAD) continue;
            const int64_t b = spec.from_ms + (p->ts_ms - spec.from_ms) / spec.step_ms * spec.step_ms;
            if (b != bucket) {
                flush();
                bucket = b;
                n = 0;
                acc = inc = 0;
                first = mn = mx = p->value;
            }
            if (counter && prev) inc += p->value >= *prev ? p->value - *prev : p->value;  // a drop is a reset
            prev = p->value;
            acc += p->value;
            mn = std::min(mn, p->value);
            mx = std::max(mx, p->value);
            last = p->value;
            ++n;
        }
        flush();
    }
    return rows;
}

Status SimHost::send_command(const CommandRequest& request) {
    const int64_t now = clock_.now_ms();
    command_index_[request.request_id] = commands_.size();
    commands_.push_back(SentCommand{now, request, std::nullopt, 0});
    CommandReply reply{request.request_id, GL_OK, ""};
    int64_t delay = 0;
    for (auto it = reply_rules_.rbegin(); it != reply_rules_.rend(); ++it) {
        if (it->count == 0 || !target_matches(it->target, request.target)) continue;
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
    if (delay > static_cast<int64_t>(request.timeout_ms)) {  // later than the sender waits
        reply.status = GL_ERR_TIMEOUT;
        reply.error = "timeout";
        delay = request.timeout_ms;
    }
    due_replies_.emplace(now + delay, std::move(reply));
    return Status::ok();
}

void SimHost::emit_event(const RuleEvent& event) { events_.push_back(event); }

Expected<std::map<std::string, std::string>> SimHost::load_state(std::string_view rule) {
    return state_of(std::string(rule));
}

Status SimHost::put_state(std::string_view rule, std::string_view key, const std::optional<std::string>& json) {
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

}  // namespace gridlet::script
