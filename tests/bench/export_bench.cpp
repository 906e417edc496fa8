// export_bench: the Socomec export files (runtime/export) of a month, as JSON.
//   export_bench [--quick] [--dir /path]
// A site of 100 points read every minute for 30 days (--quick: 3 days): a
// gauge (kW) and an energy index (kWh) each, 8.6 M samples. Exported as
//   EMS: data type avg, 100 variables, step 1m, one file a day;
//   CSV: data type index, 100 columns, step 1m, one file a day.
// Figures (issue 17 target: a month of both in at most 2 s and 100 MB):
//   ems_month_s, csv_month_s: the month's files built (read from the store,
//     formatted, written to a folder), one run each after a warm-up run;
//   bytes_ems, bytes_csv: the files' sizes;
//   rss_growth_mb: how much the peak RSS grew while exporting EMS and CSV
//     (the store's own memory before it is not counted);
//     rss_growth_with_legrand_mb: the same after the Legrand step too;
//   legrand_month_s: the Legrand history tree's files of the month
//     (export/legrand_history.h: 100 points on the kWh counters, 10 groups,
//     7 load types, 15-min rows), what the exporter writes again after each
//     quarter hour at the end of a month; legrand_files, legrand_bytes.
// Exit 1 when a file is wrong (rows counted, a value checked), never for a time.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "export/legrand_history.h"
#include "export/legrand_report.h"
#include "store/store.h"

using namespace gridlet;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr int kPoints = 100;
constexpr int64_t kMin = 60'000;

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string export_text(const char* name, const char* format, const char* type, const char* suffix) {
    std::string s = std::string("[[exports]]\nname = \"") + name + "\"\nformat = \"" + format + "\"\ndata_type = \"" +
                    type + "\"\nstep = \"1m\"\nevery = \"1d\"\nserver_name = \"bench\"\ndevice = \"site\"\n";
    for (int i = 0; i < kPoints; ++i)
        s += "[[exports.variables]]\nseries = \"m" + std::to_string(i) + "/" + suffix + "\"\nunit = \"" +
             (std::strcmp(suffix, "kw") == 0 ? "kW" : "kWh") + "\"\n" +
             (std::strcmp(format, "socomec_ems") == 0 ? "coef = 1000\n" : "");
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::filesystem::path root = std::filesystem::temp_directory_path() / ("gridlet-export-bench-" + std::to_string(getpid()));
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) root = argv[++i];
        else {
            std::fprintf(stderr, "usage: export_bench [--quick] [--dir /path]\n");
            return 2;
        }
    }
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t from = *paris.parse_iso("2026-11-01");
    const int days = quick ? 3 : 30;
    const int64_t to = *paris.parse_iso(quick ? "2026-11-04" : "2026-12-01");
    std::filesystem::remove_all(root);
    store::StoreOptions o;
    o.path = root / "db";
    o.sync = store::SyncPolicy::none;
    o.retention.raw_ms = 0;
    o.retention.min1_ms = 0;
    ManualClock clock(to + 60'000);
    o.clock = &clock;
    auto opened = store::Store::open(o);
    if (!opened) {
        std::fprintf(stderr, "open: %s\n", opened.status().to_string().c_str());
        return 1;
    }
    store::Store& s = **opened;
    std::vector<uint32_t> kw, kwh;
    for (int i = 0; i < kPoints; ++i) {
        SeriesMeta m;
        m.name = "m" + std::to_string(i) + "/kw";
        m.unit = "kW";
        kw.push_back(*s.registry().intern(m));
        m.name = "m" + std::to_string(i) + "/kwh";
        m.unit = "kWh";
        m.kind = SeriesKind::counter;
        kwh.push_back(*s.registry().intern(m));
    }
    std::vector<gl_sample> batch;
    for (int64_t day = from; day < to; day += 86'400'000) {
        batch.clear();
        for (int i = 0; i < kPoints; ++i)
            for (int64_t t = day; t < std::min(day + 86'400'000, to); t += kMin) {
                const double p = 1 + i % 7 + 0.001 * static_cast<double>((t / kMin) % 60);
                batch.push_back({t, p, kw[static_cast<size_t>(i)], GL_QUALITY_GOOD, {}});
                batch.push_back({t, static_cast<double>((t - from) / kMin) * (1 + i % 7) / 60.0,
                                 kwh[static_cast<size_t>(i)], GL_QUALITY_GOOD, {}});
            }
        if (!s.append(batch)) return 1;
    }
    (void)s.roll_up_now();
    (void)s.compact_all();

    const std::string text = "[site]\nname = \"bench\"\n" + export_text("ems", "socomec_ems", "avg", "kw") +
                             export_text("csv", "socomec_csv", "index", "kwh");  // (different data types: different file names)
    toml::table t = toml::parse(text, std::string("/bench.toml"));
    config::Diagnostics diags;
    model::SiteModel model;
    auto exports = exporter::parse_exports(t, "/bench.toml", "bench", model, diags);
    if (!diags.empty()) {
        std::fprintf(stderr, "%s\n", diags.front().to_string().c_str());
        return 1;
    }
    const double rss_before = peak_rss_mb();
    bool ok = true;
    size_t bytes[2] = {0, 0};
    double seconds[2] = {0, 0};
    for (size_t k = 0; k < 2; ++k) {
        const std::string dir = (root / "out" / exports[k].name).string();
        for (int run = 0; run < 2; ++run) {  // a warm-up run, then the one timed
            std::filesystem::remove_all(dir);
            bytes[k] = 0;
            const auto start = BenchClock::now();
            const auto periods = exporter::export_periods(exports[k], from, to, paris);
            if (periods.size() != static_cast<size_t>(days)) ok = false;
            // As `gridlet export` builds them: on two threads (the gateway's two cores).
            const Status built = exporter::build_export_files(exports[k], s.query(), s.registry(), periods, paris, nullptr,
                                                              INT64_MAX, 2, [&](exporter::ExportFile& file) {
                const exporter::ExportFile* f = &file;
                const int64_t a = f->from_ms, b = f->to_ms;
                // EMS: a row per variable and minute; CSV: a row per minute (23-25 h days).
                const size_t minutes = static_cast<size_t>((b - a) / kMin);
                if (f->data_rows != (k == 0 ? kPoints * minutes : minutes)) {
                    std::fprintf(stderr, "wrong answer: %s has %zu rows, not %zu\n", f->name.c_str(), f->data_rows,
                                 k == 0 ? kPoints * minutes : minutes);
                    ok = false;
                }
                if (Status st = exporter::write_file_whole(dir, f->name, f->bytes); !st) return st;
                bytes[k] += f->bytes.size();
                return Status::ok();
            });
            if (!built) {
                std::fprintf(stderr, "%s\n", built.to_string().c_str());
                return 1;
            }
            seconds[k] = std::chrono::duration<double>(BenchClock::now() - start).count();
        }
    }
    // A value checked: point 3's kW at the first minute is 4.0 kW -> 4000 in the EMS file.
    const std::string first = (root / "out" / "ems" / exporter::socomec::ems_file_name("bench", "bench", "site",
                                                                                       exporter::socomec::DataType::avg,
                                                                                       from + 86'400'000, paris))
                                  .string();
    FILE* f = std::fopen(first.c_str(), "rb");
    std::string content;
    if (f) {
        char buf[1 << 16];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) content.append(buf, n);
        std::fclose(f);
    }
    if (content.find("\r\n3;2026-11-01T00:00:00;4000;192\r\n") == std::string::npos) {
        std::fprintf(stderr, "wrong answer: %s lacks point 3's first minute (4000)\n", first.c_str());
        ok = false;
    }
    const double rss_exports = peak_rss_mb() - rss_before;  // EMS and CSV only (the target's figure)
    // The Legrand tree of the month, from a model of the 100 counters.
    std::string model_text = "[model]\n";
    for (int g = 0; g < 10; ++g) model_text += "[[model.groups]]\nname = \"g" + std::to_string(g) + "\"\n";
    static const char* loads[] = {"heating", "cooling", "domestic_hot_water", "lighting", "ventilation", "auxiliary", ""};
    for (int i = 0; i < kPoints; ++i)
        model_text += "[[model.points]]\nname = \"p" + std::to_string(i) + "\"\nenergy = \"m" + std::to_string(i) +
                      "/kwh\"\ngroups = [\"g" + std::to_string(i % 10) + "\"]\n" +
                      (loads[i % 7][0] ? "load = \"" + std::string(loads[i % 7]) + "\"\n" : "");
    toml::table mt = toml::parse(model_text, std::string("/bench.toml"));
    const model::SiteModel lmodel = model::parse_site_model(mt, "/bench.toml", "Europe/Paris", diags);
    if (!diags.empty()) {
        std::fprintf(stderr, "%s\n", diags.front().to_string().c_str());
        return 1;
    }
    exporter::LegrandConfig lc;
    lc.dir = (root / "out" / "legrand").string();
    // No state store: every run writes the month (with one, a month written
    // to its end is done and the timed run would write nothing).
    exporter::LegrandHistory history(lc, lmodel, s.query(), s.registry(), paris, nullptr);
    double legrand_s = 0;
    size_t legrand_files = 0, legrand_bytes = 0;
    for (int run = 0; run < 2; ++run) {
        const auto start = BenchClock::now();
        auto w = history.write_month(from, to, to);
        legrand_s = std::chrono::duration<double>(BenchClock::now() - start).count();
        if (!w) {
            std::fprintf(stderr, "%s\n", w.status().to_string().c_str());
            return 1;
        }
        legrand_files = w->size();
        legrand_bytes = 0;
        for (const auto& e : std::filesystem::recursive_directory_iterator(lc.dir))
            if (e.is_regular_file()) legrand_bytes += e.file_size();
    }
    // Point 3: (1 + 3) / 60 kWh a minute, 1000 Wh a quarter hour.
    FILE* lf = std::fopen((lc.dir + "/devices/p3/p3_energy_2026-11.csv").c_str(), "rb");
    char line[256] = {};
    if (lf) {
        // The header, then the first data line.
        if (!std::fgets(line, sizeof line, lf) || !std::fgets(line, sizeof line, lf)) line[0] = '\0';
        std::fclose(lf);
    }
    if (std::string(line) != "2026-11-01 00:00;1000\r\n") {
        std::fprintf(stderr, "wrong answer: p3's first quarter hour is '%s', not 1000 Wh\n", line);
        ok = false;
    }
    // The Legrand reports of the month: the summary as CSV (checked) and PDF,
    // the detailed report of the 100 points as PDF.
    double report_s[3] = {0, 0, 0};
    size_t report_bytes[3] = {0, 0, 0};
    std::string summary_csv;
    for (int k = 0; k < 3; ++k) {
        exporter::ReportSpec r;
        r.format = k == 0 ? exporter::ReportFormat::csv : exporter::ReportFormat::pdf;
        r.type = k == 2 ? exporter::ReportType::detailed : exporter::ReportType::summary;
        for (int run = 0; run < 2; ++run) {
            const auto start = BenchClock::now();
            auto rep = exporter::build_report(r, "bench", {';', ',', "\r\n"}, lmodel, s.query(), s.registry(), from, to, paris);
            report_s[k] = std::chrono::duration<double>(BenchClock::now() - start).count();
            if (!rep) {
                std::fprintf(stderr, "%s\n", rep.status().to_string().c_str());
                return 1;
            }
            report_bytes[k] = rep->bytes.size();
            if (k == 0) summary_csv = rep->bytes;
        }
    }
    // Day 1: sum over the points of (1 + i % 7) / 60 kWh a minute, 1440 minutes.
    double per_day = 0;
    for (int i = 0; i < kPoints; ++i) per_day += (1 + i % 7) * 1440.0 / 60.0;
    char expected[64];
    std::snprintf(expected, sizeof expected, "\r\n2026-11-01;%.0f,000\r\n", per_day);
    if (summary_csv.find(expected) == std::string::npos) {
        std::fprintf(stderr, "wrong answer: the summary report lacks '%s'\n%s\n", expected + 2, summary_csv.substr(0, 200).c_str());
        ok = false;
    }
    nlohmann::json out = {{"points", kPoints},
                          {"days", days},
                          {"samples", static_cast<int64_t>(kPoints) * 2 * days * 1440},
                          {"ems_month_s", seconds[0]},
                          {"csv_month_s", seconds[1]},
                          {"bytes_ems", bytes[0]},
                          {"bytes_csv", bytes[1]},
                          {"rss_growth_mb", rss_exports},
                          {"rss_growth_with_legrand_mb", peak_rss_mb() - rss_before},
                          {"legrand_month_s", legrand_s},
                          {"legrand_files", legrand_files},
                          {"legrand_bytes", legrand_bytes},
                          {"report_summary_csv_s", report_s[0]},
                          {"report_summary_pdf_s", report_s[1]},
                          {"report_detailed_pdf_s", report_s[2]},
                          {"report_detailed_pdf_bytes", report_bytes[2]},
                          {"answers_checked", ok}};
    std::printf("%s\n", out.dump(2).c_str());
    opened->reset();  // closed before its folder goes
    std::filesystem::remove_all(root);
    return ok ? 0 : 1;
}
