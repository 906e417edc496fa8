// The Legrand reports (export/legrand_report.h): names as the manual's,
// the summary's figures per fluid (consumption, gas in equivalent kWh,
// costs, the previous period and the change), days without data left empty
// (never guessed), the detailed report's chosen items, yearly reports by
// month, the CSV dialect, and the PDF read back by poppler.
#include <gtest/gtest.h>

#include <filesystem>

#include <toml++/toml.h>

#include "export/export_config.h"
#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "export/legrand_report.h"
#include "store/store.h"
#include "support/pdf_text.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

const char* kReportModel = R"(
[model]
currency = "EUR"
[[model.fluids]]
name = "electricity"
price = 0.15
[[model.fluids]]
name = "gas"
kwh_per_unit = 11.2
price = 0.9
[[model.groups]]
name = "floor1"
[[model.points]]
name = "main"
energy = "m/main"
load = "lighting"
groups = ["floor1"]
[[model.points]]
name = "hvac"
energy = "m/hvac"
load = "heating"
[[model.points]]
name = "boiler"
energy = "m/boiler"
fluid = "gas"
groups = ["floor1"]
)";

model::SiteModel report_model() {
    config::Diagnostics diags;
    toml::table root = toml::parse(kReportModel, std::string("/site.toml"));
    auto m = model::parse_site_model(root, "/site.toml", "Europe/Paris", diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return m;
}

// Counters read every hour from `first` to 2026-12-01 00:00 (Paris): main
// +1 kWh, hvac +2 kWh, the boiler +0.1 m³ an hour.
struct ReportSite {
    TempDir dir;
    std::unique_ptr<Store> store;
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t oct = *paris.parse_iso("2026-10-01T00:00");
    const int64_t nov = *paris.parse_iso("2026-11-01T00:00");
    const int64_t dec = *paris.parse_iso("2026-12-01T00:00");
    const model::SiteModel model = report_model();
    explicit ReportSite(int64_t first) {
        store = std::move(Store::open(test_options(dir.path())).value());
        std::vector<gl_sample> b;
        for (const auto& [name, unit, step] : {std::tuple{"m/main", "kWh", 1.0}, {"m/hvac", "kWh", 2.0}, {"m/boiler", "m3", 0.1}}) {
            SeriesMeta m = meta(name, SeriesKind::counter);
            m.unit = unit;
            const uint32_t id = *store->registry().intern(m);
            for (int64_t t = first; t <= dec; t += 3'600'000)
                b.push_back(gs(id, t, 1000 + step * static_cast<double>((t - first) / 3'600'000)));
        }
        EXPECT_TRUE(store->append(b));
    }
    ReportFile build(const ReportSpec& r, int64_t from, int64_t to, CsvDialect d = {';', ',', "\r\n"}) {
        auto f = build_report(r, "lyon-3", d, model, store->query(), store->registry(), from, to, paris);
        EXPECT_TRUE(f) << f.status().message();
        return f ? *f : ReportFile{};
    }
};

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find("\r\n", start);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 2;
    }
    return out;
}

}  // namespace

TEST(LegrandReport, FileNamesAreTheManuals) {
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t dec2014 = *paris.parse_iso("2014-12-01T00:00");
    ReportSpec r;
    r.type = ReportType::detailed;
    EXPECT_EQ(report_file_name(r, dec2014, paris), "detailed-monthly-report_2014-12.pdf");
    r.period = ReportPeriod::yearly;
    EXPECT_EQ(report_file_name(r, *paris.parse_iso("2014-01-01T00:00"), paris), "detailed-yearly-report_2014.pdf");
    r.type = ReportType::summary;
    r.period = ReportPeriod::monthly;
    r.format = ReportFormat::csv;
    EXPECT_EQ(report_file_name(r, dec2014, paris), "summary-monthly-report_2014-12.csv");
}

TEST(LegrandReport, SummaryCsvHasEachFluidPerDayWithCostsAndTotals) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    ReportSpec r;
    r.format = ReportFormat::csv;
    const ReportFile f = s.build(r, s.nov, s.dec);
    EXPECT_EQ(f.name, "summary-monthly-report_2026-11.csv");
    EXPECT_EQ(f.rows_with_data, 30u);
    const auto l = lines(f.bytes);
    ASSERT_EQ(l.size(), 1u + 30 + 3);
    EXPECT_EQ(l[0], "Date;Electricity (kWh);Electricity cost (EUR);Gas (m3);Gas equivalent (kWh);Gas cost (EUR)")
        << "units in ASCII: spreadsheets read CSV files in many encodings";
    // 3 kWh an hour = 72 kWh a day at 0.15 EUR; gas 2.4 m³ a day = 26.88 kWh at 0.9 EUR/m³.
    EXPECT_EQ(l[1], "2026-11-01;72,000;10,80;2,400;26,880;2,16");
    EXPECT_EQ(l[30], "2026-11-30;72,000;10,80;2,400;26,880;2,16");
    EXPECT_EQ(l[31], "Total;2160,000;324,00;72,000;806,400;64,80");
    // October: 745 hours (the DST change), every day with data: a change is given.
    EXPECT_EQ(l[32], "Previous month;2235,000;335,25;74,500;834,400;67,05");
    EXPECT_EQ(l[33], "Change (%);-3,4;-3,4;-3,4;-3,4;-3,4");
}

TEST(LegrandReport, DaysWithoutDataAreEmptyAndLeftOutOfTheTotal) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-11-03T00:00"));
    ReportSpec r;
    r.format = ReportFormat::csv;
    const ReportFile f = s.build(r, s.nov, s.dec);
    EXPECT_EQ(f.rows_with_data, 28u);
    const auto l = lines(f.bytes);
    EXPECT_EQ(l[1], "2026-11-01;;;;;") << "no data: empty cells, never a guess";
    EXPECT_EQ(l[2], "2026-11-02;;;;;");
    EXPECT_EQ(l[3], "2026-11-03;72,000;10,80;2,400;26,880;2,16");
    ASSERT_EQ(l.size(), 1u + 30 + 3);
    EXPECT_EQ(l[31], "Total;2016,000;302,40;67,200;752,640;60,48");
    EXPECT_EQ(l[32], "Previous month;;;;;") << "October has no data";
    EXPECT_EQ(l[33], "Change (%);;;;;");
}

TEST(LegrandReport, DetailedCsvHoldsTheChosenItemsEachWithItsCost) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    ReportSpec r;
    r.type = ReportType::detailed;
    r.format = ReportFormat::csv;
    r.items = {"hvac", "boiler"};
    const auto l = lines(s.build(r, s.nov, s.dec, {',', '.', "\r\n"}).bytes);
    EXPECT_EQ(l[0], "Date,hvac (kWh),hvac cost (EUR),boiler (m3),boiler equivalent (kWh),boiler cost (EUR)");
    EXPECT_EQ(l[1], "2026-11-01,48.000,7.20,2.400,26.880,2.16");
    EXPECT_EQ(l[l.size() - 2], "Total,1440.000,216.00,72.000,806.400,64.80");
    EXPECT_EQ(l.back(), "Days with data,30,30,30,30,30");
    // By group: floor1 has main (electricity) and the boiler (gas).
    r.by = model::Breakdown::group;
    r.items = {};
    const auto g = lines(s.build(r, s.nov, s.dec).bytes);
    EXPECT_EQ(g[0], "Date;floor1 (kWh);floor1 cost (EUR);floor1 (m3);floor1 equivalent (kWh);floor1 cost (EUR)");
    EXPECT_EQ(g[1], "2026-11-01;24,000;3,60;2,400;26,880;2,16");
}

TEST(LegrandReport, YearlyReportHasAMonthARow) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    ReportSpec r;
    r.period = ReportPeriod::yearly;
    r.format = ReportFormat::csv;
    const int64_t y2026 = *s.paris.parse_iso("2026-01-01T00:00"), y2027 = *s.paris.parse_iso("2027-01-01T00:00");
    const ReportFile f = s.build(r, y2026, y2027);
    EXPECT_EQ(f.name, "summary-yearly-report_2026.csv");
    const auto l = lines(f.bytes);
    ASSERT_EQ(l.size(), 1u + 12 + 3);
    EXPECT_EQ(l[1].substr(0, 8), "2026-01;");
    EXPECT_EQ(l[9], "2026-09;;;;;");
    EXPECT_EQ(l[10].substr(0, 17), "2026-10;2235,000;") << "31 days and the hour of the DST change (25 h on Oct 25)";
    EXPECT_EQ(l[11].substr(0, 17), "2026-11;2160,000;");
    EXPECT_EQ(f.rows_with_data, 2u);
}

TEST(LegrandReport, SummaryPdfReadsBackWithTotalsPreviousMonthAndChart) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    ReportSpec r;
    const ReportFile f = s.build(r, s.nov, s.dec);
    EXPECT_EQ(f.name, "summary-monthly-report_2026-11.pdf");
    const std::string text = gridlet::test::pdf_text(f.bytes);
    EXPECT_NE(text.find("Summary report — November 2026"), std::string::npos) << text;
    EXPECT_NE(text.find("Site lyon-3"), std::string::npos) << text;
    EXPECT_NE(text.find("Electricity per day (kWh)"), std::string::npos) << text;
    EXPECT_NE(text.find("Gas per day (m³)"), std::string::npos) << text;
    // The overall table: this month 2160 kWh, October 2235 kWh (31 days + 1 h): -3.4 %.
    const size_t row = text.find("Electricity ");
    ASSERT_NE(row, std::string::npos);
    const std::string line = text.substr(row, text.find('\n', row) - row);
    EXPECT_NE(line.find("2 160.000"), std::string::npos) << line;
    EXPECT_NE(line.find("2 235.000"), std::string::npos) << line;
    EXPECT_NE(line.find("-3.4 %"), std::string::npos) << line;
    EXPECT_NE(text.find("324.00"), std::string::npos) << "the month's electricity cost";
    EXPECT_NE(text.find("approximation"), std::string::npos) << "costs are statistics only (manual §5.7)";
    // The same report twice: the same bytes (the outbox tells a repeat by them).
    EXPECT_EQ(s.build(r, s.nov, s.dec).bytes, f.bytes);
}

TEST(LegrandReport, DetailedPdfListsEachItemAndChartsIt) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-11-03T00:00"));
    ReportSpec r;
    r.type = ReportType::detailed;
    const std::string text = gridlet::test::pdf_text(s.build(r, s.nov, s.dec).bytes);
    EXPECT_NE(text.find("Detailed report — November 2026"), std::string::npos) << text;
    EXPECT_NE(text.find("Points: all"), std::string::npos) << text;
    for (const char* chart : {"main per day (kWh)", "hvac per day (kWh)", "boiler per day (m³)"})
        EXPECT_NE(text.find(chart), std::string::npos) << chart << "\n" << text;
    const size_t row = text.find("hvac ");
    const std::string line = text.substr(row, text.find('\n', row) - row);
    EXPECT_NE(line.find("1 344.000"), std::string::npos) << "28 days x 48 kWh: " << line;
    EXPECT_NE(line.find("201.60"), std::string::npos) << line;
    EXPECT_NE(line.find("28 of 30"), std::string::npos) << "days with data: " << line;
    EXPECT_NE(text.find("2 of 30 periods without data"), std::string::npos) << text;
}

TEST(LegrandReport, ReportsAreCheckedKeyByKeyWithTheirLines) {
    const model::SiteModel m = report_model();
    const auto errors = [&](const std::string& text) {
        config::Diagnostics diags;
        toml::table root = toml::parse(text, std::string("/site.toml"));
        (void)parse_exports(root, "/site.toml", "lyon-3", m, diags);
        std::string all;
        for (const auto& d : diags) all += d.to_string() + "\n";
        return all;
    };
    EXPECT_EQ(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\n"), "");
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"weekly\"\n").find("/site.toml:3"), std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\nitems = [\"main\"]\n").find("items is for detailed"),
              std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"detailed\"\nitems = [\"nope\"]\n")
                  .find("/site.toml:4: [[reports]] 'm': items: 'nope' is not a point of the [model]"),
              std::string::npos)
        << errors("[[reports]]\nname = \"m\"\ntype = \"detailed\"\nitems = [\"nope\"]\n");
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"detailed\"\nby = \"group\"\nitems = [\"main\"]\n")
                  .find("'main' is not a group of the [model] (floor1)"),
              std::string::npos)
        << "the names it could be";
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"detailed\"\nitems = []\n").find("items is empty"),
              std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"a\"\ntype = \"summary\"\ndir = \"rep\"\n[[reports]]\nname = \"b\"\n"
                     "type = \"summary\"\ndir = \"rep/\"\n")
                  .find("overwrite them"),
              std::string::npos)
        << "rep/ is rep";
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\ndecimal = \",\"\n").find("decimal is for csv reports"),
              std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\ntargets = [\"x\"]\n")
                  .find("'x' is not an [[export_targets]] name"),
              std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\n[[reports]]\nname = \"m\"\ntype = \"detailed\"\n")
                  .find("already defined"),
              std::string::npos);
    EXPECT_NE(errors("[[reports]]\nname = \"m\"\ntype = \"summary\"\nformat = \"csv\"\ndecimal = \",\"\ndelimiter = \",\"\n")
                  .find("/site.toml:"),
              std::string::npos)
        << "a decimal comma in comma-separated cells";
}

TEST(LegrandReport, PeriodsAreLocalCalendarMonthsDueAfterTheirEnd) {
    const model::SiteModel m = report_model();
    config::Diagnostics diags;
    toml::table root = toml::parse("[[reports]]\nname = \"m\"\ntype = \"summary\"\ndir = \"r\"\nat = \"06:00\"\n",
                                   std::string("/site.toml"));
    auto e = parse_exports(root, "/site.toml", "lyon-3", m, diags);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    ASSERT_EQ(e.size(), 1u);
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t oct = *paris.parse_iso("2026-10-01T00:00"), nov = *paris.parse_iso("2026-11-01T00:00"),
                  dec = *paris.parse_iso("2026-12-01T00:00");
    const auto p = export_periods(e[0], oct, dec, paris);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0], std::make_pair(oct, nov));  // 745 hours: the DST change inside
    EXPECT_EQ(p[1], std::make_pair(nov, dec));
    EXPECT_EQ(period_start_at(e[0], nov + 5 * 86'400'000, paris), nov);
    EXPECT_EQ(due_at(e[0], dec, paris), *paris.parse_iso("2026-12-01T06:00")) << "at 06:00 after the 1h delay";
}

TEST(LegrandReport, AMonthInProgressSaysSoAndShowsNoChange) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    ReportSpec r;
    const int64_t now = s.nov + 10 * 86'400'000 + 9 * 3'600'000;  // Nov 11, 09:00
    auto f = build_report(r, "lyon-3", {';', ',', "\r\n"}, s.model, s.store->query(), s.store->registry(), s.nov, s.dec,
                          s.paris, now);
    ASSERT_TRUE(f) << f.status().message();
    const std::string text = gridlet::test::pdf_text(f->bytes);
    EXPECT_NE(text.find("In progress: the figures up to 2026-11-11 09:00"), std::string::npos) << text;
    EXPECT_NE(text.find("19 still to come"), std::string::npos) << "Nov 12-30 have not begun: " << text;
    EXPECT_EQ(text.find("periods without data"), std::string::npos) << "every day begun has data: " << text;
    const size_t row = text.find("Electricity ");
    const std::string line = text.substr(row, text.find('\n', row) - row);
    EXPECT_EQ(line.find('%'), std::string::npos) << "a part against a whole says nothing: " << line;
    EXPECT_NE(text.find("A change from the previous period is shown only between two ended periods"), std::string::npos);
    EXPECT_NE(f->bytes.find("/CreationDate (20261111080000"), std::string::npos) << "dated now (UTC), not in the future";
    r.format = ReportFormat::csv;
    auto c = build_report(r, "lyon-3", {';', ',', "\r\n"}, s.model, s.store->query(), s.store->registry(), s.nov, s.dec,
                          s.paris, now);
    ASSERT_TRUE(c);
    EXPECT_NE(c->bytes.find("\r\nChange (%);;;;;\r\n"), std::string::npos) << c->bytes;
}

TEST(LegrandReport, AReportSetUpBeforeTheClosedMonthsSendTimeSendsIt) {
    ReportSite s(*TimeZone::load("Europe/Paris")->parse_iso("2026-10-01T00:00"));
    const auto scheduled = [&](const std::string& dir) {
        config::Diagnostics diags;
        toml::table root = toml::parse("[[reports]]\nname = \"m\"\ntype = \"summary\"\nformat = \"csv\"\ndir = \"" +
                                           dir + "\"\n",
                                       std::string("/site.toml"));
        auto e = parse_exports(root, "/site.toml", "lyon-3", s.model, diags);
        EXPECT_TRUE(diags.empty()) << diags.front().to_string();
        return e;
    };
    const std::string early = (s.dir.path() / "early").string(), late = (s.dir.path() / "late").string();
    {
        // First started on Dec 1 at 00:30, before November's send time (01:00).
        StateStore& state = s.store->state();
        ExportScheduler sch(scheduled(early), s.store->query(), s.store->registry(), state, s.paris, nullptr, {}, nullptr,
                            &s.model);
        ASSERT_TRUE(sch.start(s.dec + 30 * 60'000));
        sch.poll(s.dec + 3'600'000 + 1000);
        EXPECT_TRUE(std::filesystem::exists(early + "/summary-monthly-report_2026-11.csv"));
        EXPECT_FALSE(std::filesystem::exists(early + "/summary-monthly-report_2026-10.csv"));
    }
    {
        // First started on Dec 2: November's report was due yesterday; the next is December's.
        auto e = scheduled(late);
        e[0].name = "m2";
        ExportScheduler sch(e, s.store->query(), s.store->registry(), s.store->state(), s.paris, nullptr, {}, nullptr,
                            &s.model);
        ASSERT_TRUE(sch.start(s.dec + 86'400'000));
        sch.poll(s.dec + 86'400'000 + 1000);
        EXPECT_FALSE(std::filesystem::exists(late));
        EXPECT_EQ(sch.delivered_until("m2"), s.dec);
    }
}
