// Shared by the closed-loop rule benchmarks (greenup_bench, demand_limit_bench):
//   LoopHostBase: a RuleHost that forwards everything to a SimHost (clock,
//     series, queries, state, alarms), aborts on a rule error (a benchmark of
//     a failing rule measures nothing) and logs errors; a benchmark overrides
//     what its plant answers (send_command, emit_event, ...);
//   Stats / stats(): p50, p99 and max of a sample of timings.
// Threads: the benchmark's one thread.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "script/rule_host.h"
#include "script/sim_host.h"

namespace gridlet::bench {

class LoopHostBase : public script::RuleHost {
public:
    explicit LoopHostBase(script::SimHost& sim) : sim_(sim) {}
    const gridlet::Clock& clock() const override { return sim_.clock(); }
    const TimeZone& time_zone() const override { return sim_.time_zone(); }
    std::vector<script::SeriesRef> resolve(std::string_view p) override { return sim_.resolve(p); }
    std::optional<script::SeriesRef> find_series(std::string_view n) override { return sim_.find_series(n); }
    std::optional<script::SeriesRef> series_info(uint32_t id) override { return sim_.series_info(id); }
    std::optional<gl_sample> last_sample(uint32_t) override { return std::nullopt; }
    Expected<std::vector<script::QueryRow>> query(const script::QuerySpec& q) override { return sim_.query(q); }
    void emit_event(const script::RuleEvent& e) override {
        if (e.type == "rule_error" || e.type == "rule_stopped") {
            std::cerr << e.type << ": " << e.body_json << "\n";
            std::abort();
        }
    }
    Expected<std::map<std::string, std::string>> load_state(std::string_view r) override { return sim_.load_state(r); }
    Status put_state(std::string_view r, std::string_view k, const std::optional<std::string>& j) override {
        return sim_.put_state(r, k, j);
    }
    void log(script::LogLevel l, std::string_view, std::string_view m) override {
        if (l == script::LogLevel::error) std::cerr << m << "\n";
    }
    alarm::AlarmTable* alarms() override { return sim_.alarms(); }

protected:
    script::SimHost& sim_;
};

struct Stats {
    double p50 = 0, p99 = 0, max = 0;
};
inline Stats stats(std::vector<double> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.p50 = v[v.size() / 2];
    s.p99 = v[std::min(v.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(v.size())))];
    s.max = v.back();
    return s;
}

}  // namespace gridlet::bench
