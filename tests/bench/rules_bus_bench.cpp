// Rule latency through the real kernel: a driver plugin publishes 10,000
// samples/s on the bus, the rules component runs a Lua rule that answers one
// sample in 100 with a command, and the driver receives that command.
// Prints JSON: p50/p99/max latency from publish to the command at the driver
// (the rule's reaction time as a driver sees it), samples delivered, and the
// commands' reply count.
//
// Usage: rules_bus_bench [--quick]      (quick: 2 s instead of 10 s)
#include <gridlet/plugin.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel/kernel.h"
#include "plugin/plugin_instance.h"
#include "script/rules_config.h"

using namespace gridlet;
using Steady = std::chrono::steady_clock;

namespace {

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Steady::now().time_since_epoch()).count();
}

std::atomic<bool> g_run{false};
std::atomic<uint64_t> g_published{0};
std::mutex g_mu;
std::vector<int64_t> g_latency_us;

// Publishes 10 samples every ms (10,000/s). Every 100th sample is a trigger:
// its value is the publish time in µs (others are -1). Handles cmd/drv/.
class Driver : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"bench-driver", "1", GL_KIND_DRIVER, "publishes and takes commands"};
    explicit Driver(gridlet::Host h) : Plugin(h) {}
    void start() override {
        id_ = host().register_series({"meter/p", "W"});
        host().subscribe("cmd/drv/");
        host().add_timer(1, true);
    }
    void on_timer(uint64_t) override {
        if (!g_run) return;
        gl_sample s[10];
        for (int i = 0; i < 10; ++i) {
            uint64_t n = g_published++;
            s[i] = gl_sample{};
            s[i].series_id = id_;
            s[i].ts_ms = host().now_ms();
            s[i].quality = GL_QUALITY_GOOD;
            s[i].value = n % 100 == 0 ? static_cast<double>(now_us()) : -1.0;
        }
        host().publish(s, 10);
    }
    void on_command(const gl_command& c) override {
        int64_t lat = now_us() - static_cast<int64_t>(c.value);
        {
            std::lock_guard l(g_mu);
            g_latency_us.push_back(lat);
        }
        host().reply_command(c.request_id, GL_OK);
    }
    uint32_t id_ = 0;
};

template <class T>
kernel::PlannedPlugin planned(const std::string& name) {
    auto lib = plugin::PluginLibrary::from_entry("builtin:" + name, &gridlet::detail::Adapter<T>::entry,
                                                 plugin::host_api_table());
    return {name, *lib, nlohmann::json::object(), nlohmann::json::array(), {}};
}

int64_t pct(std::vector<int64_t> v, double p) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    spdlog::set_level(spdlog::level::warn);
    std::string rule = "/tmp/gridlet-rules-bench-" + std::to_string(getpid()) + ".lua";
    std::ofstream(rule) << "local replies = 0\n"
                           "gridlet.on('meter/p', function(v)\n"
                           "  if v >= 0 then gridlet.write('drv/setpoint', v, function(ok) if ok then replies = replies + 1 end end) end\n"
                           "end)\n"
                           "gridlet.every('1s', function() gridlet.state.replies = replies end)\n";

    kernel::SitePlan plan;
    plan.site.site_name = "rules-bench-" + std::to_string(getpid());
    plan.site.path = rule;
    plan.site.dir = "/tmp";
    plan.site.rule_engine = nlohmann::json::object();
    config::fill_defaults(plan.site.rule_engine, script::rules_engine_keys());
    plan.site.rule_engine["watch"] = false;
    RuleEntry r;
    r.name = "bench";
    r.config = {{"name", "bench"}, {"file", rule}};
    config::fill_defaults(r.config, script::rule_keys());
    plan.site.rules.push_back(r);
    plan.plugins = {planned<Driver>("drv")};

    kernel::Kernel k(std::move(plan));
    if (Status st = k.start(); !st) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    g_run = true;
    std::this_thread::sleep_for(std::chrono::seconds(quick ? 2 : 10));
    g_run = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto m = k.metrics_json();
    k.stop();
    std::remove(rule.c_str());

    std::vector<int64_t> lat;
    {
        std::lock_guard l(g_mu);
        lat = g_latency_us;
    }
    uint64_t published = g_published.load();
    std::printf(
        "{\n  \"benchmark\": \"rules_bus\",\n  \"samples_published\": %llu,\n  \"samples_per_s\": %.0f,\n"
        "  \"samples_into_rules\": %llu,\n  \"commands_at_driver\": %zu,\n"
        "  \"sample_to_command_us\": {\"p50\": %lld, \"p90\": %lld, \"p99\": %lld, \"max\": %lld},\n"
        "  \"targets\": {\"p99_us_max\": 1000}\n}\n",
        static_cast<unsigned long long>(published), static_cast<double>(published) / (quick ? 2.0 : 10.0),
        static_cast<unsigned long long>(m["plugins"]["rules"]["samples_in"].get<uint64_t>()), lat.size(),
        static_cast<long long>(pct(lat, 0.5)), static_cast<long long>(pct(lat, 0.9)), static_cast<long long>(pct(lat, 0.99)),
        static_cast<long long>(lat.empty() ? -1 : *std::max_element(lat.begin(), lat.end())));
    return lat.empty() ? 1 : 0;
}
