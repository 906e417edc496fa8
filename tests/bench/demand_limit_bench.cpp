// Demand limit benchmark (issue 15): the shipped rule
// (scripts/rules/demand_limit.lua) on the offline harness's machinery
// (script::Engine + SimHost on a manual clock), closed loop: 200 sheddable
// loads switched by the rule's commands (after 1 s), a building whose other
// loads follow a day curve with random spikes, the site power meter read
// every 2 s. Prints one JSON object:
//   step_us: p50/p99/max of one controller step (the rule's 2 s timer:
//            the demand bookkeeping and the shed/restore decision over 200 loads);
//   switching_step_us: the same for the steps that switched loads (commands,
//            events, state writes), and the most loads one step switched;
//   intervals: 15-minute intervals in the run; over_limit: those whose true
//            demand was above the limit; holdable_over: those of them where
//            shedding every load would have been enough (0 is the target);
//   max_demand_kw, limit_kw, switch_operations, day_s (wall time).
// Usage: demand_limit_bench [--quick] [--loads N] [--hours H] [--seed S]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "load_curve.h"
#include "loop_host.h"
#include "script/engine.h"
#include "script/sim_host.h"

using namespace gridlet;
using namespace gridlet::script;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int64_t kStart = 1773100800000;  // 2026-03-10T00:00:00Z, a Tuesday
constexpr double kLimit = 300;              // kW

struct Load {
    double kw = 0;
    bool on = true;
    int64_t switch_at = -1;  // ms: when a commanded change happens
    bool to = true;
};

class LoopHost final : public bench::LoopHostBase {
public:
    LoopHost(SimHost& sim, std::vector<Load>& loads) : LoopHostBase(sim), loads_(loads) {}
    std::vector<CommandReply> replies;
    size_t sent = 0;
    Status send_command(const CommandRequest& r) override {
        ++sent;
        // "relays/coilN": the load switches 1 s later.
        const size_t index = static_cast<size_t>(std::stoi(r.target.substr(r.target.find("coil") + 4)) - 1);
        Load& l = loads_.at(index);
        l.switch_at = sim_.clock().now_ms() + 1000;
        l.to = r.value >= 0.5;
        replies.push_back({r.request_id, GL_OK, ""});
        return Status::ok();
    }
    Status publish_sample(const PublishedSample&) override { return Status::ok(); }

private:
    std::vector<Load>& loads_;
};

using bench::stats;
using bench::Stats;

}  // namespace

int main(int argc, char** argv) {
    int n = 200;
    double hours = 24;
    uint32_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) hours = 2;
        else if (std::strcmp(argv[i], "--loads") == 0 && i + 1 < argc) n = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--hours") == 0 && i + 1 < argc) hours = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = static_cast<uint32_t>(std::atoi(argv[++i]));
    }
    sim::Noise rng(seed);
    auto uniform = [&](double lo, double hi) { return lo + (rng.next() + 1) / 2 * (hi - lo); };

    // 200 loads of 0.2 to 1 kW (about 120 kW in all), priorities 1..5, some
    // with minimum on/off times and a maximum off time.
    std::vector<Load> loads(static_cast<size_t>(n));
    nlohmann::json params_loads = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
        Load& l = loads[static_cast<size_t>(i)];
        l.kw = uniform(0.2, 1.0);
        nlohmann::json p = {{"name", "load" + std::to_string(i + 1)},
                            {"priority", 1 + i % 5},
                            {"target", "relays/coil" + std::to_string(i + 1)},
                            {"kw", std::round(l.kw * 100) / 100}};
        if (i % 3 == 0) p["min_off"] = "2m";
        if (i % 4 == 0) p["min_on"] = "2m";
        if (i % 10 == 0) p["max_off"] = "30m";
        params_loads.push_back(p);
    }

    SimHost sim(kStart, TimeZone::utc());
    LoopHost host(sim, loads);
    EngineOptions eo;
    eo.lib_dirs = {std::string(GRIDLET_SOURCE_DIR) + "/scripts/lib"};
    Engine engine(host, eo);
    RuleConfig rc;
    rc.name = "demand_limit";
    rc.file = std::string(GRIDLET_SOURCE_DIR) + "/scripts/rules/demand_limit.lua";
    rc.params = {{"power", "main/kw"}, {"interval", "15m"}, {"limit_kw", kLimit}, {"loads", params_loads}};
    if (auto f = engine.configure({rc}); !f.empty()) {
        std::cerr << f.front().status.message() << "\n";
        return 1;
    }
    const uint32_t meter = sim.intern("main/kw");

    std::vector<double> step_us, switching_step_us;  // every step; those that switched loads
    size_t most_switched = 0;
    std::vector<double> interval_energy, interval_others;  // kW x s per interval
    double spike = 0, spike_until = 0, next_spike = uniform(600, 3600);
    const int64_t seconds = static_cast<int64_t>(hours * 3600);
    const auto wall0 = SteadyClock::now();
    for (int64_t t = 1; t <= seconds; ++t) {
        sim.manual_clock().advance(1000);
        const int64_t now = sim.clock().now_ms();
        for (Load& l : loads)
            if (l.switch_at >= 0 && l.switch_at <= now) {
                l.on = l.to;
                l.switch_at = -1;
            }
        if (static_cast<double>(t) >= next_spike) {
            spike = uniform(30, 90);
            spike_until = static_cast<double>(t) + uniform(120, 900);
            next_spike = static_cast<double>(t) + uniform(1800, 7200);
        }
        if (static_cast<double>(t) >= spike_until) spike = 0;
        // Other loads: 80 kW at night, up to 230 kW in the afternoon.
        const double hour = static_cast<double>(t) / 3600.0;
        const double others = 80 + 150 * (0.5 + 0.5 * std::sin((hour - 9) / 24 * 2 * M_PI)) + spike;
        double power = others;
        for (const Load& l : loads) power += l.on ? l.kw : 0;
        const size_t k = static_cast<size_t>((t - 1) / 900);
        if (interval_energy.size() <= k) {
            interval_energy.push_back(0);
            interval_others.push_back(0);
        }
        interval_energy[k] += power;
        interval_others[k] += others;
        if (t % 2 == 0) {
            gl_sample s{now, std::round(power * 1000) / 1000, meter, GL_QUALITY_GOOD, {0, 0, 0}};
            sim.record(s);
            engine.on_samples({&s, 1});
        }
        for (const CommandReply& r : host.replies) engine.on_command_reply(r);
        host.replies.clear();
        if (engine.next_timer_in_ms() == 0) {
            const size_t sent = host.sent;
            const auto a = SteadyClock::now();
            engine.run_due_timers();
            const double us = std::chrono::duration<double, std::micro>(SteadyClock::now() - a).count();
            step_us.push_back(us);
            if (host.sent > sent) {
                switching_step_us.push_back(us);
                most_switched = std::max(most_switched, host.sent - sent);
            }
        }
    }
    const double wall = std::chrono::duration<double>(SteadyClock::now() - wall0).count();

    int over = 0, holdable_over = 0;
    double max_demand = 0;
    for (size_t k = 0; k < interval_energy.size(); ++k) {
        const double demand = interval_energy[k] / 900, others = interval_others[k] / 900;
        max_demand = std::max(max_demand, demand);
        if (demand > kLimit + 1e-6) {
            ++over;
            if (others <= kLimit) ++holdable_over;
            std::cerr << "interval " << k << " (+" << k * 900 << " s): " << demand << " kW, other loads " << others << " kW\n";
        }
    }
    const Stats s = stats(step_us), sw = stats(switching_step_us);
    nlohmann::json out = {{"bench", "demand_limit"},
                          {"loads", n},
                          {"hours", hours},
                          {"wall_s", std::round(wall * 100) / 100},
                          {"step_us", {{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"steps", step_us.size()}}},
                          {"switching_step_us", {{"p50", sw.p50}, {"p99", sw.p99}, {"max", sw.max},
                                                 {"steps", switching_step_us.size()}, {"most_loads", most_switched}}},
                          {"intervals", interval_energy.size()},
                          {"over_limit", over},
                          {"holdable_over", holdable_over},
                          {"max_demand_kw", std::round(max_demand * 100) / 100},
                          {"limit_kw", kLimit},
                          {"switch_operations", host.sent}};
    std::cout << out.dump() << "\n";
    return holdable_over == 0 ? 0 : 1;
}
