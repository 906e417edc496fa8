// store_bench: figures of the time-series store, printed as JSON.
//   store_bench [--quick] [--dir /path]   (default dir: a folder in /tmp)
// Each figure is the median of several runs (3; 1 with --quick, which also
// uses smaller data so that CTest can run it).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "store/store.h"

using namespace gridlet;
using namespace gridlet::store;
using BenchClock = std::chrono::steady_clock;

namespace {
constexpr int64_t kT0 = 1704067200000;  // 2024-01-01T00:00:00Z
constexpr int64_t kMin = 60'000;
bool quick = false;
std::string only;  // run one figure: rss, ingest, size, daily
std::filesystem::path root;

double seconds_since(BenchClock::time_point t) { return std::chrono::duration<double>(BenchClock::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

long rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

std::unique_ptr<Store> open_fresh(const std::string& name, StoreOptions o = {}) {
    std::filesystem::remove_all(root / name);
    o.path = root / name;
    o.sync = SyncPolicy::none;
    // Raw kept as long as the rollups: rollup rows holding few samples are
    // then not stored (runtime/store/README.md, "Sparse rows").
    o.retention.raw_ms = 0;
    o.retention.min1_ms = 0;
    o.retention.events_ms = 0;
    auto s = Store::open(o);
    if (!s) {
        std::fprintf(stderr, "open: %s\n", s.status().to_string().c_str());
        std::exit(1);
    }
    return std::move(*s);
}

std::vector<uint32_t> make_series(Store& s, int n, const std::string& prefix, SeriesKind kind) {
    std::vector<uint32_t> ids;
    for (int i = 0; i < n; ++i) {
        SeriesMeta m;
        m.name = prefix + "/p" + std::to_string(i);
        m.kind = kind;
        m.unit = kind == SeriesKind::counter ? "kWh" : "W";
        m.tags = {{"site", "bench"}, {"floor", std::to_string(i % 8)}};
        ids.push_back(*s.registry().intern(m));
    }
    return ids;
}

uint64_t sst_bytes(Store& s, Cf cf) {
    uint64_t v = 0;
    s.db().db()->GetIntProperty(s.db().cf(cf), "rocksdb.total-sst-files-size", &v);
    return v;
}

// Slow gauges: a decimal random walk (0.1 resolution) moving now and then.
struct Gauge {
    int64_t n;
    double next(std::mt19937_64& rng) {
        uint64_t r = rng() % 10;
        if (r < 3) n += static_cast<int64_t>(rng() % 5) - 2;
        return static_cast<double>(n) / 10.0;
    }
};

// 1) Ingest: 1,000 series, WAL on, no fsync, roller running.
// Rolls up, compacts and reports bytes per sample on disk: raw chunks,
// rollups, and both.
nlohmann::json size_report(Store& s, uint64_t samples, const char* data) {
    (void)s.roll_up_now();
    (void)s.compact_all();
    uint64_t chunks = sst_bytes(s, Cf::chunks), rollups = sst_bytes(s, Cf::rollups);
    return {{"samples", samples},
            {"bytes_per_sample_raw_chunks", double(chunks) / samples},
            {"bytes_per_sample_rollups", double(rollups) / samples},
            {"bytes_per_sample_with_rollups", double(chunks + rollups) / samples},
            {"data", data}};
}

nlohmann::json bench_ingest() {
    std::vector<double> rates;
    const int runs = quick ? 1 : 3;
    const int per_series = 50;  // samples per series per batch: 50,000-sample batches
    for (int r = 0; r < runs; ++r) {
        StoreOptions o;
        o.rollup_interval_ms = 1000;
        auto s = open_fresh("ingest", o);
        auto ids = make_series(*s, 1000, "ingest", SeriesKind::gauge);
        std::mt19937_64 rng(r);
        std::vector<Gauge> g(ids.size(), Gauge{2300});
        std::vector<gl_sample> batch(ids.size() * per_series);
        const int batches = quick ? 20 : 200;
        int64_t t = kT0;
        uint64_t samples = 0;
        auto start = BenchClock::now();
        for (int b = 0; b < batches; ++b) {
            size_t i = 0;
            for (int k = 0; k < per_series; ++k) {
                for (size_t sidx = 0; sidx < ids.size(); ++sidx) {
                    gl_sample& x = batch[i++];
                    x.series_id = ids[sidx];
                    x.ts_ms = t + k * 1000;
                    x.value = g[sidx].next(rng);
                    x.quality = GL_QUALITY_GOOD;
                }
            }
            t += per_series * 1000;
            if (Status st = s->append(batch); !st) {
                std::fprintf(stderr, "append: %s\n", st.to_string().c_str());
                std::exit(1);
            }
            samples += batch.size();
        }
        rates.push_back(static_cast<double>(samples) / seconds_since(start));
    }
    return {{"samples_per_s", median(rates)},
            {"runs", rates},
            {"series", 1000},
            {"batch_samples", 1000 * per_series},
            {"sync", "none (WAL written, not fsynced per batch)"}};
}

// 2) Bytes per sample after compaction; 3) aggregate scan.
nlohmann::json bench_size_and_scan(nlohmann::json& scan_out) {
    nlohmann::json out;
    {
        auto s = open_fresh("gauges");
        const int series = quick ? 20 : 100;
        const int64_t seconds = quick ? 6 * 3600 : 86400;
        auto ids = make_series(*s, series, "gauge", SeriesKind::gauge);
        std::mt19937_64 rng(1);
        std::vector<Gauge> g(ids.size(), Gauge{2150});
        std::vector<gl_sample> batch;
        uint64_t samples = 0;
        for (int64_t sec = 0; sec < seconds; sec += 60) {
            batch.clear();
            for (int64_t k = sec; k < sec + 60; ++k)
                for (size_t i = 0; i < ids.size(); ++i) {
                    gl_sample x{};
                    x.series_id = ids[i];
                    x.ts_ms = kT0 + k * 1000 + static_cast<int64_t>(rng() % 3);  // a little jitter
                    x.value = g[i].next(rng);
                    x.quality = GL_QUALITY_GOOD;
                    batch.push_back(x);
                }
            (void)s->append(batch);
            samples += batch.size();
        }
        out["gauges_1s"] = size_report(*s, samples, "slow gauge, 0.1 resolution random walk, 1 s +-2 ms jitter");
        // Aggregate scan over raw chunks (no rollups), all series.
        std::vector<double> rates;
        for (int r = 0; r < (quick ? 1 : 5); ++r) {
            auto start = BenchClock::now();
            uint64_t seen = 0;
            for (uint32_t id : ids) {
                int64_t edges[2] = {kT0, kT0 + seconds * 1000 + 1000};
                QueryStats qs;
                auto rows = s->query().aggregate(id, edges, &qs, true);
                seen += qs.raw_samples;
            }
            rates.push_back(static_cast<double>(seen) / seconds_since(start));
        }
        scan_out = {{"samples_per_s", median(rates)}, {"runs", rates}, {"what", "raw avg/min/max/sum over every sample"}};
    }
    {
        auto s = open_fresh("counters");
        const int series = quick ? 20 : 200;
        const int64_t points = quick ? 5000 : 52560;  // 10-min readings for a year
        auto ids = make_series(*s, series, "energy", SeriesKind::counter);
        std::mt19937_64 rng(2);
        // Sub-meters: the load (kW) drifts (random walk, 0.5 kW steps), the
        // energy register counts in kWh with 2 decimals (10 Wh), read every 10 min.
        std::vector<double> kw(ids.size(), 30.0), kwh(ids.size(), 10000.0);
        std::normal_distribution<double> step(0.0, 0.5);
        std::vector<gl_sample> batch;
        uint64_t samples = 0;
        for (int64_t p = 0; p < points; p += 144) {
            batch.clear();
            for (int64_t k = p; k < std::min(points, p + 144); ++k)
                for (size_t i = 0; i < ids.size(); ++i) {
                    kw[i] = std::clamp(kw[i] + step(rng), 5.0, 80.0);
                    kwh[i] += kw[i] / 6.0;
                    gl_sample x{};
                    x.series_id = ids[i];
                    x.ts_ms = kT0 + k * 600'000;
                    x.value = std::round(kwh[i] * 100.0) / 100.0;
                    x.quality = GL_QUALITY_GOOD;
                    batch.push_back(x);
                }
            (void)s->append(batch);
            samples += batch.size();
        }
        out["counters_10min"] =
            size_report(*s, samples, "energy register in kWh with 2 decimals, load random walk 5-80 kW (0.5 kW steps)");
    }
    return out;
}

// 4) Daily consumption over one year of 1-minute data, Europe/Paris days.
nlohmann::json bench_daily_consumption() {
    auto s = open_fresh("year");
    auto ids = make_series(*s, 1, "meter", SeriesKind::counter);
    const int64_t minutes = quick ? 30 * 1440 : 365 * 1440;
    std::vector<gl_sample> batch;
    double kwh = 1000;
    std::mt19937_64 rng(3);
    for (int64_t m = 0; m <= minutes; m += 1440) {
        batch.clear();
        for (int64_t k = m; k < std::min(minutes + 1, m + 1440); ++k) {
            kwh += static_cast<double>(rng() % 100) / 1000.0;
            gl_sample x{};
            x.series_id = ids[0];
            x.ts_ms = kT0 + k * kMin;
            x.value = std::round(kwh * 1000) / 1000;
            x.quality = GL_QUALITY_GOOD;
            batch.push_back(x);
        }
        (void)s->append(batch);
    }
    (void)s->roll_up_now();
    (void)s->compact_all();
    auto paris = *TimeZone::load("Europe/Paris");
    int64_t from = *paris.parse_iso("2024-01-01"), to = from + minutes * kMin;
    to = paris.start_of_day(to);
    std::vector<double> ms, raw_ms;
    size_t days = 0;
    std::string res;
    for (int r = 0; r < (quick ? 3 : 21); ++r) {
        auto start = BenchClock::now();
        QueryStats qs;
        auto pts = s->query().calendar(ids[0], from, to, CalendarUnit::day, paris, Aggregate::consumption, &qs);
        ms.push_back(seconds_since(start) * 1000);
        days = pts ? pts->size() : 0;
        res = qs.resolution ? resolution_name(*qs.resolution) : "raw";
    }
    for (int r = 0; r < 3; ++r) {
        auto edges = QueryEngine::calendar_edges(from, to, CalendarUnit::day, paris);
        auto start = BenchClock::now();
        auto rows = s->query().aggregate(ids[0], *edges, nullptr, true);
        raw_ms.push_back(seconds_since(start) * 1000);
    }
    return {{"ms", median(ms)}, {"days", days}, {"answered_from", res}, {"ms_from_raw_only", median(raw_ms)},
            {"samples", minutes + 1}};
}

// 5) RSS added by 100,000 series (registry, writer state, first chunks, rollups).
nlohmann::json bench_rss() {
    const int n = quick ? 10'000 : 100'000;
    long before = rss_kb();
    auto s = open_fresh("rss");
    long opened = rss_kb();
    auto ids = make_series(*s, n, "building/floor/device", SeriesKind::gauge);
    long registered = rss_kb();
    std::vector<long> rounds;
    std::vector<gl_sample> batch;
    for (int round = 0; round < 3; ++round) {
        batch.clear();
        for (uint32_t id : ids) {
            gl_sample x{};
            x.series_id = id;
            x.ts_ms = kT0 + round * kMin;
            x.value = 21.5 + round;
            x.quality = GL_QUALITY_GOOD;
            batch.push_back(x);
        }
        (void)s->append(batch);
        rounds.push_back(rss_kb() - registered);
    }
    long appended = rss_kb();
    (void)s->roll_up_now();
    batch.clear();
    batch.shrink_to_fit();
    long after = rss_kb();
    return {{"series", n},
            {"rss_added_mb", double(after - before) / 1024},
            {"rss_open_empty_mb", double(opened - before) / 1024},
            {"rss_registry_mb", double(registered - opened) / 1024},
            {"rss_appends_mb", double(appended - registered) / 1024},
            {"rss_rollup_mb", double(after - appended) / 1024},
            {"block_cache_mb", s->options().block_cache_bytes >> 20},
            {"memtable_budget_mb", s->options().memtable_budget_bytes >> 20}};
}
}  // namespace

int main(int argc, char** argv) {
    root = std::filesystem::temp_directory_path() / ("gridlet-store-bench-" + std::to_string(getpid()));
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) root = argv[++i];
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            std::fprintf(stderr, "usage: store_bench [--quick] [--dir folder] [--only rss|ingest|size|daily]\n");
            return 2;
        }
    }
    std::filesystem::create_directories(root);
    nlohmann::json out;
    out["quick"] = quick;
    auto want = [](const char* n) { return only.empty() || only == n; };
    if (want("rss")) out["rss_100k_series"] = bench_rss();  // first: a clean heap
    if (want("ingest")) out["ingest"] = bench_ingest();
    if (want("size")) {
        nlohmann::json scan;
        out["bytes_per_sample"] = bench_size_and_scan(scan);
        out["aggregate_scan"] = scan;
    }
    if (want("daily")) out["daily_consumption_1y_1min"] = bench_daily_consumption();
    std::printf("%s\n", out.dump(2).c_str());
    std::filesystem::remove_all(root);
    return 0;
}
