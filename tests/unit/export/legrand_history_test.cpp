// The Legrand CSV history tree (export/legrand_history.h): the folders and
// names of §6.3 for a month, Wh and dm³ with the decimal comma, a new
// version `_2` when the columns change (the older file kept as it was, an
// ended month not rewritten), and update() writing each closed period.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <toml++/toml.h>

#include "export/legrand_history.h"
#include "store/store.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

const char* kLegrandModel = R"(
[model]
[[model.fluids]]
name = "water"
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
name = "tap"
energy = "m/tap"
fluid = "water"
)";

model::SiteModel parse_model(const std::string& extra = "", const std::string& model_keys = "") {
    config::Diagnostics diags;
    std::string text = kLegrandModel;
    text.insert(text.find("[model]\n") + 8, model_keys);
    toml::table root = toml::parse(text + extra, std::string("/site.toml"));
    auto m = model::parse_site_model(root, "/site.toml", "Europe/Paris", diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return m;
}

LegrandConfig legrand_config(const std::string& dir) {
    config::Diagnostics diags;
    toml::table root = toml::parse("[legrand_history]\ndir = \"" + dir + "\"\n", std::string("/site.toml"));
    auto c = parse_legrand_history(root, "/site.toml", diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return *c;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::set<std::string> tree(const std::string& root) {
    std::set<std::string> out;
    if (!std::filesystem::exists(root)) return out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root))
        if (e.is_regular_file()) out.insert(std::filesystem::relative(e.path(), root).string());
    return out;
}

struct LegrandSite {
    TempDir dir;
    std::unique_ptr<Store> store;
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t nov = *paris.parse_iso("2026-11-01T00:00");
    LegrandSite() {
        store = std::move(Store::open(test_options(dir.path())).value());
        // Counters read every 15 min from 2026-10-31 to 2026-11-03: main
        // +0.25 kWh, hvac +1.0005 kWh (1000,5 Wh: the decimal comma), the water tap +0.01 m3 a quarter hour.
        std::vector<gl_sample> b;
        for (const auto& [name, unit, step] : {std::tuple{"m/main", "kWh", 0.25}, {"m/hvac", "kWh", 1.0005},
                                               {"m/tap", "m3", 0.01}}) {
            SeriesMeta m = meta(name, SeriesKind::counter);
            m.unit = unit;
            const uint32_t id = *store->registry().intern(m);
            int k = 0;
            for (int64_t t = nov - 86'400'000; t <= nov + 3 * 86'400'000; t += 900'000) b.push_back(gs(id, t, 100 + step * k++));
        }
        EXPECT_TRUE(store->append(b));
    }
    std::string root() const { return (dir.path() / "history").string(); }
};

}  // namespace

TEST(LegrandHistory, TheMonthsTreeWithItsNamesUnitsAndDecimalComma) {
    LegrandSite s;
    const model::SiteModel m = parse_model();
    LegrandHistory h(legrand_config(s.root()), m, s.store->query(), s.store->registry(), s.paris, &s.store->state());
    const int64_t until = s.nov + 2 * 86'400'000;  // two days of November
    auto w = h.write_month(s.nov, until, until);
    ASSERT_TRUE(w) << w.status().message();
    EXPECT_EQ(tree(s.root()),
              (std::set<std::string>{"energy/devices_2026-11.csv", "energy/groups_2026-11.csv", "energy/loads_2026-11.csv",
                                     "water/devices_2026-11.csv", "devices/main/main_energy_2026-11.csv",
                                     "devices/hvac/hvac_energy_2026-11.csv", "devices/tap/tap_water_2026-11.csv",
                                     "overallTotal/overallTotalValues_2026-11.csv", "settings/General.csv",
                                     "settings/EnergySettings.csv"}));
    const std::string devices = slurp(s.root() + "/energy/devices_2026-11.csv");
    // 0.25 kWh = 250 Wh a quarter hour; rows from local midnight.
    EXPECT_EQ(devices.substr(0, devices.find("\r\n", devices.find("\r\n") + 2) + 2),
              "Date;main;hvac\r\n2026-11-01 00:00;250;1000,5\r\n");
    EXPECT_EQ(std::count(devices.begin(), devices.end(), '\n'), 1 + 2 * 96);
    EXPECT_NE(slurp(s.root() + "/water/devices_2026-11.csv").find("2026-11-01 00:15;10\r\n"), std::string::npos)
        << "0.01 m3 = 10 dm3";
    const std::string totals = slurp(s.root() + "/overallTotal/overallTotalValues_2026-11.csv");
    EXPECT_NE(totals.find("Date;electricity;water\r\n2026-11-01;120048;960\r\n"), std::string::npos) << totals;
    EXPECT_NE(slurp(s.root() + "/energy/loads_2026-11.csv").find("Date;heating;lighting"), std::string::npos);
    EXPECT_NE(slurp(s.root() + "/settings/EnergySettings.csv").find("main;electricity;lighting;;floor1;;;m/main;;no;no\r\n"),
              std::string::npos);
    const std::string general = slurp(s.root() + "/settings/General.csv");
    EXPECT_NE(general.find("Decimal separator;,\r\n"), std::string::npos) << general;
}

TEST(LegrandHistory, NewColumnsStartANewVersionAndAnEndedMonthKeepsItsFiles) {
    LegrandSite s;
    const model::SiteModel before = parse_model();
    const int64_t day2 = s.nov + 86'400'000;
    {
        LegrandHistory h(legrand_config(s.root()), before, s.store->query(), s.store->registry(), s.paris, &s.store->state());
        ASSERT_TRUE(h.write_month(s.nov, day2, day2));
    }
    const std::string v1 = slurp(s.root() + "/energy/devices_2026-11.csv");
    // A point is added on day 2 at noon: the devices, groups and loads files get new columns.
    const model::SiteModel after = parse_model("[[model.points]]\nname = \"oven\"\nenergy = \"m/main\"\nload = \"cooking\"\n"
                                               "[[model.loads]]\nname = \"cooking\"\n");
    const int64_t noon = day2 + 12 * 3'600'000;
    LegrandHistory h(legrand_config(s.root()), after, s.store->query(), s.store->registry(), s.paris, &s.store->state());
    ASSERT_TRUE(h.write_month(s.nov, noon, noon));
    EXPECT_EQ(slurp(s.root() + "/energy/devices_2026-11.csv"), v1) << "the older version stays as it was";
    const std::string v2 = slurp(s.root() + "/energy/devices_2026-11_2.csv");
    EXPECT_EQ(v2.substr(0, v2.find("\r\n")), "Date;main;hvac;oven");
    EXPECT_EQ(v2.substr(v2.find("\r\n") + 2, 16), "2026-11-02 00:00") << "from where the older version stopped";
    EXPECT_EQ(v1.substr(v1.rfind("\r\n", v1.size() - 3) + 2, 16), "2026-11-01 23:45") << "no period in both";
    EXPECT_TRUE(std::filesystem::exists(s.root() + "/energy/loads_2026-11_2.csv"));
    EXPECT_FALSE(std::filesystem::exists(s.root() + "/energy/groups_2026-11_2.csv")) << "the groups did not change";
    EXPECT_FALSE(std::filesystem::exists(s.root() + "/water/devices_2026-11_2.csv"));
    // October has ended: written under the old layout once, never again under the new one.
    {
        LegrandHistory old(legrand_config(s.root()), before, s.store->query(), s.store->registry(), s.paris, &s.store->state());
        ASSERT_TRUE(old.write_month(*s.paris.parse_iso("2026-10-01T00:00"), s.nov, s.nov - 1));
    }
    const std::string october = slurp(s.root() + "/energy/devices_2026-10.csv");
    const std::string october_totals = slurp(s.root() + "/overallTotal/overallTotalValues_2026-10.csv");
    auto again = h.write_month(*s.paris.parse_iso("2026-10-01T00:00"), s.nov, noon);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty()) << "a month written to its end is done";
    EXPECT_EQ(slurp(s.root() + "/energy/devices_2026-10.csv"), october);
    EXPECT_EQ(slurp(s.root() + "/overallTotal/overallTotalValues_2026-10.csv"), october_totals);
    EXPECT_FALSE(std::filesystem::exists(s.root() + "/energy/devices_2026-10_2.csv"));
}

TEST(LegrandHistory, UpdateWritesEachClosedPeriodAndThePreviousMonthFirst) {
    LegrandSite s;
    const model::SiteModel m = parse_model();
    LegrandHistory h(legrand_config(s.root()), m, s.store->query(), s.store->registry(), s.paris, &s.store->state());
    const int64_t t = s.nov + 3'600'000 + 60'000;  // 01:01 on Nov 1: 01:00 closed a minute ago (delay 1m)
    ASSERT_TRUE(h.update(t));
    EXPECT_TRUE(std::filesystem::exists(s.root() + "/energy/devices_2026-10.csv")) << "the month before, at the first call";
    // A month that ended without a single figure makes no files.
    auto september = h.write_month(*s.paris.parse_iso("2026-09-01T00:00"), *s.paris.parse_iso("2026-10-01T00:00"), t);
    ASSERT_TRUE(september);
    EXPECT_TRUE(september->empty());
    EXPECT_FALSE(std::filesystem::exists(s.root() + "/energy/devices_2026-09.csv"));
    std::string nov = slurp(s.root() + "/energy/devices_2026-11.csv");
    EXPECT_EQ(std::count(nov.begin(), nov.end(), '\n'), 1 + 4);
    const uint64_t files = h.files_written();
    ASSERT_TRUE(h.update(t + 10'000));
    EXPECT_EQ(h.files_written(), files) << "nothing closed since";
    ASSERT_TRUE(h.update(t + 15 * 60'000));
    nov = slurp(s.root() + "/energy/devices_2026-11.csv");
    EXPECT_EQ(std::count(nov.begin(), nov.end(), '\n'), 1 + 5);
    config::Diagnostics diags;
    toml::table bad = toml::parse("[legrand_history]\ndir = \"h\"\ndecimal = \",\"\ndelimiter = \",\"\nsample_rate = \"5m\"\n",
                                  std::string("/site.toml"));
    EXPECT_FALSE(parse_legrand_history(bad, "/site.toml", diags));
    ASSERT_FALSE(diags.empty());
    EXPECT_EQ(diags.front().to_string().rfind("/site.toml:5: ", 0), 0u) << diags.front().to_string();
    EXPECT_NE(diags.front().to_string().find("sample_rate"), std::string::npos)
        << diags.front().to_string();
    diags.clear();
    toml::table same = toml::parse("[legrand_history]\ndir = \"h\"\ndelimiter = \",\"\n", std::string("/site.toml"));
    parse_legrand_history(same, "/site.toml", diags);
    ASSERT_EQ(diags.size(), 1u) << "a comma as both separators";
    EXPECT_EQ(diags.front().line, 3u);
}

TEST(LegrandHistory, TheDataDownloadPerFluidWithItemsRatesAndCosts) {
    LegrandSite s;
    const model::SiteModel m = parse_model("", "currency = \"EUR\"\n");
    DownloadRequest req;
    req.from = s.nov;
    req.to = s.nov + 86'400'000;
    req.rate = model::Period::hour;
    std::vector<std::string> notes;
    const CsvDialect d{';', ',', "\r\n"};
    auto files = data_download(req, m, s.store->query(), s.store->registry(), s.paris, d, &notes);
    ASSERT_TRUE(files) << files.status().message();
    ASSERT_EQ(files->size(), 2u);
    EXPECT_EQ((*files)[0].name, "electricity_consumption.csv");
    EXPECT_EQ((*files)[1].name, "water_consumption.csv");
    EXPECT_EQ((*files)[0].bytes.substr(0, (*files)[0].bytes.find("\r\n", 20) + 2),
              "Date;main;hvac\r\n2026-11-01 00:00;1000;4002\r\n")
        << "an hour: 4 x 250 Wh, 4 x 1000,5 Wh";
    // Items and costs: without prices, no costs file, said.
    req.items = {"hvac"};
    req.costs = true;
    req.fluid = "electricity";
    files = data_download(req, m, s.store->query(), s.store->registry(), s.paris, d, &notes);
    ASSERT_TRUE(files) << files.status().message();
    ASSERT_EQ(files->size(), 1u);
    EXPECT_EQ((*files)[0].bytes.substr(0, (*files)[0].bytes.find("\r\n")), "Date;hvac");
    ASSERT_FALSE(notes.empty());
    EXPECT_NE(notes.back().find("electricity: no costs file"), std::string::npos) << notes.back();
    req.items = {"nope"};
    auto bad = data_download(req, m, s.store->query(), s.store->registry(), s.paris, d, &notes);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("'nope' is not a point"), std::string::npos) << bad.status().message();
}
