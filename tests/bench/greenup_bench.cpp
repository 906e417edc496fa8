// Green'Up benchmark (issue 6): the shipped rule (scripts/rules/greenup.lua)
// on the offline harness's machinery (script::Engine + SimHost on a manual
// clock), closed loop with the EV simulator's station model
// (plugins/sim/evse_model.h): commands the rule sends change the simulated
// stations, whose currents make the main meter. Prints one JSON object:
//   day: wall time for one simulated day at 1 s resolution (every station
//        reporting state, 3 currents, Ah, Wh each second; the meter each second);
//   sample_to_command_us: p50/p99/max from Engine::on_samples() with a new
//        meter sample to the last command the step sent (steps that sent some);
//   step_us: p50/p99/max of every meter-triggered step;
//   overshoot: the longest time the real installation current stayed above
//        Maximum current available, and the total, over the day;
//   sessions, commands, commands_digest (FNV-1a over every command's
//        simulated time, target and value: the same digest, the same decisions).
// Usage: greenup_bench [--quick] [--stations N] [--hours H] [--seed S] [--scripts DIR] [--log-commands]
//                      [--check-memos]
//   --check-memos: the rule's check_memos parameter: every search for starts
//   and raises that a memo skips is run anyway; one that would have acted
//   is a rule error, on which this program aborts (a test: the memos
//   decide as if absent).
//   --log-commands: every command on stderr ("<UTC ms> <target> <value>"),
//   to find where two versions of the rule first decide differently.
//   --scripts DIR: the checkout whose scripts/ (rule and library) run, to
//   compare two versions of the rule on one build (default: this source tree).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <numeric>

#include <nlohmann/json.hpp>

#include "evse_model.h"
#include "load_curve.h"
#include "loop_host.h"
#include "script/engine.h"
#include "script/sim_host.h"

using namespace gridlet;
using namespace gridlet::script;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int64_t kStart = 1717200000000;  // 2024-06-01T00:00:00Z
constexpr double kMax = 400, kMaxCharging = 370;

struct Site {
    std::vector<std::unique_ptr<sim::EvseStation>> stations;
    std::vector<std::string> names;
    double background[3] = {0, 0, 0};
    double meter[3] = {0, 0, 0};
    double spike = 0;  // a large load switched on (A per phase)

    void update(double hour) {
        // Other loads: 90 A at night, up to 230 A in the afternoon, phases
        // unbalanced, plus now and then a large load for a few minutes.
        const double curve = 0.5 + 0.5 * std::sin((hour - 9) / 24 * 2 * M_PI);
        for (int p = 0; p < 3; ++p) background[p] = (90 + 140 * curve) * (1.0 - 0.05 * p) + spike;
        for (int p = 0; p < 3; ++p) meter[p] = background[p];
        for (auto& s : stations) {
            const auto& o = s->options();
            if (o.phases == 3) {
                for (double& m : meter) m += s->current();
            } else {
                meter[o.phase - 1] += s->current();
            }
        }
    }
};

class LoopHost final : public bench::LoopHostBase {
public:
    LoopHost(SimHost& sim, Site& site) : LoopHostBase(sim), site_(site) {}
    SteadyClock::time_point last_send{};
    size_t sent = 0;
    uint64_t digest = 1469598103934665603ULL;
    bool log_commands = false;
    std::vector<CommandReply> replies;
    Status send_command(const CommandRequest& r) override {
        last_send = SteadyClock::now();
        ++sent;
        // The decisions' fingerprint: FNV-1a over (simulated time, target,
        // value) of every command, so that a change meant to make the rule
        // faster, not different, can be checked to decide the same.
        const std::string key = std::to_string(sim_.clock().now_ms()) + " " + r.target + " " + std::to_string(r.value) + "\n";
        for (const char ch : key) digest = (digest ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
        if (log_commands) std::cerr << key;
        // "evN/current_setpoint" or "evN/enable": a Modbus write to the station.
        const auto slash = r.target.find('/');
        const int index = std::stoi(r.target.substr(2, slash - 2)) - 1;
        const uint16_t reg = r.target.compare(slash + 1, std::string::npos, "enable") == 0 ? 5 : 4;
        const uint16_t raw = static_cast<uint16_t>(std::lround(reg == 4 ? r.value * 10 : r.value));
        const uint8_t ex = site_.stations.at(static_cast<size_t>(index))->write_registers(6, reg, 1, &raw);
        replies.push_back({r.request_id, ex == 0 ? GL_OK : GL_ERR, ex == 0 ? "" : "Modbus exception"});
        return Status::ok();
    }
    void emit_event(const RuleEvent& e) override {
        if (e.type == "ev_session") ++sessions;
        LoopHostBase::emit_event(e);
    }
    size_t sessions = 0;

private:
    Site& site_;
};

using bench::stats;
using bench::Stats;

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    int n = 50;
    double hours = 24;
    uint32_t seed = 1;
    bool log_commands = false, check_memos = false;
    std::string scripts = GRIDLET_SOURCE_DIR;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) quick = true;
        else if (std::strcmp(argv[i], "--stations") == 0 && i + 1 < argc) n = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--hours") == 0 && i + 1 < argc) hours = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = static_cast<uint32_t>(std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--scripts") == 0 && i + 1 < argc) scripts = argv[++i];
        else if (std::strcmp(argv[i], "--log-commands") == 0) log_commands = true;
        else if (std::strcmp(argv[i], "--check-memos") == 0) check_memos = true;
        else {
            std::cerr << "greenup_bench: unknown option " << argv[i]
                      << " (--quick, --stations N, --hours H, --seed S, --scripts DIR, --log-commands, --check-memos)\n";
            return 2;
        }
    }
    if (quick) hours = 2;

    Site site;
    nlohmann::json stations = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
        sim::EvseStationOptions o;
        o.unit = static_cast<uint8_t>(i + 1);
        o.response_s = 2.0;
        if (i % 5 == 4) {  // every fifth station is single-phase, on L1, L2, L3 in turn
            o.phases = 1;
            o.phase = 1 + (i / 5) % 3;
            o.rated_current = i % 2 ? 16 : 32;
        } else {
            o.rated_current = i % 4 == 1 ? 22 : 32;
        }
        site.stations.push_back(std::make_unique<sim::EvseStation>(o));
        site.names.push_back("ev" + std::to_string(i + 1));
        nlohmann::json s = {{"name", site.names.back()}, {"rated_current", o.rated_current}, {"phases", o.phases}};
        if (o.phases == 1) s["phase"] = std::string("L") + std::to_string(o.phase);
        if (i % 6 == 0) s["priority"] = "Priority";
        stations.push_back(s);
    }

    SimHost sim(kStart, TimeZone::utc());
    LoopHost host(sim, site);
    host.log_commands = log_commands;
    EngineOptions eo;
    eo.lib_dirs = {scripts + "/scripts/lib"};
    Engine engine(host, eo);
    RuleConfig rc;
    rc.name = "greenup";
    rc.file = scripts + "/scripts/rules/greenup.lua";
    rc.params = {{"total_power_consumption_meter", {"main/current/l1", "main/current/l2", "main/current/l3"}},
                 {"maximum_current_available", kMax},
                 {"maximum_current_available_for_the_charging", kMaxCharging},
                 {"status_every", 0},
                 {"stations", stations}};
    if (check_memos) rc.params["check_memos"] = true;
    if (auto f = engine.configure({rc}); !f.empty()) {
        std::cerr << f.front().status.message() << "\n";
        return 1;
    }

    // Series ids: per station state, l1..l3, ah, wh; the meter's three phases.
    std::vector<std::array<uint32_t, 6>> ids(static_cast<size_t>(n));
    const char* points[6] = {"state", "current/l1", "current/l2", "current/l3", "session/ah", "session/wh"};
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 6; ++k) ids[static_cast<size_t>(i)][static_cast<size_t>(k)] = sim.intern(site.names[static_cast<size_t>(i)] + "/" + points[k]);
    const uint32_t meter_ids[3] = {sim.intern("main/current/l1"), sim.intern("main/current/l2"), sim.intern("main/current/l3")};

    sim::Noise rng(seed);
    auto uniform = [&](double lo, double hi) { return lo + (rng.next() + 1) / 2 * (hi - lo); };
    std::vector<double> next_arrival(static_cast<size_t>(n));
    for (auto& t : next_arrival) t = uniform(0, 6 * 3600);  // the first vehicles arrive in the morning

    std::vector<gl_sample> batch;
    std::vector<double> to_command_us, step_us;
    double station_s = 0, timers_s = 0;
    double over_run = 0, over_longest = 0, over_total = 0;
    int over_episodes = 0;
    const int64_t seconds = static_cast<int64_t>(hours * 3600);
    const auto wall0 = SteadyClock::now();
    double spike_until = 0, next_spike = uniform(600, 3600);
    int spikes = 0;
    for (int64_t t = 1; t <= seconds; ++t) {
        sim.manual_clock().advance(1000);
        if (static_cast<double>(t) >= next_spike) {
            site.spike = uniform(40, 120);
            spike_until = static_cast<double>(t) + uniform(60, 900);
            next_spike = spike_until + uniform(600, 3600);
            ++spikes;
        } else if (site.spike > 0 && static_cast<double>(t) >= spike_until) {
            site.spike = 0;
        }
        const int64_t now = kStart + t * 1000;
        const double hour = std::fmod(static_cast<double>(t) / 3600.0, 24.0);
        for (int i = 0; i < n; ++i) {
            auto& st = *site.stations[static_cast<size_t>(i)];
            if (!st.has_vehicle() && static_cast<double>(t) >= next_arrival[static_cast<size_t>(i)]) {
                sim::Vehicle v;
                v.max_current = rng.next() > -0.4 ? 32 : 16;
                v.need_ah = uniform(8, 70);
                v.stay_s = uniform(1800, 9 * 3600);
                st.arrive(v);
                next_arrival[static_cast<size_t>(i)] = static_cast<double>(t) + v.stay_s + uniform(600, 4 * 3600);
            }
            st.advance(1.0);
        }
        site.update(hour);
        // The real installation current against the limit.
        const double worst = std::max({site.meter[0], site.meter[1], site.meter[2]});
        if (worst > kMax + 1e-9) {
            if (over_run == 0) ++over_episodes;
            over_run += 1;
            over_total += 1;
            over_longest = std::max(over_longest, over_run);
        } else {
            over_run = 0;
        }
        const auto tt0 = SteadyClock::now();
        engine.run_due_timers();
        timers_s += std::chrono::duration<double>(SteadyClock::now() - tt0).count();
        // Every station's poll, then the meter's.
        batch.clear();
        for (int i = 0; i < n; ++i) {
            auto& st = *site.stations[static_cast<size_t>(i)];
            const auto& id = ids[static_cast<size_t>(i)];
            const double c = st.current(), c3 = st.options().phases == 3 ? c : 0;
            const double values[6] = {static_cast<double>(st.state()), c, c3, c3, st.session_ah(), 0};
            for (int k = 0; k < 5; ++k) batch.push_back(gl_sample{now, values[k], id[static_cast<size_t>(k)], GL_QUALITY_GOOD, {0, 0, 0}});
        }
        const auto ts0 = SteadyClock::now();
        engine.on_samples(batch);
        station_s += std::chrono::duration<double>(SteadyClock::now() - ts0).count();
        batch.clear();
        for (int p = 0; p < 3; ++p) batch.push_back(gl_sample{now, site.meter[p], meter_ids[p], GL_QUALITY_GOOD, {0, 0, 0}});
        const size_t sent_before = host.sent;
        const auto t0 = SteadyClock::now();
        engine.on_samples(batch);
        const auto t1 = SteadyClock::now();
        step_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        if (host.sent > sent_before) to_command_us.push_back(std::chrono::duration<double, std::micro>(host.last_send - t0).count());
        for (const auto& r : host.replies) engine.on_command_reply(r);
        host.replies.clear();
    }
    const double wall = std::chrono::duration<double>(SteadyClock::now() - wall0).count();
    const auto infos = engine.rules();
    const Stats cmd = stats(to_command_us), step = stats(step_us);
    nlohmann::json out = {
        {"bench", "greenup"},
        {"quick", quick},
        {"stations", n},
        {"simulated_hours", hours},
        {"wall_s", std::round(wall * 1000) / 1000},
        {"wall_split_s", {{"station_samples", std::round(station_s * 1000) / 1000},
                          {"meter_steps", std::round(std::accumulate(step_us.begin(), step_us.end(), 0.0) / 1e3) / 1000},
                          {"timers", std::round(timers_s * 1000) / 1000}}},
        {"samples", static_cast<double>(seconds) * (n * 5 + 3)},
        {"sample_to_command_us", {{"p50", std::round(cmd.p50)}, {"p99", std::round(cmd.p99)}, {"max", std::round(cmd.max)}, {"steps", to_command_us.size()}}},
        {"step_us", {{"p50", std::round(step.p50)}, {"p99", std::round(step.p99)}, {"max", std::round(step.max)}}},
        {"overshoot", {{"longest_s", over_longest}, {"total_s", over_total}, {"episodes", over_episodes}, {"limit_a", kMax},
                       {"load_spikes", spikes}}},
        {"control", {{"meter_period_s", 1}, {"station_poll_s", 1}, {"station_response_s", 2}}},
        {"sessions_ended", host.sessions},
        {"commands", host.sent},
        {"commands_digest", [&] { char h[17]; std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(host.digest)); return std::string(h); }()},
        {"rule_status", infos.empty() ? "none" : rule_status_name(infos.front().status)},
        {"rule_memory_kb", infos.empty() ? 0 : infos.front().memory_bytes / 1024},
    };
    std::cout << out.dump(2) << "\n";
    return infos.empty() || infos.front().status != RuleStatus::running ? 1 : 0;
}
