#include "alarm/evaluator.h"

#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "core/pattern.h"

namespace gridlet::alarm {

namespace {
std::string parent_of(const std::string& name) {
    const size_t p = name.rfind('/');
    return p == std::string::npos ? std::string() : name.substr(0, p);
}
std::string device_of(const std::string& name) { return name.substr(0, name.find('/')); }
}  // namespace

std::string AlarmEvaluator::instance_key(const std::string& rule, const std::string& series) {
    return "site/" + rule + "|" + series;
}

std::string AlarmEvaluator::device_key(const std::string& series) { return "device|" + series; }

AlarmEvaluator::AlarmEvaluator(std::vector<AlarmRule> rules, AlarmTable& table, const SeriesRegistry& registry)
    : rules_(std::move(rules)), table_(table), registry_(registry) {}

AlarmEvaluator::Slot& AlarmEvaluator::slot(uint32_t id) {
    if (id >= slots_.size()) slots_.resize(std::max<size_t>(id + 1, slots_.size() * 2));
    return slots_[id];
}

void AlarmEvaluator::add_instance(uint32_t rule_index, const SeriesMeta& meta) {
    const AlarmRule& rule = rules_[rule_index];
    Instance in;
    in.rule = rule_index;
    in.series = meta.id;
    in.series_name = meta.name;
    in.unit = meta.unit;
    in.key = rule.origin == "device" ? device_key(meta.name) : instance_key(rule.name, meta.name);
    in.last_good_ms = started_ms_;
    if (rule.condition == Condition::equals) {
        if (!rule.state_label.empty()) {
            for (const auto& [v, label] : meta.states)
                if (label == rule.state_label) in.target = static_cast<double>(v);
        } else {
            in.target = rule.threshold;
        }
    }
    const uint32_t index = static_cast<uint32_t>(instances_.size());
    if (!rule.threshold_of.empty()) {
        auto tag = meta.tags.find(rule.threshold_of);
        char* end = nullptr;
        if (tag != meta.tags.end()) {
            const double v = std::strtod(tag->second.c_str(), &end);
            if (end && *end == '\0' && std::isfinite(v) && v > 0) in.ref = v;
        }
        if (!std::isfinite(in.ref)) {
            const std::string ref_name = parent_of(meta.name) + "/" + rule.threshold_of;
            if (auto ref = registry_.find(ref_name); ref && slot(*ref).checked) {
                in.ref_series = *ref;
                slot(*ref).references.push_back(index);
            } else {
                waiting_ref_.emplace(ref_name, index);
            }
        }
    }
    // An alarm of this key already active (a restart, or raised while the
    // series was never heard): judged again on fresh data.
    if (auto active = table_.active(in.key)) {
        in.on = true;
        // It was waiting for its off-delay at the stop: it still is, from then.
        auto since = active->detail.find("off_delay_since_ms");
        if (since != active->detail.end() && since->is_number_integer() && rule.off_delay_ms > 0) {
            in.pending = true;
            in.pending_since = since->get<int64_t>();
            in.pending_value = std::numeric_limits<double>::quiet_NaN();
        }
    }
    instances_.push_back(std::move(in));
    slot(meta.id).instances.push_back(index);
    if (rule.on_delay_ms > 0 || rule.off_delay_ms > 0 || rule.condition == Condition::stale) timed_.push_back(index);
}

void AlarmEvaluator::check_series(uint32_t id, Slot& s) {
    s.checked = true;
    auto meta = registry_.get(id);
    if (!meta) return;
    for (uint32_t r = 0; r < rules_.size(); ++r)
        if (rules_[r].origin == "site" && pattern_match(rules_[r].series, meta->name)) add_instance(r, *meta);
    if (auto tag = meta->tags.find("alarm"); tag != meta->tags.end()) {
        // A device alarm point: its own rule (active while non-zero).
        AlarmRule r;
        r.origin = "device";
        r.name = meta->name.substr(meta->name.find('/') + 1);
        r.series = meta->name;
        r.condition = Condition::high;
        r.threshold = r.return_level = 0.5;
        auto crit = parse_criticality(tag->second);
        r.criticality = crit ? *crit : Criticality::non_critical;
        r.category = "device";
        r.message = "{device} reports {point}" + (meta->description.empty() ? "" : " (" + meta->description + ")");
        rules_.push_back(std::move(r));
        add_instance(static_cast<uint32_t>(rules_.size() - 1), *meta);
    }
    for (auto it = never_heard_.begin(); it != never_heard_.end();)
        it = it->series == meta->name ? never_heard_.erase(it) : it + 1;
    // Instances whose reference point this series is.
    auto [b, e] = waiting_ref_.equal_range(meta->name);
    for (auto it = b; it != e; ++it) {
        instances_[it->second].ref_series = id;
        slot(id).references.push_back(it->second);
    }
    waiting_ref_.erase(b, e);
}

void AlarmEvaluator::start(int64_t now_ms) {
    started_ms_ = now_ms;
    for (uint32_t r = 0; r < rules_.size(); ++r) {
        const AlarmRule& rule = rules_[r];
        if (rule.condition == Condition::stale && !has_wildcard(rule.series) && !registry_.find(rule.series))
            never_heard_.push_back({r, rule.series, table_.active(instance_key(rule.name, rule.series)).has_value()});
    }
    for (const SeriesMeta& m : registry_.all()) {
        Slot& s = slot(m.id);
        if (!s.checked) check_series(m.id, slot(m.id));
    }
    std::unordered_map<std::string, uint32_t> by_key;
    for (uint32_t i = 0; i < instances_.size(); ++i) by_key.emplace(instances_[i].key, i);
    for (const NeverHeard& n : never_heard_) by_key.emplace(instance_key(rules_[n.rule].name, n.series), 0);
    for (const std::string& key : table_.active_keys()) {
        if (key.rfind("site/", 0) != 0 && key.rfind("device|", 0) != 0) continue;
        auto it = by_key.find(key);
        if (it == by_key.end())
            (void)table_.clear(key, now_ms, std::numeric_limits<double>::quiet_NaN(),
                               "its [[alarms]] rule is no longer in the site file, or no longer matches this series");
    }
}

bool AlarmEvaluator::levels(const Instance& in, double& t, double& r) const {
    const AlarmRule& rule = rules_[in.rule];
    if (rule.threshold_of.empty()) {
        t = rule.threshold;
        r = rule.return_level;
        return true;
    }
    if (!std::isfinite(in.ref)) return false;
    t = rule.threshold * in.ref;
    r = rule.return_level * in.ref;
    return true;
}

void AlarmEvaluator::on_samples(const gl_sample* samples, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const gl_sample& s = samples[i];
        ++counters_.samples;
        Slot& sl = slot(s.series_id);
        if (!sl.checked) check_series(s.series_id, sl);
        Slot& slt = slots_[s.series_id];  // check_series may have grown slots_
        if (s.quality == 0 || !std::isfinite(s.value)) continue;
        for (uint32_t r : slt.references) {
            Instance& in = instances_[r];
            const bool was_known = std::isfinite(in.ref);
            in.ref = s.value > 0 ? s.value : std::numeric_limits<double>::quiet_NaN();
            // The reference arrives after the value: the last value is judged now.
            if (!was_known && std::isfinite(in.ref) && in.last_ts != 0 && std::isfinite(in.last_value))
                evaluate(in, in.last_value, std::max(in.last_ts, s.ts_ms));
        }
        for (uint32_t k : slt.instances) evaluate(instances_[k], s.value, s.ts_ms);
    }
}

void AlarmEvaluator::evaluate(Instance& in, double v, int64_t ts) {
    ++counters_.evaluations;
    const AlarmRule& rule = rules_[in.rule];
    double value = v;
    bool want = false;
    if (rule.condition == Condition::stale) {
        in.last_good_ms = std::max(in.last_good_ms, ts);
        want = false;
    } else if (rule.condition == Condition::rate) {
        const double prev = in.last_value;
        const int64_t prev_ts = in.last_ts;
        in.last_value = v;
        in.last_ts = ts;
        if (prev_ts == 0 || ts <= prev_ts || !std::isfinite(prev)) return;
        value = (v - prev) / (static_cast<double>(ts - prev_ts) / 1000.0);
        const double t = rule.threshold, r = rule.return_level;
        want = t > 0 ? (in.on ? value > r : value > t) : (in.on ? value < r : value < t);
    } else if (rule.condition == Condition::equals) {
        if (!std::isfinite(in.target)) return;  // the state label is not one of this series' states
        want = std::fabs(v - in.target) < 1e-9;
    } else {
        double t = 0, r = 0;
        if (!levels(in, t, r)) {  // reference not known yet: judged when it comes
            in.last_value = v;
            in.last_ts = ts;
            return;
        }
        const bool up = rule.condition == Condition::high || rule.condition == Condition::high_high;
        want = up ? (in.on ? v > r : v > t) : (in.on ? v < r : v < t);
    }
    in.last_value = rule.condition == Condition::rate ? in.last_value : v;
    in.last_ts = ts;
    if (want == in.on) {
        if (in.pending && in.on && rule.off_delay_ms > 0) table_.mark_ending(in.key, 0);
        in.pending = false;
        if (in.on) table_.observe(in.key, value);
        return;
    }
    if (!in.pending) {
        in.pending = true;
        in.pending_since = ts;
        if (in.on && rule.off_delay_ms > 0) table_.mark_ending(in.key, ts);
    }
    in.pending_value = value;
    const int64_t delay = want ? rule.on_delay_ms : rule.off_delay_ms;
    if (ts - in.pending_since >= delay) apply(in, want, value, ts);
}

// What every raise of `rule` on `series` says (the rest is the caller's).
RaiseRequest AlarmEvaluator::request_of(const AlarmRule& rule, const std::string& series, const std::string& key) {
    RaiseRequest q;
    q.key = key;
    q.name = rule.name;
    q.source = device_of(series);
    q.series = series;
    q.category = rule.category;
    q.origin = rule.origin;
    q.condition = condition_name(rule.condition);
    q.type = AlarmType::alarm;
    q.criticality = rule.criticality;
    q.latching = rule.latching;
    return q;
}

void AlarmEvaluator::apply(Instance& in, bool on, double value, int64_t ts) {
    const AlarmRule& rule = rules_[in.rule];
    in.pending = false;
    in.on = on;
    if (!on) {
        auto cleared = table_.clear(in.key, ts, value);
        (void)cleared;
        return;
    }
    double t = rule.threshold, r = rule.return_level;
    if (rule.condition != Condition::stale && rule.condition != Condition::equals) (void)levels(in, t, r);
    if (rule.condition == Condition::equals) t = r = in.target;
    RaiseRequest q = request_of(rule, in.series_name, in.key);
    q.message = expand_message(rule, in.series_name, value, t, r, in.unit);
    q.value = value;
    q.ts_ms = ts;
    q.worse = rule.worse();
    q.detail = {{"threshold", t}, {"return_level", r}};
    if (rule.origin == "device") q.detail = {{"device_alarm", "active while the device reports it (non-zero)"}};
    if (rule.condition == Condition::stale) q.detail = {{"stale_s", t}, {"last_good_ms", in.last_good_ms}};
    if (!rule.threshold_of.empty())
        q.detail["reference"] = {{"of", rule.threshold_of}, {"value", in.ref}, {"fraction", rule.threshold}};
    if (rule.on_delay_ms > 0) q.detail["on_delay_s"] = static_cast<double>(rule.on_delay_ms) / 1000;
    if (!in.unit.empty()) q.detail["unit"] = in.unit;
    auto raised = table_.raise(q);
    if (!raised) ++counters_.raise_failures;
}

void AlarmEvaluator::tick(int64_t now_ms) {
    for (NeverHeard& n : never_heard_) {
        const AlarmRule& rule = rules_[n.rule];
        const int64_t at = started_ms_ + rule.stale_ms + rule.on_delay_ms;
        if (n.raised || now_ms < at) continue;
        n.raised = true;
        RaiseRequest q = request_of(rule, n.series, instance_key(rule.name, n.series));
        q.message = expand_message(rule, n.series, std::numeric_limits<double>::quiet_NaN(), rule.threshold,
                                   rule.return_level, "") +
                    " (never heard since the start)";
        q.ts_ms = at;
        q.detail = {{"stale_s", rule.threshold}, {"never_heard", true}};
        if (!table_.raise(q)) ++counters_.raise_failures;
    }
    for (uint32_t k : timed_) {
        Instance& in = instances_[k];
        const AlarmRule& rule = rules_[in.rule];
        if (in.pending) {
            const bool want = !in.on;
            const int64_t delay = want ? rule.on_delay_ms : rule.off_delay_ms;
            if (now_ms - in.pending_since >= delay) apply(in, want, in.pending_value, in.pending_since + delay);
        }
        if (rule.condition == Condition::stale && !in.on && now_ms - in.last_good_ms >= rule.stale_ms) {
            const int64_t at = in.last_good_ms + rule.stale_ms;
            if (rule.on_delay_ms == 0 || now_ms - at >= rule.on_delay_ms)
                apply(in, true, std::numeric_limits<double>::quiet_NaN(), at + rule.on_delay_ms);
        }
    }
}

std::optional<int64_t> AlarmEvaluator::next_due_ms() const {
    std::optional<int64_t> next;
    const auto take = [&](int64_t t) {
        if (!next || t < *next) next = t;
    };
    for (const NeverHeard& n : never_heard_)
        if (!n.raised) take(started_ms_ + rules_[n.rule].stale_ms + rules_[n.rule].on_delay_ms);
    for (uint32_t k : timed_) {
        const Instance& in = instances_[k];
        const AlarmRule& rule = rules_[in.rule];
        if (in.pending) take(in.pending_since + (in.on ? rule.off_delay_ms : rule.on_delay_ms));
        if (rule.condition == Condition::stale && !in.on) take(in.last_good_ms + rule.stale_ms + rule.on_delay_ms);
    }
    return next;
}

EvaluatorCounters AlarmEvaluator::counters() const {
    EvaluatorCounters c = counters_;
    c.instances = instances_.size();
    size_t waiting = 0;
    for (const Instance& in : instances_)
        if (!rules_[in.rule].threshold_of.empty() && !std::isfinite(in.ref)) ++waiting;
    c.waiting_for_reference = waiting;
    return c;
}

}  // namespace gridlet::alarm
