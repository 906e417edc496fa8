// Rule isolation benchmark (JSON on stdout), issue 12's targets: with one
// rule misbehaving, a canary rule's 1 s timer is never more than 300 ms late,
// and the process's RSS stays under 64 MB above its idle figure.
//
//   rule_isolation_bench [--seconds S] [--quick]
//
// The engine runs as the rules plugin runs it (one thread: timers when due,
// sample batches every 50 ms), on the real clock, with the default budgets.
// For each misbehaviour of the issue, a fresh engine loads the canary and
// the attacker and runs for S seconds (default 8; --quick 3). Reported per
// case: the canary's worst lateness (ms), the attacker's status and stop
// reason, and the RSS growth above the figure before the run (MB).
//
// The store-read cases (`store_*`) answer gridlet.query and window from a
// real store holding 30 days of one 1 s series, x/big (2,592,000 samples;
// --quick: 3 days), through the kernel's own read path
// (kernel/rule_store_reads.h).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernel/rule_store_reads.h"
#include "script/engine.h"
#include "script/sim_host.h"
#include "store/store.h"

using namespace gridlet;
using namespace gridlet::script;
using Steady = std::chrono::steady_clock;

namespace {

double rss_mb() {
    std::ifstream statm("/proc/self/statm");
    long total = 0, resident = 0;
    statm >> total >> resident;
    return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// A SimHost on the real clock; the canary's log lines are timed.
class RealTimeHost final : public RuleHost {
public:
    explicit RealTimeHost(SimHost& sim) : sim_(sim) {}
    std::vector<Steady::time_point> ticks;
    double read_ms_max = 0;  // store reads: the longest, how many, the last error
    int reads = 0;
    std::string read_error;
    const gridlet::Clock& clock() const override { return SystemClock::instance(); }
    const TimeZone& time_zone() const override { return sim_.time_zone(); }
    std::vector<SeriesRef> resolve(std::string_view p) override { return sim_.resolve(p); }
    std::optional<SeriesRef> find_series(std::string_view n) override { return sim_.find_series(n); }
    std::optional<SeriesRef> series_info(uint32_t id) override { return sim_.series_info(id); }
    std::optional<gl_sample> last_sample(uint32_t id) override { return sim_.last_sample(id); }
    Expected<std::vector<QueryRow>> query(const QuerySpec& q) override {
        if (!store_) return sim_.query(q);
        QuerySpec in_store = q;  // x/big's id in the simulated host -> its id in the store
        for (uint32_t& id : in_store.series) id = id == big_sim_ ? big_store_ : UINT32_MAX;
        const auto t0 = Steady::now();
        auto rows = kernel::read_for_rules(*store_, sim_.time_zone(), in_store);
        read_ms_max = std::max(read_ms_max, std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
        ++reads;
        if (!rows) read_error = rows.status().message();
        if (rows)
            for (QueryRow& r : *rows) r.series_id = big_sim_;
        return rows;
    }
    void use_store(const store::Store* s, uint32_t big_sim, uint32_t big_store) {
        store_ = s;
        big_sim_ = big_sim;
        big_store_ = big_store;
    }
    Status send_command(const CommandRequest&) override { return Status::ok(); }
    void emit_event(const RuleEvent&) override {}
    Expected<std::map<std::string, std::string>> load_state(std::string_view r) override { return sim_.load_state(r); }
    Status put_state(std::string_view r, std::string_view k, const std::optional<std::string>& j) override {
        return sim_.put_state(r, k, j);
    }
    void log(LogLevel, std::string_view rule, std::string_view message) override {
        if (rule == "canary" && message.find("tick") != std::string_view::npos) ticks.push_back(Steady::now());
    }

private:
    SimHost& sim_;
    const store::Store* store_ = nullptr;
    uint32_t big_sim_ = 0, big_store_ = 0;
};

// 30 days (quick: 3) of x/big, one sample a second, ending now.
std::unique_ptr<store::Store> big_store(const std::filesystem::path& dir, int days, uint32_t& id) {
    store::StoreOptions o;
    o.path = dir / "store";
    o.sync = store::SyncPolicy::none;
    auto s = store::Store::open(o);
    if (!s) {
        std::fprintf(stderr, "open: %s\n", s.status().to_string().c_str());
        std::exit(1);
    }
    SeriesMeta m;
    m.name = "x/big";
    m.unit = "W";
    id = *(*s)->registry().intern(m);
    const int64_t now = SystemClock::instance().now_ms();
    const int64_t n = static_cast<int64_t>(days) * 86'400;
    std::vector<gl_sample> batch;
    for (int64_t i = n; i >= 1; --i) {
        batch.push_back({now - i * 1000, static_cast<double>(i % 97), id, GL_QUALITY_GOOD, {0, 0, 0}});
        if (batch.size() == 100'000 || i == 1) {
            if (Status st = (*s)->append(batch); !st) {
                std::fprintf(stderr, "append: %s\n", st.to_string().c_str());
                std::exit(1);
            }
            batch.clear();
        }
    }
    return std::move(*s);
}

struct Case {
    const char* name;
    const char* source;
    bool store = false;  // answered from the store of x/big
};

const Case kCases[] = {
    {"twenty_timers_of_150ms", R"(
        for i = 1, 20 do
          gridlet.every('1s', function() local t = os.clock() + 0.15 while os.clock() < t do end end)
        end)"},
    {"erroring_callback_of_12ms_per_sample", R"(
        gridlet.on('x/', function() local t = os.clock() + 0.012 while os.clock() < t do end error('again') end))"},
    {"subscriptions_of_1000_long_names_20_per_s", R"(
        local names = {}
        for i = 1, 1000 do names[i] = string.format('d%04d/', i) .. string.rep('p', 238) end
        gridlet.every('50ms', function() gridlet.on(names, function() end) end))"},
    {"views_of_1000_names_20_per_s", R"(
        local names = {}
        for i = 1, 1000 do names[i] = string.format('d%04d/', i) .. string.rep('p', 238) end
        gridlet.every('50ms', function() gridlet.latest(names) end))"},
    {"subscribe_and_cancel_1000_names_each_second", R"(
        local names = {}
        for i = 1, 1000 do names[i] = string.format('x/s%04d', i) .. string.rep('p', 230) end
        gridlet.every('1s', function() gridlet.cancel(gridlet.on(names, function() end)) end))"},
    {"timers_made_and_cancelled_100k_per_s", R"(
        gridlet.every('100ms', function()
          for i = 1, 10000 do gridlet.cancel(gridlet.every('1d', function() end)) end
        end))"},
    {"writes_events_state_and_log_floods", R"(
        gridlet.every('10ms', function()
          for i = 1, 200 do
            pcall(gridlet.write, 'nobody/setpoint', i)
            pcall(gridlet.emit, 'flood', 'info', {i = i})
            pcall(function() gridlet.state['k' .. (i % 50)] = string.rep('x', 1000) end)
            gridlet.log.info('flood %d', i)
          end
        end))"},
    {"pathological_pattern_each_second", R"(
        local s = string.rep('a', 30000)
        gridlet.every('1s', function() pcall(string.find, s, '.-.-.-.-b') end))"},
    {"memory_bomb", R"(
        local t = {}
        gridlet.every('10ms', function() for i = 1, 1e5 do t[#t + 1] = {i} end end))"},
    {"store_raw_query_of_30_days_each_second", R"(
        gridlet.every('1s', function() pcall(gridlet.query, {series = 'x/big', last = '30d'}) end))", true},
    {"store_1s_buckets_of_30_days_each_second", R"(
        gridlet.every('1s', function() pcall(gridlet.query, {series = 'x/big', last = '30d', step = '1s'}) end))", true},
    {"store_window_of_30_days_each_second", R"(
        gridlet.every('1s', function() pcall(gridlet.window, 'x/big', '30d') end))", true},
};

}  // namespace

int main(int argc, char** argv) {
    double seconds = 8;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) seconds = 3;
        else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
        else {
            std::fprintf(stderr, "usage: rule_isolation_bench [--seconds S] [--quick]\n");
            return 2;
        }
    }
    const auto dir = std::filesystem::temp_directory_path() / ("gridlet_iso_bench_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    nlohmann::json out;
    out["benchmark"] = "rule_isolation_bench";
    out["seconds_per_case"] = seconds;
    out["targets"] = {{"canary_late_ms_max", 300}, {"rss_growth_mb_max", 64}};
    double worst_late = 0, worst_rss = 0;
    uint32_t big_store_id = 0;
    const int days = seconds <= 3 ? 3 : 30;
    auto store = big_store(dir, days, big_store_id);
    out["store_days_of_1s_samples"] = days;
    for (const Case& c : kCases) {
        SimHost sim(SystemClock::instance().now_ms(), TimeZone::utc());
        std::vector<uint32_t> feed_ids;
        for (int i = 1; i <= 100; ++i) feed_ids.push_back(sim.intern("x/s" + std::to_string(i)));
        RealTimeHost host(sim);
        if (c.store) host.use_store(store.get(), sim.intern("x/big"), big_store_id);
        const double rss_before = rss_mb();
        double rss_max = rss_before;
        {
            Engine engine(host);
            std::ofstream(dir / "canary.lua") << "gridlet.every('1s', function() gridlet.log.info('tick') end)\n";
            std::ofstream(dir / "attacker.lua") << c.source << "\n";
            RuleConfig canary{"canary", (dir / "canary.lua").string(), nlohmann::json::object(), {}};
            RuleConfig attacker{"attacker", (dir / "attacker.lua").string(), nlohmann::json::object(), {}};
            auto failed = engine.configure({canary, attacker});
            if (!failed.empty()) {
                std::fprintf(stderr, "%s: %s\n", c.name, failed.front().status.message().c_str());
                return 1;
            }
            const auto start = Steady::now();
            auto next_feed = start;
            while (Steady::now() - start < std::chrono::duration<double>(seconds)) {
                if (Steady::now() >= next_feed) {  // a batch of samples every 50 ms, as a driver sends
                    std::vector<gl_sample> batch;
                    const int64_t now = SystemClock::instance().now_ms();
                    for (uint32_t id : feed_ids) batch.push_back({now, 1.0, id, GL_QUALITY_GOOD, {0, 0, 0}});
                    engine.on_samples(batch);
                    next_feed += std::chrono::milliseconds(50);
                }
                const int64_t in = engine.next_timer_in_ms();
                const auto until_feed = std::chrono::duration_cast<std::chrono::milliseconds>(next_feed - Steady::now()).count();
                const int64_t wait = std::max<int64_t>(0, in < 0 ? until_feed : std::min<int64_t>(in, until_feed));
                if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
                engine.run_due_timers();
                rss_max = std::max(rss_max, rss_mb());
            }
            double late = 0;
            for (size_t k = 1; k < host.ticks.size(); ++k) {
                const double due_ms = 1000.0 * static_cast<double>(k);
                const double at_ms =
                    std::chrono::duration<double, std::milli>(host.ticks[k] - host.ticks[0]).count();
                late = std::max(late, at_ms - due_ms);
            }
            // Missing ticks count as lateness too.
            const double expected_ticks = std::floor(seconds);
            if (host.ticks.size() + 1 < expected_ticks) late = std::max(late, 1000.0 * (expected_ticks - host.ticks.size()));
            RuleInfo a{};
            for (const auto& r : engine.rules())
                if (r.name == "attacker") a = r;
            out["cases"][c.name] = {{"canary_ticks", host.ticks.size()},
                                    {"canary_late_ms_max", late},
                                    {"attacker", rule_status_name(a.status)},
                                    {"attacker_stopped_because", a.error},
                                    {"rss_growth_mb", rss_max - rss_before}};
            if (c.store)
                out["cases"][c.name]["store_reads"] = {
                    {"count", host.reads}, {"longest_ms", host.read_ms_max}, {"last_error", host.read_error}};
            worst_late = std::max(worst_late, late);
            worst_rss = std::max(worst_rss, rss_max - rss_before);
        }
    }
    out["worst"] = {{"canary_late_ms_max", worst_late}, {"rss_growth_mb", worst_rss}};
    store.reset();
    std::filesystem::remove_all(dir);
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}
