// [[exports]] (export/export_config.h) refused with file:line, and the files
// of an export built from a real store (export/export_job.h).
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include "export/export_job.h"
#include "store/store.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

const char* kModel = R"(
[model]
[[model.points]]
name = "pc123"
energy = "panel1/ea_plus"
usage = "heating"
)";

std::vector<ExportConfig> parse(const std::string& text, config::Diagnostics& diags, const std::string& site = "acme") {
    toml::table root = toml::parse(std::string(kModel) + text, std::string("site.toml"));
    model::SiteModel m = model::parse_site_model(root, "site.toml", "Europe/Paris", diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return parse_exports(root, "site.toml", site, m, diags);
}

// Lines of kModel before the export text.
constexpr uint32_t kModelLines = 6;

}  // namespace

TEST(ExportConfig, AGoodExportTakesItsDefaultsFromTheModelAndTheSite) {
    config::Diagnostics diags;
    auto e = parse(R"(
[[exports]]
name = "ems"
format = "socomec_ems"
server_name = "E5C801"
device_id = 14
[[exports.variables]]
series = "panel1/ea_plus"
point = "pc123"
quantity = "EA+"
unit = "Wh"
[[exports.variables]]
series = "panel1/thd_i1"
data_id = 100006
)",
                   diags);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].site_name, "acme");
    EXPECT_EQ(e[0].device, "panel1");
    EXPECT_EQ(e[0].step_ms, 60'000);
    EXPECT_EQ(e[0].every_ms, 600'000);
    EXPECT_EQ(e[0].dialect.delimiter, ';');
    const ExportVariable& v = e[0].variables[0];
    EXPECT_EQ(v.name, "EA+ of pc123 of panel1");
    EXPECT_EQ(v.use, "Heating");  // the usage's Socomec external key
    EXPECT_EQ(v.ems_fluid, "ELEC");
    EXPECT_EQ(v.csv_nature, "Elec");
    EXPECT_EQ(v.data_id, 1);
    EXPECT_EQ(e[0].variables[1].name, "thd_i1 of panel1");
    EXPECT_EQ(e[0].variables[1].data_id, 100006);
}

TEST(ExportConfig, EveryMalformedExportIsRefusedWithItsLine) {
    const std::string var = "[[exports.variables]]\nseries = \"panel1/p\"\n";
    const struct {
        std::string text;
        uint32_t line;  // in the export text, 1 = its first line
        std::string says;
    } cases[] = {
        {"[[exports]]\nformat = \"socomec_ems\"\n" + var, 1, "name"},
        {"[[exports]]\nname = \"x\"\nformat = \"ems\"\n" + var, 3, "format"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nstep = \"90ms\"\n" + var, 4, "whole number of seconds"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nstep = \"7m\"\n" + var, 1, "whole number of steps"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nstep = \"1m\"\nevery = \"7m\"\n" + var, 5, "divide a day"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\ndelimiter = \",\"\ndecimal = \",\"\n" + var, 5, "also the delimiter"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_ems\"\nsite_name = \"SITE\"\n" + var, 4, "factory name"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n", 1, "no variables"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n" + var + "point = \"nope\"\n", 6, "not a [model] point"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_ems\"\n" + var + "data_id = 5\n" + var + "data_id = 5\n", 9, "already used"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n" + var + "[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n" + var, 7, "already defined"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n[[exports.variables]]\nseries = \"panel1/*\"\n", 5, "no pattern"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n[[exports.variables]]\nunit = \"W\"\n", 4, "series"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\ncolour = \"red\"\n" + var, 4, "colour"},
        {"[[exports]]\nname = \"x y\"\nformat = \"socomec_csv\"\n" + var, 2, "name"},
        {"[exports]\nname = \"x\"\n", 1, "array of tables"},
        // (The retest's findings.) Two exports writing the same names; a
        // space in a name of the EMS key; a key of the other format.
        {"[[exports]]\nname = \"a\"\nformat = \"socomec_ems\"\n" + var + "[[exports]]\nname = \"b\"\nformat = \"socomec_csv\"\ndata_type = \"avg\"\n" + var, 7, "overwrite them"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_ems\"\nserver_name = \"gw 2\"\n" + var, 4, "has a space"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n" + var + "coef = 100\n", 6, "for socomec_ems files"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_ems\"\n" + var + "scale = 0.1\n", 6, "for socomec_csv files"},
        {"[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nevery = \"2d\"\n" + var, 4, "from 1s to 1d"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        config::Diagnostics diags;
        toml::table root = toml::parse(std::string(kModel) + c.text, std::string("site.toml"));
        model::SiteModel m = model::parse_site_model(root, "site.toml", "Europe/Paris", diags);
        parse_exports(root, "site.toml", "acme", m, diags);
        ASSERT_FALSE(diags.empty());
        EXPECT_EQ(diags.front().line, kModelLines + c.line) << diags.front().to_string();
        EXPECT_NE(diags.front().to_string().find(c.says), std::string::npos) << diags.front().to_string();
    }
    // The factory name is refused for EMS only (CSV files carry no site name).
    config::Diagnostics diags;
    parse("[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\n" + var, diags, "SITE");
    EXPECT_TRUE(diags.empty());
    parse("[[exports]]\nname = \"x\"\nformat = \"socomec_ems\"\n" + var, diags, "Site");
    ASSERT_EQ(diags.size(), 1u);
    EXPECT_NE(diags[0].message.find("set [site] name or site_name"), std::string::npos);
}

TEST(ExportPeriods, StartAtLocalMidnightAcrossTheDstDays) {
    config::Diagnostics diags;
    auto e = parse("[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nstep = \"15m\"\nevery = \"1h\"\n"
                   "[[exports.variables]]\nseries = \"panel1/p\"\n",
                   diags);
    ASSERT_TRUE(diags.empty());
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    EXPECT_EQ(export_periods(e[0], *paris.parse_iso("2024-03-31"), *paris.parse_iso("2024-04-01"), paris).size(), 23u);
    EXPECT_EQ(export_periods(e[0], *paris.parse_iso("2024-10-27"), *paris.parse_iso("2024-10-28"), paris).size(), 25u);
    // Longer periods follow the local clock: one a day, 23 or 25 hours long;
    // 00:00 and 12:00 for 12 hours (found by the retest: a 24-hour period
    // and a 1-hour one on the 25-hour day).
    config::Diagnostics d2;
    auto daily = parse("[[exports]]\nname = \"d\"\nformat = \"socomec_csv\"\nstep = \"1h\"\nevery = \"1d\"\n"
                       "[[exports.variables]]\nseries = \"panel1/p\"\n"
                       "[[exports]]\nname = \"h\"\nformat = \"socomec_csv\"\nstep = \"1h\"\nevery = \"12h\"\n"
                       "device = \"other\"\n[[exports.variables]]\nseries = \"panel1/p\"\n",
                       d2);
    ASSERT_TRUE(d2.empty()) << d2.front().to_string();
    for (const char* day : {"2024-03-31", "2024-10-27", "2024-05-02"}) {
        const int64_t a = *paris.parse_iso(day), b = paris.next_midnight(a);
        EXPECT_EQ(export_periods(daily[0], a, b, paris), (std::vector<std::pair<int64_t, int64_t>>{{a, b}})) << day;
        auto halves = export_periods(daily[1], a, b, paris);
        ASSERT_EQ(halves.size(), 2u) << day;
        EXPECT_EQ(paris.to_local(halves[1].first).hour, 12) << day;
        EXPECT_EQ(period_start_at(daily[1], halves[1].first + 1000, paris), halves[1].first);
    }
    // Only whole periods, inside the range.
    auto p = export_periods(e[0], *paris.parse_iso("2024-05-02T10:30"), *paris.parse_iso("2024-05-02T13:10"), paris);
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].first, *paris.parse_iso("2024-05-02T11:00"));
    EXPECT_EQ(p[1].second, *paris.parse_iso("2024-05-02T13:00"));
}

TEST(ExportJob, FilesFromTheStoreHoldEachWholeStepOfThePeriod) {
    TempDir dir;
    auto opened = Store::open(test_options(dir.path()));
    ASSERT_TRUE(opened);
    Store& s = **opened;
    const uint32_t thd = *s.registry().intern(meta("panel1/thd_i1"));
    const uint32_t ea = *s.registry().intern(meta("panel1/ea_plus", SeriesKind::counter));
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t t0 = *paris.parse_iso("2024-05-02T10:00");
    std::vector<gl_sample> b;
    for (int i = 0; i < 20 * 6; ++i) {  // every 10 s for 20 minutes
        const int64_t t = t0 + i * 10'000;
        if (i / 6 == 3) continue;                              // minute 3 has no data: a gap
        b.push_back(gs(thd, t, 2.0 + (i % 6) * 0.01, i % 6 == 5 ? 0 : GL_QUALITY_GOOD));  // the last of each minute is bad
        b.push_back(gs(ea, t, 1000.0 + i));
    }
    ASSERT_TRUE(s.append(b));
    config::Diagnostics diags;
    auto ems = parse(R"(
[[exports]]
name = "ems"
format = "socomec_ems"
server_name = "E5C801"
device = "I-35@4"
device_id = 14
[[exports.variables]]
series = "panel1/thd_i1"
quantity = "THD I1"
unit = "%"
coef = 100
data_id = 100006
[[exports.variables]]
series = "panel1/missing"
[[exports]]
name = "idx"
format = "socomec_csv"
data_type = "index"
step = "5m"
server_name = "E5C801"
decimal = ","
[[exports.variables]]
series = "panel1/ea_plus"
point = "pc123"
quantity = "EA+"
unit = "Wh"
)",
                     diags);
    ASSERT_TRUE(diags.empty()) << diags.front().to_string();
    auto f = build_export_file(ems[0], s.query(), s.registry(), t0, t0 + 600'000, paris);
    ASSERT_TRUE(f) << f.status().to_string();
    EXPECT_EQ(f->name, "acme_E5C801_I-35@4_Avg_2024-05-02_10-10-00.csv");
    auto cells = read_csv(f->bytes, ';');
    ASSERT_TRUE(cells);
    const CellMatrix& m = *cells;
    EXPECT_EQ(m[1], (CsvRow{"Avg", "Europe/Paris", "Local", "600", "N/A", "1", "acme", "E5C801"}));
    EXPECT_EQ(m[4], (CsvRow{"0", "acme E5C801 14 1 ANA 100006", "ANA", "THD I1 of I-35@4", "ELEC", "", "100", "%", "/",
                            "14", "1", "100006"}));
    EXPECT_EQ(m[5][3], "missing of I-35@4");  // no data: described, no rows
    // 9 minutes with data (minute 3 is a gap), newest first; the bad
    // reading is left out: avg(2.00 .. 2.04) = 2.02 -> 202.
    ASSERT_EQ(m.size(), 8u + 9u);
    EXPECT_EQ(m[8], (CsvRow{"0", "2024-05-02T10:09:00", "202", "192"}));
    EXPECT_EQ(m[16][1], "2024-05-02T10:00:00");
    for (size_t r = 8; r < m.size(); ++r) EXPECT_NE(m[r][1], "2024-05-02T10:03:00");
    EXPECT_EQ(f->data_rows, 9u);

    // The index in CSV, every 5 minutes: the first reading of each step,
    // with the point's load, usage and fluid; decimal comma.
    auto g = build_export_file(ems[1], s.query(), s.registry(), t0, t0 + 600'000, paris);
    ASSERT_TRUE(g);
    auto c = read_csv(g->bytes, ';');
    ASSERT_TRUE(c);
    EXPECT_EQ((*c)[1], (CsvRow{"panel1", "0.0.0.0", "", "2024-05-02T10:00:00", "2024-05-02T10:10:00"}));
    EXPECT_EQ((*c)[2], (CsvRow{"Load Name", "pc123"}));
    EXPECT_EQ((*c)[3], (CsvRow{"Usage", "Heating"}));
    EXPECT_EQ((*c)[7], (CsvRow{"Scale", "1,0000000"}));
    EXPECT_EQ((*c)[8], (CsvRow{"2024-05-02T10:05:00", "1030"}));
    EXPECT_EQ((*c)[9], (CsvRow{"2024-05-02T10:00:00", "1000"}));
    // The same period again: the same name and bytes.
    auto again = build_export_file(ems[1], s.query(), s.registry(), t0, t0 + 600'000, paris);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->name, g->name);
    EXPECT_EQ(again->bytes, g->bytes);
}
