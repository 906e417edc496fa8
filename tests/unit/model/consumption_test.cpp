// Consumption of the site model (model/consumption.h) from synthetic counters
// in a real store: the Socomec weekly table rebuilt (its totals and its
// averages truncated to 3 decimals), a hierarchy's non-measured point
// (negative kept and flagged, missing when a child is), groups counted fully
// in each, excluded points, gas in m³ and equivalent kWh, costs, a meter
// replaced mid-month, and the 23- and 25-hour days of Europe/Paris.
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include "model/consumption.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::model;
using gridlet::store::test::TempDir;

namespace {

constexpr int64_t kHour = 3'600'000;

class ConsumptionTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = store::Store::open(store::test::test_options(dir_.path()));
        ASSERT_TRUE(s) << s.status().message();
        store_ = std::move(*s);
        zone_ = *TimeZone::load("Europe/Paris");
    }
    int64_t local(const char* text) { return *zone_.parse_iso(text); }
    uint32_t series(const std::string& name, const std::string& unit = "kWh") {
        SeriesMeta m;
        m.name = name;
        m.kind = SeriesKind::counter;
        m.unit = unit;
        return *store_->registry().intern(m);
    }
    void reading(uint32_t id, int64_t ts, double value) {
        ASSERT_TRUE(store_->append(std::vector<gl_sample>{store::test::gs(id, ts, value)}));
    }
    // Hourly readings from `from` to `to` (both included) rising `per_hour`.
    double hourly(uint32_t id, int64_t from, int64_t to, double start, double per_hour) {
        double v = start;
        std::vector<gl_sample> b;
        for (int64_t t = from; t <= to; t += kHour, v += per_hour) b.push_back(store::test::gs(id, t, v));
        EXPECT_TRUE(store_->append(b));
        return v - per_hour;
    }
    SiteModel model(const std::string& text) {
        toml::table root = toml::parse(text, std::string("site.toml"));
        config::Diagnostics diags;
        SiteModel m = parse_site_model(root, "site.toml", "Europe/Paris", diags);
        EXPECT_TRUE(diags.empty()) << diags.front().to_string();
        return m;
    }
    ConsumptionTable table(const SiteModel& m, ConsumptionRequest r) {
        ConsumptionEngine e(m, store_->query(), store_->registry(), zone_);
        auto t = e.table(r);
        EXPECT_TRUE(t) << t.status().message();
        return t ? *t : ConsumptionTable{};
    }
    static std::string amount(const std::optional<double>& v) { return v ? format_amount(*v) : "-"; }
    size_t column(const ConsumptionTable& t, const std::string& name) {
        for (size_t i = 0; i < t.columns.size(); ++i)
            if (t.columns[i].name == name) return i;
        ADD_FAILURE() << "no column " << name;
        return 0;
    }

    TempDir dir_;
    std::unique_ptr<store::Store> store_;
    TimeZone zone_;
};

}  // namespace

TEST(ConsumptionFormat, SocomecAveragesAreTruncatedToThreeDecimals) {
    EXPECT_EQ(format_amount(truncate3(1887.71 / 7)), "269.672");
    EXPECT_EQ(format_amount(truncate3(359.0 / 7)), "51.285");
    EXPECT_EQ(format_amount(truncate3(178.0 / 7)), "25.428");
    EXPECT_EQ(format_amount(truncate3(147.0 / 7)), "21") << "trailing zeros dropped";
    EXPECT_EQ(format_amount(2571.7100000001), "2571.71");
    EXPECT_EQ(format_amount(-0.0001), "0");
}

// Socomec WEBVIEW §4.1: "Daily consumption per load, Electricity", the week
// of 2019-06-10, four areas; rebuilt from counters read at each local
// midnight: every day, the Total and the truncated Average as printed.
TEST_F(ConsumptionTest, TheSocomecWeeklyTableRebuiltFromCounters) {
    const std::vector<std::string> areas = {"basement", "ground_floor", "1st_floor", "2nd_floor"};
    const double days[7][4] = {{344.01, 36, 14, 10},  {320.33, 61, 32, 27}, {326.68, 61, 38, 30}, {326.79, 64, 34, 32},
                               {308.12, 59, 32, 27},  {129.25, 39, 14, 11}, {132.53, 39, 14, 10}};
    std::string text = "[model]\n";
    for (const std::string& a : areas) text += "[[model.areas]]\nname = \"" + a + "\"\nkind = \"floor\"\n";
    for (size_t k = 0; k < areas.size(); ++k) {
        text += "[[model.points]]\nname = \"m" + std::to_string(k) + "\"\nenergy = \"m" + std::to_string(k) + "/kwh\"\narea = \"" +
                areas[k] + "\"\n";
        const uint32_t id = series("m" + std::to_string(k) + "/kwh");
        double v = 10000;
        int64_t t = local("2019-06-10");
        for (int d = 0; d <= 7; ++d) {
            reading(id, t, v);
            if (d < 7) v += days[d][k];
            t = zone_.next_midnight(t);
        }
    }
    const SiteModel m = model(text);
    ConsumptionRequest r;
    r.by = Breakdown::area;
    r.period = Period::day;
    r.from = local("2019-06-10");
    r.to = local("2019-06-17");
    const ConsumptionTable t = table(m, r);
    ASSERT_EQ(t.rows.size(), 7u);
    ASSERT_EQ(t.columns.size(), 5u);
    EXPECT_EQ(t.columns[1].name, "basement");
    const char* totals[] = {"2571.71", "1887.71", "359", "178", "147"};
    const char* averages[] = {"367.387", "269.672", "51.285", "25.428", "21"};
    const char* first_day[] = {"404.01", "344.01", "36", "14", "10"};
    const char* saturday[] = {"193.25", "129.25", "39", "14", "11"};
    for (size_t c = 0; c < 5; ++c) {
        EXPECT_EQ(amount(column_total(t, c)), totals[c]) << t.columns[c].name;
        EXPECT_EQ(amount(column_average(t, c)), averages[c]) << t.columns[c].name;
        EXPECT_EQ(amount(t.rows[0][c].value), first_day[c]) << t.columns[c].name;
        EXPECT_EQ(amount(t.rows[5][c].value), saturday[c]) << t.columns[c].name;
    }
    EXPECT_EQ(t.starts[0], local("2019-06-10"));
    EXPECT_TRUE(t.notes.empty());
}

// A main meter feeding two sub-meters: the non-measured point is the main
// less both, per day; below zero it is kept and flagged; a day a sub-meter
// has no data it is missing, never guessed. The main meter is excluded
// from totals (the grand total is its children), and still in the details.
TEST_F(ConsumptionTest, ANonMeasuredPointIsTheParentLessItsChildrenPerPeriod) {
    const uint32_t main = series("main/kwh"), a = series("a/kwh"), b = series("b/kwh");
    const int64_t d1 = local("2026-06-01"), d2 = local("2026-06-02"), d3 = local("2026-06-03"), d4 = local("2026-06-04");
    // Hourly: main 100/day on days 1-3; a 40 then 60 then 30; b 50 a day, silent on day 3 (and drawing nothing).
    double vm = hourly(main, d1, d4, 0, 100.0 / 24);
    (void)vm;
    double va = hourly(a, d1, d2 - kHour, 0, 40.0 / 24);
    va = hourly(a, d2, d3 - kHour, va + 40.0 / 24, 60.0 / 24);
    hourly(a, d3, d4, va + 60.0 / 24, 30.0 / 24);
    hourly(b, d1, d3 - kHour, 0, 50.0 / 24);
    reading(b, d4, 100 + 50.0 / 24 * 0);  // day 3 off: the same reading at its end as at day 2's last hour + 1 h
    const SiteModel m = model(R"([model]
[[model.points]]
name = "main"
energy = "main/kwh"
exclude_from_totals = true
[[model.points]]
name = "a"
energy = "a/kwh"
[[model.points]]
name = "b"
energy = "b/kwh"
[[model.hierarchies]]
name = "elec"
[[model.hierarchies.nodes]]
name = "building"
meter = "main"
points = ["a", "b"]
)");
    ConsumptionRequest r;
    r.by = Breakdown::node;
    r.from = d1;
    r.to = d4;
    const ConsumptionTable t = table(m, r);
    ASSERT_EQ(t.rows.size(), 3u);
    const size_t nmp = column(t, "building.not_measured");
    EXPECT_EQ(amount(t.rows[0][0].value), "100") << "the node's consumption is its meter";
    EXPECT_EQ(amount(t.rows[0][nmp].value), "10");
    EXPECT_FALSE(t.rows[0][nmp].negative);
    EXPECT_EQ(amount(t.rows[1][nmp].value), "-10") << "kept, not clamped";
    EXPECT_TRUE(t.rows[1][nmp].negative) << "and flagged";
    EXPECT_FALSE(t.rows[2][nmp].value) << "b has no data on day 3: missing, never guessed";
    EXPECT_GE(t.rows[2][nmp].missing, 1);

    r.by = Breakdown::total;
    const ConsumptionTable total = table(m, r);
    EXPECT_EQ(amount(total.rows[0][0].value), "90") << "a + b: the excluded main meter is not added";
    r.by = Breakdown::point;
    const ConsumptionTable details = table(m, r);
    const size_t main_col = column(details, "main");
    EXPECT_EQ(amount(details.rows[0][main_col].value), "100") << "an excluded point is in the details";
    EXPECT_NE(details.columns[main_col].label.find("excluded from totals"), std::string::npos);
}

// A point in two groups counts fully in each (Legrand §5.3): the groups do
// not add up to the total. A virtual point is the sum of its terms.
TEST_F(ConsumptionTest, APointInTwoGroupsCountsFullyInEachAndAVirtualPointAdds) {
    const uint32_t l = series("l/kwh", "Wh"), s = series("s/kwh");
    const int64_t d1 = local("2026-06-01"), d2 = local("2026-06-02");
    hourly(l, d1, d2, 0, 1000);  // Wh: 24 kWh a day
    hourly(s, d1, d2, 0, 2);     // 48 kWh
    const SiteModel m = model(R"([model]
[[model.groups]]
name = "north"
[[model.groups]]
name = "office"
[[model.points]]
name = "lights"
energy = "l/kwh"
groups = ["north", "office"]
load = "lighting"
[[model.points]]
name = "servers"
energy = "s/kwh"
groups = ["office"]
[[model.virtual]]
name = "both"
plus = ["lights", "servers"]
exclude_from_totals = true
)");
    ConsumptionRequest r;
    r.by = Breakdown::group;
    r.from = d1;
    r.to = d2;
    ConsumptionTable t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][0].value), "72") << "the total: lights and servers (the virtual one excluded)";
    EXPECT_EQ(amount(t.rows[0][column(t, "north")].value), "24") << "Wh converted to the fluid's kWh";
    EXPECT_EQ(amount(t.rows[0][column(t, "office")].value), "72");
    r.by = Breakdown::load;
    t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][column(t, "lighting")].value), "24");
    EXPECT_EQ(amount(t.rows[0][column(t, "others")].value), "48") << "a point with no load type is in others";
    r.by = Breakdown::point;
    t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][column(t, "both")].value), "72");
}

// Gas in m³, as equivalent kWh with the supplier's factor, and priced;
// by fluid, each in its own unit and, with costs, a total.
TEST_F(ConsumptionTest, GasInCubicMetresEquivalentKwhAndCosts) {
    const uint32_t g = series("gas/m3", "m3"), e = series("e/kwh");
    const int64_t d1 = local("2026-01-05"), d2 = local("2026-01-06");
    hourly(g, d1, d2, 100, 10.0 / 24);
    hourly(e, d1, d2, 0, 5);
    const SiteModel m = model(R"([model]
currency = "EUR"
[[model.fluids]]
name = "gas"
kwh_per_unit = 11.2
price = 0.9
[[model.fluids]]
name = "electricity"
price = 0.2
[[model.points]]
name = "boiler"
fluid = "gas"
energy = "gas/m3"
[[model.points]]
name = "site"
energy = "e/kwh"
)");
    ConsumptionRequest r;
    r.fluid = "gas";
    r.from = d1;
    r.to = d2;
    EXPECT_EQ(amount(table(m, r).rows[0][0].value), "10");
    r.equivalent_kwh = true;
    ConsumptionTable t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][0].value), "112");
    EXPECT_EQ(t.columns[0].unit, "kWh");
    r.equivalent_kwh = false;
    r.cost = true;
    t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][0].value), "9");
    EXPECT_EQ(t.columns[0].unit, "EUR");
    r.by = Breakdown::fluid;
    t = table(m, r);
    EXPECT_EQ(amount(t.rows[0][0].value), "33") << "9 EUR of gas + 24 EUR of electricity";
    // Days without data cost nothing known, not 0 (the retest found "0*"):
    // the total is empty, as the fluids' cells are.
    r.from = d1 - 2 * 86'400'000;
    r.to = d2;
    t = table(m, r);
    ASSERT_EQ(t.rows.size(), 3u);
    EXPECT_FALSE(t.rows[0][0].value) << "no fluid has data on the first day: " << amount(t.rows[0][0].value);
    EXPECT_FALSE(t.rows[0][column(t, "gas")].value);
    EXPECT_GT(t.rows[0][0].missing, 0);
    EXPECT_EQ(amount(t.rows[2][0].value), "33");
    EXPECT_EQ(t.rows[2][0].missing, 0);
    r.from = d1;
    r.cost = false;
    t = table(m, r);
    EXPECT_FALSE(t.rows[0][0].value) << "kWh and m³ do not add";
    EXPECT_EQ(amount(t.rows[0][column(t, "gas")].value), "10");
    EXPECT_EQ(amount(t.rows[0][column(t, "gas_kwh")].value), "112");
    EXPECT_EQ(amount(t.rows[0][column(t, "electricity")].value), "120");
    // A cost without a price is refused, saying so.
    const SiteModel unpriced = model("[model]\n[[model.points]]\nname = \"site\"\nenergy = \"e/kwh\"\n");
    ConsumptionEngine engine(unpriced, store_->query(), store_->registry(), zone_);
    ConsumptionRequest c;
    c.cost = true;
    c.from = d1;
    c.to = d2;
    auto refused = engine.table(c);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.status().message().find("has no price"), std::string::npos);
}

// Time-of-use tariffs and a price change on 1 July (neither manual has
// them): before, 0.20 a kWh; from then 0.10 at night (22:00-06:00, across
// midnight), 0.30 on weekday peak hours (08:00-20:00), 0.25 otherwise. Each
// hour is priced by the tariff in force at its start; days add them up.
TEST_F(ConsumptionTest, CostsByTimeOfUseAcrossATariffChange) {
    const uint32_t id = series("e/kwh");
    hourly(id, local("2026-06-29"), local("2026-07-06"), 0, 1);
    const SiteModel m = model(R"([model]
currency = "EUR"
[[model.tariffs]]
name = "before_july"
price = 0.20
valid_to = "2026-07-01"
[[model.tariffs]]
name = "night"
price = 0.10
from = "22:00"
to = "06:00"
valid_from = "2026-07-01"
[[model.tariffs]]
name = "peak"
price = 0.30
days = "mon-fri"
from = "08:00"
to = "20:00"
valid_from = "2026-07-01"
[[model.tariffs]]
name = "base"
price = 0.25
valid_from = "2026-07-01"
[[model.points]]
name = "site"
energy = "e/kwh"
)");
    ConsumptionRequest r;
    r.cost = true;
    r.from = local("2026-06-30");
    r.to = local("2026-07-05");
    const ConsumptionTable t = table(m, r);
    ASSERT_EQ(t.rows.size(), 5u);
    EXPECT_EQ(t.columns[0].unit, "EUR");
    EXPECT_EQ(amount(t.rows[0][0].value), "4.8") << "Tue 30 June: 24 h at 0.20";
    EXPECT_EQ(amount(t.rows[1][0].value), "5.4") << "Wed 1 July: 8 h night, 4 h base, 12 h peak";
    EXPECT_EQ(amount(t.rows[4][0].value), "4.8") << "Sat 4 July: 8 h night, 16 h base, no peak";
    EXPECT_EQ(*price_at(m, "electricity", local("2026-07-02T23:30"), zone_), 0.10);
    EXPECT_EQ(*price_at(m, "electricity", local("2026-07-03T05:59"), zone_), 0.10) << "the night that began on Thursday";
    EXPECT_EQ(*price_at(m, "electricity", local("2026-07-03T12:00"), zone_), 0.30);
    // A tariff off the hour (06:30-07:30) prices quarter hours; between
    // hourly readings most quarter hours have no interval of their own, and
    // that is no gap: a day with every reading is whole, not marked.
    const SiteModel off_hour = model("[model]\ncurrency = \"EUR\"\n[[model.fluids]]\nname = \"electricity\"\nprice = 0.2\n"
                                     "[[model.tariffs]]\nname = \"morning\"\nprice = 1.0\nfrom = \"06:30\"\nto = \"07:30\"\n"
                                     "[[model.points]]\nname = \"site\"\nenergy = \"e/kwh\"\n");
    r.from = local("2026-07-01");
    r.to = local("2026-07-02");
    const ConsumptionTable q = table(off_hour, r);
    ASSERT_EQ(q.rows.size(), 1u);
    EXPECT_EQ(q.rows[0][0].missing, 0) << "no gap";
    EXPECT_EQ(amount(q.rows[0][0].value), "5.6") << "the 07:00 hour (its interval starts in the morning tariff) at 1.0, 23 h at 0.2";
    EXPECT_FALSE(column_partial(q, 0));

    // A period no tariff covers, with no average price: said, not guessed.
    r.from = local("2026-07-06");
    r.to = local("2026-07-07");
    const SiteModel gap = model("[model]\ncurrency = \"EUR\"\n[[model.tariffs]]\nname = \"day\"\nprice = 0.2\nfrom = \"06:00\"\n"
                                "to = \"22:00\"\n[[model.points]]\nname = \"site\"\nenergy = \"e/kwh\"\n");
    ConsumptionEngine e(gap, store_->query(), store_->registry(), zone_);
    auto refused = e.table(r);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.status().message().find("no price for electricity at 2026-07-06T00:00:00+02:00"), std::string::npos)
        << refused.status().message();
}

// A meter replaced on 15 March at 10:00 by one already showing 20 kWh: each
// counts over its own time in service; the day of the change has both.
TEST_F(ConsumptionTest, AMeterReplacedMidMonthCountsEachOverItsService) {
    const uint32_t old_m = series("old/kwh"), new_m = series("new/kwh");
    const int64_t change = local("2026-03-15T10:00");
    hourly(old_m, local("2026-03-01"), change, 5000, 1);
    hourly(new_m, change, local("2026-04-01"), 20, 1);
    const SiteModel m = model(R"([model]
[[model.points]]
name = "servers"
energy_history = [ { series = "old/kwh", to = "2026-03-15 10:00" }, { series = "new/kwh", from = "2026-03-15 10:00" } ]
)");
    ConsumptionRequest r;
    r.from = local("2026-03-01");
    r.to = local("2026-04-01");
    r.period = Period::month;
    ConsumptionTable t = table(m, r);
    ASSERT_EQ(t.rows.size(), 1u);
    EXPECT_EQ(amount(t.rows[0][0].value), "743") << "31 days of 24 h less the spring hour: every hour once";
    r.period = Period::day;
    t = table(m, r);
    EXPECT_EQ(amount(t.rows[14][0].value), "24") << "10 h on the old meter, 14 on the new";
}

// The 23-hour and 25-hour days of Europe/Paris: local days and hours.
TEST_F(ConsumptionTest, TheShortAndLongDaysOfDaylightSavingTime) {
    const uint32_t id = series("e/kwh");
    hourly(id, local("2026-03-28"), local("2026-03-31"), 0, 1);
    hourly(id, local("2026-10-24"), local("2026-10-27"), 1000, 1);
    const SiteModel m = model("[model]\n[[model.points]]\nname = \"site\"\nenergy = \"e/kwh\"\n");
    ConsumptionRequest r;
    r.from = local("2026-03-29");
    r.to = local("2026-03-30");
    EXPECT_EQ(amount(table(m, r).rows[0][0].value), "23");
    r.from = local("2026-10-25");
    r.to = local("2026-10-26");
    EXPECT_EQ(amount(table(m, r).rows[0][0].value), "25");
    r.period = Period::hour;
    const ConsumptionTable hours = table(m, r);
    EXPECT_EQ(hours.rows.size(), 25u) << "the repeated hour twice";
    for (const auto& row : hours.rows) EXPECT_EQ(amount(row[0].value), "1");
}
