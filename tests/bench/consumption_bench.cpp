// consumption_bench: the site model's consumption (runtime/model), as JSON.
//   consumption_bench [--quick] [--dir /path] [--retention default|lean] [--runs N] [--keep]
// --keep: the store stays in --dir, and a later run with --keep and the same
// --dir, --quick and --retention reads it instead of loading the year again
// (a full default year takes minutes to load and compact): for profiling.
// BENCH_CACHE_MB=N (environment): the block cache, in MB (default: the
// store's default, 8 MB).
// A site of 100 points, each an energy counter read every minute for a year
// (--quick: 100 points, 30 days), ten load types, twenty groups (each point
// in two), and a hierarchy node whose meter is point 13 (7 kW) and that
// feeds points 7, 8 and 9 (1, 2 and 3 kW).
// --retention: the store's retention, which decides which rollup rows exist
// (store README, "Sparse rows"):
//   default (the default): the product's defaults, raw 90 days, 1-min rows
//     365 days, coarser rows forever. The store's clock is set to the day
//     after the data, as on a gateway that ran the year: every row is stored,
//     raw samples remain for the last 90 days only.
//   lean: everything kept forever (retention_raw_days = 0, the configuration
//     of meters kept at ~1.3 B/sample): a 1-min counter has 15 samples a
//     quarter hour, under the 16 a sparse 15-min row needs, so 15-min periods
//     are folded from raw samples.
// Figures, the median of 21 runs (5 with --quick; --runs N), each a fresh engine:
//   month_by_load_ms, month_by_group_ms: one month's consumption by load,
//     by group (Issue 16 target: at most 50 ms);
//   year_nmp_15m_ms: the node's non-measured point over the year in
//     15-minute periods (target: at most 20 ms).
// Exit 1 when an answer is wrong (the totals are checked against the
// counters), never for a time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "core/clock.h"
#include "model/consumption.h"
#include "store/store.h"

using namespace gridlet;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr int kPoints = 100;
constexpr int64_t kMin = 60'000;

double ms_since(BenchClock::time_point t) { return std::chrono::duration<double, std::milli>(BenchClock::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::string model_text() {
    std::string s = "[model]\n[[model.loads]]\nname = \"l6\"\n[[model.loads]]\nname = \"l7\"\n[[model.loads]]\nname = \"l8\"\n"
                    "[[model.loads]]\nname = \"l9\"\n";
    for (int g = 0; g < 20; ++g) s += "[[model.groups]]\nname = \"g" + std::to_string(g) + "\"\n";
    static const char* loads[] = {"heating", "cooling", "domestic_hot_water", "lighting", "ventilation", "auxiliary",
                                  "l6", "l7", "l8", "l9"};
    for (int i = 0; i < kPoints; ++i)
        s += "[[model.points]]\nname = \"p" + std::to_string(i) + "\"\nenergy = \"m" + std::to_string(i) + "/kwh\"\nload = \"" +
             loads[i % 10] + "\"\ngroups = [\"g" + std::to_string(i % 20) + "\", \"g" + std::to_string((i + 7) % 20) + "\"]\n";
    s += "[[model.hierarchies]]\nname = \"h\"\n[[model.hierarchies.nodes]]\nname = \"n\"\nmeter = \"p13\"\n"
         "points = [\"p7\", \"p8\", \"p9\"]\n";
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    bool lean = false;
    int runs_asked = 0;
    bool keep = false;
    std::filesystem::path root = std::filesystem::temp_directory_path() / ("gridlet-consumption-bench-" + std::to_string(getpid()));
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) root = argv[++i];
        else if (!std::strcmp(argv[i], "--keep")) keep = true;
        else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs_asked = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--retention") && i + 1 < argc) {
            const std::string r = argv[++i];
            if (r != "default" && r != "lean") {
                std::fprintf(stderr, "--retention: default or lean, not '%s'\n", r.c_str());
                return 2;
            }
            lean = r == "lean";
        } else {
            std::fprintf(stderr, "usage: consumption_bench [--quick] [--dir /path] [--retention default|lean] [--runs N] [--keep]\n");
            return 2;
        }
    }
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t from = *paris.parse_iso("2025-01-01");
    const int64_t days = quick ? 30 : 365;
    const int64_t to = paris.start_of_day(from + days * 86'400'000 + 43'200'000);

    // A kept store is reused only when it was loaded with the same options.
    const std::string made_with = "days=" + std::to_string(days) + " retention=" + (lean ? "lean" : "default") + "\n";
    const auto marker = root / "loaded-with";
    bool reuse = false;
    if (keep) {
        std::string was;
        if (FILE* f = std::fopen(marker.c_str(), "r")) {
            char buf[128] = {};
            was.assign(buf, std::fread(buf, 1, sizeof buf - 1, f));
            std::fclose(f);
        }
        reuse = was == made_with;
    }
    if (!reuse) std::filesystem::remove_all(root);
    store::StoreOptions o;
    o.path = root / "db";
    o.sync = store::SyncPolicy::none;
    // The store's clock follows the data, a day at a time, as on a gateway
    // that ran the year (rolled up every 30 days, long before raw samples
    // expire); it ends the day after the data, and retention counts from there.
    ManualClock clock(reuse ? to + 86'400'000 : from);
    o.clock = &clock;
    if (lean) {
        o.retention.raw_ms = 0;
        o.retention.min1_ms = 0;
    }
    o.retention.events_ms = 0;
    if (const char* mb = std::getenv("BENCH_CACHE_MB")) o.block_cache_bytes = static_cast<size_t>(std::atoi(mb)) << 20;
    auto opened = store::Store::open(o);
    if (!opened) {
        std::fprintf(stderr, "open: %s\n", opened.status().to_string().c_str());
        return 1;
    }
    store::Store& s = **opened;
    std::vector<uint32_t> ids;
    for (int i = 0; i < kPoints; ++i) {
        SeriesMeta m;
        m.name = "m" + std::to_string(i) + "/kwh";
        m.kind = SeriesKind::counter;
        m.unit = "kWh";
        ids.push_back(*s.registry().intern(m));
    }
    // Point i draws (i % 7 + 1) / 60 kWh a minute: (i % 7 + 1) kW.
    const auto load_start = BenchClock::now();
    std::vector<gl_sample> batch;
    for (int64_t t = from; !reuse && t <= to; t += 1440 * kMin) {
        batch.clear();
        for (int i = 0; i < kPoints; ++i)
            for (int64_t m = t; m < std::min(t + 1440 * kMin, to + 1); m += kMin) {
                gl_sample x{};
                x.series_id = ids[i];
                x.ts_ms = m;
                x.value = 1000.0 * i + static_cast<double>((m - from) / kMin) * (i % 7 + 1) / 60.0;
                x.quality = GL_QUALITY_GOOD;
                batch.push_back(x);
            }
        if (!s.append(batch)) return 1;
        clock.advance(std::min(t + 1440 * kMin, to + 86'400'000) - clock.now_ms());
        if ((t - from) / (1440 * kMin) % 30 == 29) (void)s.roll_up_now();  // long before raw retention (90 days)
    }
    if (!reuse) {
        clock.advance(to + 86'400'000 - clock.now_ms());
        (void)s.roll_up_now();
        (void)s.enforce_retention();  // drops what the retention drops, and compacts
        if (keep)
            if (FILE* f = std::fopen(marker.c_str(), "w")) {
                std::fputs(made_with.c_str(), f);
                std::fclose(f);
            }
    }
    const double load_s = ms_since(load_start) / 1000;

    toml::table root_table = toml::parse(model_text(), std::string("bench.toml"));
    config::Diagnostics diags;
    const model::SiteModel m = model::parse_site_model(root_table, "bench.toml", "Europe/Paris", diags);
    if (!diags.empty()) {
        std::fprintf(stderr, "%s\n", diags.front().to_string().c_str());
        return 1;
    }
    const int runs = runs_asked > 0 ? runs_asked : quick ? 5 : 21;
    // One month, the second of the range (or the whole range when quick).
    const int64_t month_from = quick ? from : paris.next_start(CalendarUnit::month, from);
    const int64_t month_to = quick ? to : paris.next_start(CalendarUnit::month, month_from);
    auto time_table = [&](model::ConsumptionRequest r, model::ConsumptionTable* out) {
        std::vector<double> t;
        for (int k = 0; k < runs; ++k) {
            model::ConsumptionEngine e(m, s.query(), s.registry(), paris);
            const auto start = BenchClock::now();
            auto res = e.table(r);
            t.push_back(ms_since(start));
            if (!res) {
                std::fprintf(stderr, "%s\n", res.status().message().c_str());
                std::exit(1);
            }
            *out = std::move(*res);
        }
        return median(t);
    };
    model::ConsumptionRequest r;
    r.period = model::Period::month;
    r.from = month_from;
    r.to = month_to;
    r.by = model::Breakdown::load;
    model::ConsumptionTable by_load, by_group, nmp;
    const double load_ms = time_table(r, &by_load);
    r.by = model::Breakdown::group;
    const double group_ms = time_table(r, &by_group);
    r.by = model::Breakdown::node;
    r.node = "h/n";
    r.period = model::Period::quarter_hour;
    r.from = from;
    r.to = to;
    const double nmp_ms = time_table(r, &nmp);

    // The answers: the total is Σ (i % 7 + 1) kW over the month's hours;
    // every quarter hour's non-measured point is 7 - (1 + 2 + 3) = 1 kW over
    // 0.25 h: 0.25 kWh.
    double kw = 0;
    for (int i = 0; i < kPoints; ++i) kw += i % 7 + 1;
    const double hours = static_cast<double>(month_to - month_from) / 3'600'000.0;
    bool ok = true;
    auto wrong = [&](const std::string& what) {
        if (ok) std::fprintf(stderr, "wrong answer: %s\n", what.c_str());
        ok = false;
    };
    if (by_load.rows.size() != 1 || !by_load.rows[0][0].value ||
        std::abs(*by_load.rows[0][0].value - kw * hours) >= 1e-6 * kw * hours)
        wrong("the month's total by load is " +
              (by_load.rows.empty() || !by_load.rows[0][0].value ? std::string("missing")
                                                                  : std::to_string(*by_load.rows[0][0].value)) +
              " kWh, not " + std::to_string(kw * hours));
    if (by_group.rows.size() != 1 || by_group.columns.size() != 21)
        wrong("by group: " + std::to_string(by_group.rows.size()) + " rows of " + std::to_string(by_group.columns.size()) +
              " columns, not 1 of 21");
    const size_t col = nmp.columns.size() - 1;
    size_t checked = 0;
    for (const auto& row : nmp.rows) {
        if (!row[col].value) continue;
        ++checked;
        if (std::abs(*row[col].value - 0.25) >= 1e-6 || row[col].negative)
            wrong("a quarter hour's non-measured point is " + std::to_string(*row[col].value) + " kWh, not 0.25");
    }
    if (checked + 1 < nmp.rows.size())
        wrong("only " + std::to_string(checked) + " of " + std::to_string(nmp.rows.size()) +
              " quarter hours have a non-measured point");
    nlohmann::json out = {{"points", kPoints},
                          {"retention", lean ? "lean" : "default"},
                          {"days", days},
                          {"samples", static_cast<int64_t>(kPoints) * (days * 1440 + 1)},
                          {"load_and_rollup_s", load_s},
                          {"store_reused", reuse},
                          {"month_by_load_ms", load_ms},
                          {"month_by_group_ms", group_ms},
                          {"year_nmp_15m_ms", nmp_ms},
                          {"nmp_periods", nmp.rows.size()},
                          {"runs", runs},
                          {"answers_checked", ok}};
    std::printf("%s\n", out.dump(2).c_str());
    opened->reset();  // closed before its folder goes (a flush at close would fail)
    if (!keep) std::filesystem::remove_all(root);
    return ok ? 0 : 1;
}
