// Rule engine benchmark (issue 5). Prints one JSON object:
//   samples_per_s_batched / samples_per_s_per_sample: samples delivered into
//     a trivial threshold rule's Lua callback (batches of 1024 samples);
//   sample_to_command_us: p50/p99 from Engine::on_samples() to the rule's
//     command reaching RuleHost::send_command (in-process; the bus hop is
//     measured by the lead's bus bench once wired);
//   command_reply_us: from Engine::on_command_reply() to the Lua reply callback;
//   rules_1000: RSS added and load time for 1,000 rules.
// Usage: script_bench [--quick]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "script/engine.h"
#include "script/sim_host.h"

using namespace gridlet;
using namespace gridlet::script;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int64_t kStart = 1717200000000;  // 2024-06-01T00:00:00Z

// Forwards to a SimHost; timestamps every command sent.
class TimingHost final : public RuleHost {
public:
    explicit TimingHost(SimHost& sim) : sim_(sim) {}
    SteadyClock::time_point last_send{};
    std::vector<CommandRequest> sent;
    const gridlet::Clock& clock() const override { return sim_.clock(); }
    const TimeZone& time_zone() const override { return sim_.time_zone(); }
    std::vector<SeriesRef> resolve(std::string_view p) override { return sim_.resolve(p); }
    std::optional<SeriesRef> find_series(std::string_view n) override { return sim_.find_series(n); }
    std::optional<SeriesRef> series_info(uint32_t id) override { return sim_.series_info(id); }
    std::optional<gl_sample> last_sample(uint32_t id) override { return sim_.last_sample(id); }
    Expected<std::vector<QueryRow>> query(const QuerySpec& q) override { return sim_.query(q); }
    Status send_command(const CommandRequest& r) override {
        last_send = SteadyClock::now();
        sent.push_back(r);
        return Status::ok();
    }
    void emit_event(const RuleEvent& e) override { sim_.emit_event(e); }
    Expected<std::map<std::string, std::string>> load_state(std::string_view r) override { return sim_.load_state(r); }
    Status put_state(std::string_view r, std::string_view k, const std::optional<std::string>& j) override {
        return sim_.put_state(r, k, j);
    }
    void log(LogLevel l, std::string_view r, std::string_view m) override { sim_.log(l, r, m); }

private:
    SimHost& sim_;
};

std::filesystem::path temp_dir() {
    auto d = std::filesystem::temp_directory_path() / ("gridlet_script_bench_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
}

RuleConfig write_rule(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
    std::ofstream(dir / (name + ".lua")) << text;
    RuleConfig c;
    c.name = name;
    c.file = (dir / (name + ".lua")).string();
    // The benchmark floods the rule on a clock that does not move: its share
    // of the engine is 100 % by design.
    c.budgets.cpu_share_pct = 100;
    return c;
}

double rss_mb() {
    std::ifstream statm("/proc/self/statm");
    long pages_total = 0, pages_resident = 0;
    statm >> pages_total >> pages_resident;
    return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double throughput(const std::filesystem::path& dir, bool batch, size_t total) {
    SimHost sim(kStart, TimeZone::utc());
    Engine engine(sim);
    const std::string source = batch ? R"(
        local over = 0
        gridlet.on("meter/", function(b)
          local v = b.value
          for i = 1, b.n do if v[i] > 100 then over = over + 1 end end
        end, {batch = true})
        gridlet.on("x/report", function() gridlet.state.over = over end)
    )"
                                     : R"(
        local over = 0
        gridlet.on("meter/", function(v) if v > 100 then over = over + 1 end end)
        gridlet.on("x/report", function() gridlet.state.over = over end)
    )";
    if (!engine.configure({write_rule(dir, batch ? "thr_batch" : "thr_each", source)}).empty()) std::abort();
    std::vector<gl_sample> batch_buf(1024);
    const uint32_t ids[4] = {sim.intern("meter/a"), sim.intern("meter/b"), sim.intern("meter/c"), sim.intern("meter/d")};
    for (size_t i = 0; i < batch_buf.size(); ++i) {
        batch_buf[i] = gl_sample{kStart + static_cast<int64_t>(i), static_cast<double>(i % 200), ids[i % 4], GL_QUALITY_GOOD, {0, 0, 0}};
    }
    const auto t0 = SteadyClock::now();
    size_t done = 0;
    while (done < total) {
        engine.on_samples(batch_buf);
        done += batch_buf.size();
    }
    const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    gl_sample report{kStart, 1, sim.intern("x/report"), GL_QUALITY_GOOD, {0, 0, 0}};
    engine.on_samples({&report, 1});
    const auto& st = sim.state_of(batch ? "thr_batch" : "thr_each");
    // Per batch: values i % 200 for i < 1024, 5 * 99 of them > 100.
    if (st.count("over") == 0 || std::stod(st.at("over")) != static_cast<double>(done / 1024 * 495)) {
        std::cerr << "threshold rule counted wrong: " << (st.count("over") ? st.at("over") : "none") << "\n";
        std::abort();
    }
    return static_cast<double>(done) / secs;
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const auto dir = temp_dir();
    nlohmann::json out;
    out["bench"] = "script";
    out["quick"] = quick;

    const size_t total = quick ? 2'000'000 : 50'000'000;
    out["samples_per_s_batched"] = std::round(throughput(dir, true, total));
    out["samples_per_s_per_sample"] = std::round(throughput(dir, false, total / 2));

    {
        SimHost sim(kStart, TimeZone::utc());
        TimingHost host(sim);
        Engine engine(host);
        auto c = write_rule(dir, "latency", R"(
            gridlet.on("main/current", function(v)
              if v > 80 then gridlet.write("ev1/setpoint", 6, function(ok) gridlet.state.replied = ok end) end
            end)
        )");
        if (!engine.configure({c}).empty()) std::abort();
        const uint32_t id = sim.intern("main/current");
        std::vector<double> to_command, to_reply;
        const int n = quick ? 2000 : 100'000;
        for (int i = 0; i < n; ++i) {
            gl_sample s{kStart + i, 90, id, GL_QUALITY_GOOD, {0, 0, 0}};
            const auto t0 = SteadyClock::now();
            engine.on_samples({&s, 1});
            to_command.push_back(std::chrono::duration<double, std::micro>(host.last_send - t0).count());
            const auto t1 = SteadyClock::now();
            engine.on_command_reply({host.sent.back().request_id, GL_OK, ""});
            to_reply.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - t1).count());
            host.sent.clear();
        }
        out["sample_to_command_us"] = {{"p50", percentile(to_command, 0.5)}, {"p99", percentile(to_command, 0.99)},
                                       {"max", percentile(to_command, 1.0)}, {"n", n}};
        out["command_reply_us"] = {{"p50", percentile(to_reply, 0.5)}, {"p99", percentile(to_reply, 0.99)}};
    }

    {
        SimHost sim(kStart, TimeZone::utc());
        const int rules = 1000;
        std::vector<RuleConfig> configs;
        for (int i = 0; i < rules; ++i) {
            auto c = write_rule(dir, "r" + std::to_string(i), R"(
                -- a typical small rule: a subscription, a timer, state, params
                local limit = params.limit
                local active = gridlet.state.active or false
                gridlet.on(params.meter, function(v)
                  if not active and v > limit then
                    active = true; gridlet.state.active = true
                    gridlet.emit("overload", "warning", {current = v, limit = limit})
                    gridlet.write(params.charger, 6)
                  elseif active and v < limit * 0.9 then
                    active = false; gridlet.state.active = false
                  end
                end)
                gridlet.every("1m", function() gridlet.state.alive = gridlet.now() end)
            )");
            c.params = {{"limit", 80 + i % 7}, {"meter", "meter" + std::to_string(i) + "/current"},
                        {"charger", "ev" + std::to_string(i) + "/setpoint"}};
            configs.push_back(std::move(c));
        }
        const double rss0 = rss_mb();
        const auto t0 = SteadyClock::now();
        Engine engine(sim);
        auto failed = engine.configure(configs);
        const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
        const double rss1 = rss_mb();
        out["rules_1000"] = {{"failed", failed.size()},
                             {"load_s", secs},
                             {"rss_added_mb", rss1 - rss0},
                             {"lua_heap_mb", static_cast<double>(engine.memory_bytes()) / (1024.0 * 1024.0)}};
    }
    std::filesystem::remove_all(dir);
    std::cout << out.dump(2) << "\n";
    return 0;
}
