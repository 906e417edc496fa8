// Alarm benchmark (issue 14): the [[alarms]] evaluator and the alarm table
// with its records in a real store. Prints one JSON object:
//   load: 10,000 instances (240 panels x 42 branches, one pattern rule
//         against each branch's breaker size, hysteresis and an on-delay),
//         fed samples in batches of 100 as the bus delivers them; the CPU
//         time of the evaluating thread per second of 100,000 samples/s
//         ("core_fraction": 0.25 = 25 % of one core), while branches cross
//         their thresholds (a raise and an end every few hundred samples);
//   latency: a sample that crosses a threshold (no delay) to the alarm
//         raised, stored in the store's WAL (sync policy "batch": fsync) and
//         handed to the notifiers (take_transitions), p50/p99/max over the
//         raises.
// Usage: alarm_bench [--quick]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "alarm/evaluator.h"
#include "kernel/alarm_store.h"
#include "store/store.h"

using namespace gridlet;

namespace {

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::vector<alarm::AlarmRule> rules(const std::string& text) {
    config::Diagnostics d;
    auto r = alarm::parse_alarm_rules(toml::parse(text), "bench.toml", d);
    if (!d.empty()) {
        std::fprintf(stderr, "%s\n", d[0].to_string().c_str());
        std::exit(1);
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("alarm_bench_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    store::StoreOptions so;
    so.path = dir;
    so.sync = store::SyncPolicy::batch;  // every record fsynced: the worst case for latency
    SeriesRegistry registry;
    auto st = store::Store::open(so, registry);
    if (!st) {
        std::fprintf(stderr, "store: %s\n", st.status().message().c_str());
        return 1;
    }
    store::Store& s = **st;

    const int panels = 240, branches = 42;
    std::vector<uint32_t> current, breaker;
    for (int p = 0; p < panels; ++p)
        for (int b = 1; b <= branches; ++b) {
            char name[64];
            std::snprintf(name, sizeof name, "panel%03d/branch%02d/current", p, b);
            SeriesMeta m;
            m.name = name;
            m.unit = "A";
            current.push_back(*registry.intern(m));
            std::snprintf(name, sizeof name, "panel%03d/branch%02d/breaker_size", p, b);
            m.name = name;
            breaker.push_back(*registry.intern(m));
        }

    kernel::StoreAlarmPersistence persistence(s.state());
    alarm::TableOptions to;
    to.flood_per_minute = 0;  // the load crosses thresholds on purpose
    alarm::AlarmTable table(persistence, to);
    if (!table.load(0)) return 1;
    alarm::AlarmEvaluator eval(rules(R"([[alarms]]
name = "branch_overload"
series = "panel*/branch*/current"
condition = "high"
threshold = 0.8
threshold_of = "breaker_size"
return_level = 0.75
on_delay_s = 2
)"),
                               table, registry);
    int64_t t = 1'800'000'000'000;
    eval.start(t);
    std::vector<gl_sample> batch(100);
    for (size_t i = 0; i < breaker.size(); ++i) {
        gl_sample b{};
        b.series_id = breaker[i];
        b.ts_ms = t;
        b.value = 20;
        b.quality = GL_QUALITY_GOOD;
        eval.on_samples(&b, 1);
    }

    // Load: 100,000 samples per simulated second, each branch every 100 ms;
    // 1 branch in 400 swings slowly around its threshold (16 A, a 10 s
    // period): it crosses it up and down, each way for longer than the
    // on-delay.
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> normal(4, 14);
    const int seconds = quick ? 2 : 20;
    const size_t per_second = 100'000;
    size_t k = 0, transitions = 0;
    std::vector<double> cpu_per_second;
    for (int sec = 0; sec < seconds; ++sec) {
        const double c0 = thread_cpu_s();
        for (size_t n = 0; n < per_second; n += batch.size()) {
            for (gl_sample& x : batch) {
                const size_t i = k++ % current.size();
                x.series_id = current[i];
                x.ts_ms = t + static_cast<int64_t>((k / current.size()) * 100);
                const double sim_s = static_cast<double>(x.ts_ms - t) / 1000;
                x.value = i % 400 == 0 ? 16 + 2.0 * std::sin(2 * M_PI * sim_s / 10 + static_cast<double>(i)) : normal(rng);
                x.quality = GL_QUALITY_GOOD;
            }
            eval.on_samples(batch.data(), batch.size());
            transitions += table.take_transitions().size();
        }
        eval.tick(t + (sec + 1) * 1000);
        table.tick(t + (sec + 1) * 1000);
        cpu_per_second.push_back(thread_cpu_s() - c0);
    }

    // Latency: one branch jumps over its threshold (a rule without delay).
    SeriesRegistry reg2;
    std::vector<uint32_t> lat;
    for (int i = 0; i < 1000; ++i) {
        SeriesMeta m;
        m.name = "lat" + std::to_string(i) + "/x";
        lat.push_back(*reg2.intern(m));
    }
    alarm::AlarmTable table2(persistence, to);
    (void)table2.load(0);
    alarm::AlarmEvaluator eval2(rules("[[alarms]]\nname = \"hi\"\nseries = \"lat*/x\"\ncondition = \"high\"\nthreshold = 10\n"),
                                table2, reg2);
    eval2.start(t);
    std::vector<double> latency_ms;
    const int raises = quick ? 100 : 1000;
    for (int i = 0; i < raises; ++i) {
        gl_sample x{};
        x.series_id = lat[static_cast<size_t>(i) % lat.size()];
        x.ts_ms = t + i;
        x.value = i / static_cast<int>(lat.size()) % 2 == 0 ? 11 : 5;
        x.quality = GL_QUALITY_GOOD;
        const auto a = std::chrono::steady_clock::now();
        eval2.on_samples(&x, 1);
        auto changes = table2.take_transitions();
        const auto b = std::chrono::steady_clock::now();
        if (!changes.empty()) latency_ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }

    const auto c = eval.counters();
    nlohmann::json out = {
        {"instances", c.instances},
        {"waiting_for_reference", c.waiting_for_reference},
        {"samples_per_second", per_second},
        {"seconds", seconds},
        {"transitions", transitions},
        {"core_fraction", {{"median", pct(cpu_per_second, 0.5)}, {"max", pct(cpu_per_second, 1.0)}}},
        {"sample_to_stored_alarm_ms",
         {{"raises", latency_ms.size()},
          {"p50", pct(latency_ms, 0.5)},
          {"p99", pct(latency_ms, 0.99)},
          {"max", pct(latency_ms, 1.0)},
          {"sync", "batch (fsync per record)"}}},
        {"targets", {{"core_fraction", 0.25}, {"p99_ms", 10}}}};
    std::cout << out.dump(2) << std::endl;
    st->reset();
    std::filesystem::remove_all(dir);
    return 0;
}
