// at() specs, and timers across the DST changes of Europe/Paris.
#include "script/calendar.h"
#include "script_fixture.h"

namespace gridlet::script::test {

namespace {

TimeZone paris() { return *TimeZone::load("Europe/Paris"); }
int64_t utc(const char* iso) { return *TimeZone::utc().parse_iso(iso); }
std::string local(int64_t ms) { return paris().format_iso(ms); }

std::string next(const char* spec, const char* after_utc) {
    auto s = CalendarSpec::parse(spec);
    if (!s) return s.status().message();
    auto n = s->next_after(paris(), utc(after_utc));
    return n ? local(*n) : n.status().message();
}

TEST(CalendarSpec, ParsesDailyAndCron) {
    EXPECT_TRUE(CalendarSpec::parse("02:00"));
    EXPECT_TRUE(CalendarSpec::parse("7:30:15"));
    EXPECT_TRUE(CalendarSpec::parse("*/15 6-18 * * 1-5"));
    EXPECT_TRUE(CalendarSpec::parse("0 0 1,15 * *"));
    EXPECT_FALSE(CalendarSpec::parse("25:00"));
    EXPECT_FALSE(CalendarSpec::parse("0 2 * *"));
    EXPECT_FALSE(CalendarSpec::parse("61 2 * * *"));
    EXPECT_NE(CalendarSpec::parse("0 24 * * *").status().message().find("hour '24' out of range 0..23"), std::string::npos);
}

TEST(CalendarSpec, DailyAndCronNextTimes) {
    EXPECT_EQ(next("02:00", "2024-01-10T00:30:00Z"), "2024-01-10T02:00:00+01:00");
    EXPECT_EQ(next("02:00", "2024-01-10T01:00:00Z"), "2024-01-11T02:00:00+01:00");  // exactly at: next day
    EXPECT_EQ(next("0 7 * * 1-5", "2024-01-12T07:00:00Z"), "2024-01-15T07:00:00+01:00");  // Fri -> Mon
    EXPECT_EQ(next("0 0 1 * *", "2024-01-12T07:00:00Z"), "2024-02-01T00:00:00+01:00");
    EXPECT_EQ(next("0 0 29 2 *", "2025-01-01T00:00:00Z"), "2028-02-29T00:00:00+01:00");
    EXPECT_NE(next("0 0 31 2 *", "2025-01-01T00:00:00Z").find("never fires"), std::string::npos);
}

TEST(CalendarSpec, SpringGapFiresOnceAtTheEndOfTheGap) {
    // 2024-03-31: 02:00 CET -> 03:00 CEST. 02:30 does not exist.
    EXPECT_EQ(next("02:30", "2024-03-30T23:00:00Z"), "2024-03-31T03:00:00+02:00");
    EXPECT_EQ(next("02:30", "2024-03-31T01:00:00Z"), "2024-04-01T02:30:00+02:00");
    EXPECT_EQ(next("03:00", "2024-03-30T23:00:00Z"), "2024-03-31T03:00:00+02:00");
}

TEST(CalendarSpec, AutumnFoldFixedTimeFiresOnce) {
    // 2024-10-27: 03:00 CEST -> 02:00 CET. 02:30 happens twice.
    EXPECT_EQ(next("02:30", "2024-10-26T23:00:00Z"), "2024-10-27T02:30:00+02:00");
    EXPECT_EQ(next("02:30", "2024-10-27T00:30:00Z"), "2024-10-28T02:30:00+01:00");
}

TEST(CalendarSpec, AutumnFoldHourlyFiresInBothHours) {
    EXPECT_EQ(next("30 * * * *", "2024-10-27T00:30:00Z"), "2024-10-27T02:30:00+01:00");
}

class DstTimerTest : public ScriptTest {};

TEST_F(DstTimerTest, DailyTimerAcrossBothChangesOfTheYear) {
    make_host(utc("2024-03-29T12:00:00Z"), "Europe/Paris");
    load(rule("r", R"(
        local fired = {}
        gridlet.at("02:30", function(now) fired[#fired + 1] = os.date("%m-%d %H:%M %z", now / 1000); gridlet.state.fired = fired end)
        gridlet.at("0 * * * *", function() gridlet.state.hourly = (gridlet.state.hourly or 0) + 1 end)
    )"));
    advance(4 * 86'400'000LL);  // to 04-02 12:00 UTC
    EXPECT_EQ(state("r", "fired"), R"(["03-30 02:30 +0100","03-31 03:00 +0200","04-01 02:30 +0200","04-02 02:30 +0200"])");
    // 96 real hours: each ends on a local hh:00 (02:00 on 03-31 does not
    // exist; it maps to 03:00, which fires once).
    EXPECT_EQ(state("r", "hourly"), "96");

    make_host(utc("2024-10-26T12:00:00Z"), "Europe/Paris");
    load(rule("r2", R"(
        local fired = {}
        gridlet.at("02:30", function(now) fired[#fired + 1] = os.date("%m-%d %H:%M %z", now / 1000); gridlet.state.fired = fired end)
        gridlet.at("0 * * * *", function() gridlet.state.hourly = (gridlet.state.hourly or 0) + 1 end)
    )"));
    advance(2 * 86'400'000LL);
    EXPECT_EQ(state("r2", "fired"), R"(["10-27 02:30 +0200","10-28 02:30 +0100"])");
    EXPECT_EQ(state("r2", "hourly"), "48");  // 02:00 happens twice and fires twice
}

TEST_F(DstTimerTest, EveryIsRealTimeAcrossDstAndClockSteps) {
    make_host(utc("2024-03-31T00:30:00Z"), "Europe/Paris");
    load(rule("r", "gridlet.every('15m', function() gridlet.state.n = (gridlet.state.n or 0) + 1 end)"));
    advance(3'600'000);
    EXPECT_EQ(state("r", "n"), "4");
    host_->manual_clock().step_wall(-3'600'000);  // wall clock steps back an hour
    advance(3'600'000);
    EXPECT_EQ(state("r", "n"), "8");
}

TEST_F(DstTimerTest, OsDateAndTimeUseTheSiteZone) {
    make_host(utc("2024-07-01T10:00:00Z"), "Europe/Paris");
    load(rule("r", R"(
        local t = os.date("*t")
        gridlet.state.v = {os.date("%Y-%m-%d %H:%M:%S"), os.date("!%H:%M"), t.hour, t.isdst, t.wday,
                           os.time{year = 2024, month = 7, day = 1, hour = 12, min = 0}}
    )"));
    EXPECT_EQ(state("r", "v"), R"(["2024-07-01 12:00:00","10:00",12,true,2,1719828000])");
}

}  // namespace

}  // namespace gridlet::script::test
