// The export schedule (export/export_scheduler.h): each period written once,
// across restarts; catch-up after downtime, bounded; a folder that cannot be
// written retried, alarmed after 3 failures and cleared by the next success.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <toml++/toml.h>

#include "alarm/alarm_table.h"
#include "export/export_job.h"
#include "export/export_scheduler.h"
#include "store/store.h"
#include "unit/store/test_util.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

std::vector<ExportConfig> exports(const std::string& dir, const std::string& extra = "") {
    config::Diagnostics diags;
    const std::string text = "[[exports]]\nname = \"x\"\nformat = \"socomec_csv\"\nstep = \"1m\"\nevery = \"10m\"\n"
                             "server_name = \"srv\"\ndelay = \"30s\"\ndir = \"" + dir + "\"\n" + extra +
                             "[[exports.variables]]\nseries = \"m/p\"\n";
    toml::table root = toml::parse(text, std::string("/site.toml"));
    model::SiteModel m;
    auto e = parse_exports(root, "/site.toml", "acme", m, diags);
    EXPECT_TRUE(diags.empty()) << diags.front().to_string();
    return e;
}

std::set<std::string> files_in(const std::string& dir) {
    std::set<std::string> out;
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

constexpr int64_t kMin = 60'000;

struct Site {
    TempDir dir;
    std::unique_ptr<Store> store;
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    int64_t t0 = *paris.parse_iso("2024-05-02T10:00");
    Site() {
        store = std::move(Store::open(test_options(dir.path())).value());
        const uint32_t id = *store->registry().intern(meta("m/p"));
        std::vector<gl_sample> b;
        for (int i = 0; i < 24 * 60; ++i) b.push_back(gs(id, t0 + i * kMin, i));
        EXPECT_TRUE(store->append(b));
    }
    std::string out() const { return (dir.path() / "out").string(); }
};

}  // namespace

TEST(ExportScheduler, EveryPeriodIsWrittenOnceAcrossRestarts) {
    Site s;
    alarm::MemoryPersistence mem;
    alarm::AlarmTable alarms(mem);
    ASSERT_TRUE(alarms.load(s.t0));
    {
        ExportScheduler sch(exports(s.out()), s.store->query(), s.store->registry(), s.store->state(), s.paris, &alarms);
        ASSERT_TRUE(sch.start(s.t0 + 5 * kMin));  // first start: from the period in progress (10:00)
        sch.poll(s.t0 + 10 * kMin);               // 10:10: not due before its delay
        EXPECT_TRUE(files_in(s.out()).empty());
        sch.poll(s.t0 + 10 * kMin + 30'000);
        EXPECT_EQ(files_in(s.out()), (std::set<std::string>{"acme_srv_m_Avg_2024-05-02_10-10-00.csv"}));
        sch.poll(s.t0 + 11 * kMin);
        EXPECT_EQ(files_in(s.out()).size(), 1u);
        EXPECT_EQ(sch.counters().files, 1u);
    }
    // Stopped at 10:11, started again at 10:47: the three periods missed, once each.
    {
        ExportScheduler sch(exports(s.out()), s.store->query(), s.store->registry(), s.store->state(), s.paris, &alarms);
        ASSERT_TRUE(sch.start(s.t0 + 47 * kMin));
        EXPECT_EQ(*sch.delivered_until("x"), s.t0 + 10 * kMin);
        sch.poll(s.t0 + 47 * kMin);
        EXPECT_EQ(files_in(s.out()),
                  (std::set<std::string>{"acme_srv_m_Avg_2024-05-02_10-10-00.csv", "acme_srv_m_Avg_2024-05-02_10-20-00.csv",
                                         "acme_srv_m_Avg_2024-05-02_10-30-00.csv",
                                         "acme_srv_m_Avg_2024-05-02_10-40-00.csv"}));
        EXPECT_EQ(sch.counters().files, 3u);
        EXPECT_EQ(sch.counters().behind, 0u);
    }
    // A crash after a file was written but before its period was recorded
    // writes it again: the same name, the same bytes, still one file.
    const std::string one = s.out() + "/acme_srv_m_Avg_2024-05-02_10-40-00.csv";
    std::ifstream f(one, std::ios::binary);
    const std::string before((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_TRUE(s.store->state().put(kExportStateNamespace, "x", std::to_string(s.t0 + 30 * kMin)));
    {
        ExportScheduler sch(exports(s.out()), s.store->query(), s.store->registry(), s.store->state(), s.paris, &alarms);
        ASSERT_TRUE(sch.start(s.t0 + 48 * kMin));
        sch.poll(s.t0 + 48 * kMin);
        EXPECT_EQ(files_in(s.out()).size(), 4u);
        std::ifstream g(one, std::ios::binary);
        EXPECT_EQ(std::string((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>()), before);
    }
    EXPECT_EQ(alarms.active_count(), 0u);
}

TEST(ExportScheduler, CatchUpAfterLongDowntimeIsBounded) {
    Site s;
    ASSERT_TRUE(s.store->state().put(kExportStateNamespace, "x", std::to_string(s.t0)));
    ExportScheduler sch(exports(s.out(), "catch_up = \"1h\"\n"), s.store->query(), s.store->registry(),
                        s.store->state(), s.paris, nullptr);
    ASSERT_TRUE(sch.start(s.t0 + 5 * 60 * kMin));
    sch.poll(s.t0 + 5 * 60 * kMin + 30'000);  // 15:00:30: the hour before is written, the rest skipped
    EXPECT_EQ(files_in(s.out()).size(), 6u);
    EXPECT_EQ(sch.counters().skipped_periods, 24u);
    EXPECT_TRUE(files_in(s.out()).count("acme_srv_m_Avg_2024-05-02_15-00-00.csv"));
    EXPECT_TRUE(files_in(s.out()).count("acme_srv_m_Avg_2024-05-02_14-10-00.csv"));
}

// The site's time zone changed from Paris to Honolulu: the day that ended
// at Paris midnight is not a Honolulu day; the Honolulu day holding that
// instant is written whole, not skipped.
TEST(ExportScheduler, PeriodsThatMovedWithTheTimeZoneAreNotSkipped) {
    Site s;
    const TimeZone honolulu = *TimeZone::load("Pacific/Honolulu");
    const int64_t paris_midnight = *s.paris.parse_iso("2024-05-03T00:00");  // 2024-05-02T12:00-10:00
    ASSERT_TRUE(s.store->state().put(kExportStateNamespace, "x", std::to_string(paris_midnight)));
    auto daily = exports(s.out());
    daily[0].every_ms = 86'400'000;  // one file a day, hourly rows
    daily[0].step_ms = 3'600'000;
    ExportScheduler sch(daily, s.store->query(), s.store->registry(), s.store->state(), honolulu, nullptr);
    ASSERT_TRUE(sch.start(paris_midnight));
    const int64_t may2 = *honolulu.parse_iso("2024-05-02T00:00");
    EXPECT_EQ(sch.delivered_until("x"), may2) << "from the start of the Honolulu day holding it";
    sch.poll(*honolulu.parse_iso("2024-05-03T00:01"));
    EXPECT_TRUE(files_in(s.out()).count("acme_srv_m_Avg_2024-05-03_00-00-00.csv")) << "May 2 in Honolulu, whole";
}

TEST(ExportScheduler, AFolderThatCannotBeWrittenIsRetriedAlarmedAndCleared) {
    Site s;
    alarm::MemoryPersistence mem;
    alarm::AlarmTable alarms(mem);
    ASSERT_TRUE(alarms.load(s.t0));
    // The folder's place is taken by a file: it cannot be created.
    std::ofstream(s.out()) << "not a folder";
    ExportScheduler sch(exports(s.out()), s.store->query(), s.store->registry(), s.store->state(), s.paris, &alarms);
    ASSERT_TRUE(sch.start(s.t0));
    int64_t now = s.t0 + 31 * kMin;  // three periods due
    sch.poll(now);
    EXPECT_EQ(sch.counters().failures, 1u);
    sch.poll(now + 5'000);  // within the backoff: no attempt
    EXPECT_EQ(sch.counters().failures, 1u);
    sch.poll(now += 10'000);
    sch.poll(now += 20'000);
    EXPECT_EQ(sch.counters().failures, 3u);
    EXPECT_TRUE(alarms.active("system/export_failed|x"));
    EXPECT_EQ(sch.counters().behind, 3u);
    std::filesystem::remove(s.out());
    sch.poll(now += 40'000);
    EXPECT_EQ(files_in(s.out()).size(), 3u);  // nothing lost: the three periods, once each
    EXPECT_FALSE(alarms.active("system/export_failed|x"));
    EXPECT_EQ(sch.counters().behind, 0u);
}

// A daily export at 00:30 local (the DST case): on the day of 23
// hours (2026-03-29) and the day of 25 hours (2026-10-25) of Europe/Paris,
// each day's file is written once, at 00:30 local of the next day, holding
// the local day's 23 or 25 hourly rows; a weekly `at` holds a week of
// daily files until Monday 06:00.
TEST(ExportScheduler, ADailyExportAtHalfPastMidnightRunsOnceADayAcrossBothDstDays) {
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    for (const char* change_day : {"2026-03-29", "2026-10-25"}) {
        TempDir dir;
        auto store = std::move(Store::open(test_options(dir.path())).value());
        const int64_t day = *paris.parse_iso(change_day);
        const uint32_t id = *store->registry().intern(meta("m/p"));
        std::vector<gl_sample> b;
        for (int64_t t = day - 86'400'000; t < day + 3 * 86'400'000; t += 600'000) b.push_back(gs(id, t, 1.0));
        ASSERT_TRUE(store->append(b));
        const std::string out = (dir.path() / "out").string();
        const auto ex = exports(out, "at = \"00:30\"\n");
        ExportConfig daily = ex[0];
        daily.step_ms = 3'600'000;
        daily.every_ms = 86'400'000;
        ExportScheduler sch({daily}, store->query(), store->registry(), store->state(), paris, nullptr);
        ASSERT_TRUE(sch.start(day - 3'600'000));  // 23:00 the evening before: the day before is in progress
        std::map<std::string, int64_t> written_at;
        for (int64_t now = day - 3'600'000; now < paris.next_midnight(paris.next_midnight(day)) + 3'600'000; now += 60'000) {
            sch.poll(now);
            for (const std::string& f : files_in(out))
                if (!written_at.count(f)) written_at[f] = now;
        }
        ASSERT_EQ(written_at.size(), 3u) << change_day;
        EXPECT_EQ(sch.counters().files, 3u) << "once each";
        for (const auto& [name, at] : written_at) {
            const CivilTime local = paris.to_local(at);
            EXPECT_EQ(local.hour * 60 + local.minute, 30) << name << " written at " << paris.format_iso(at);
        }
        // The change day's file: named by its end (local midnight after it), 23 or 25 rows.
        const std::string next = paris.format_iso(paris.next_midnight(day)).substr(0, 10);
        const std::string name = "acme_srv_m_Avg_" + next + "_00-00-00.csv";
        ASSERT_TRUE(written_at.count(name)) << name;
        auto f = build_export_file(daily, store->query(), store->registry(), day, paris.next_midnight(day), paris);
        ASSERT_TRUE(f);
        EXPECT_EQ(f->data_rows, std::string(change_day) == "2026-03-29" ? 23u : 25u);
    }
    // Weekly: "mon 06:00".
    ExportConfig weekly = exports("/x", "at = \"mon 06:00\"\n")[0];
    const int64_t wed = *paris.parse_iso("2026-10-21T10:00");
    EXPECT_EQ(paris.format_iso(due_at(weekly, wed, paris)), "2026-10-26T06:00:00+01:00");
    EXPECT_EQ(paris.format_iso(due_at(weekly, *paris.parse_iso("2026-10-26T05:59"), paris)), "2026-10-26T06:00:00+01:00");
    EXPECT_EQ(paris.format_iso(due_at(weekly, *paris.parse_iso("2026-10-26T06:00"), paris)), "2026-11-02T06:00:00+01:00")
        << "the delay (30 s) puts it past 06:00";
    // An `at` in the spring gap is the end of the gap.
    ExportConfig gap = exports("/x", "at = \"02:30\"\n")[0];
    EXPECT_EQ(paris.format_iso(due_at(gap, *paris.parse_iso("2026-03-29T00:00"), paris)), "2026-03-29T03:00:00+02:00");
    for (const char* badly : {"24:00", "0:30", "noon", "fri 7:00", "someday 06:00"}) {
        EXPECT_FALSE(parse_at(badly)) << badly;
    }
    EXPECT_EQ(*parse_at("Sun 23:59"), (std::pair<int, int>{0, 23 * 60 + 59}));
}
