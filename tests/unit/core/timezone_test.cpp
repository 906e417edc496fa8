#include "core/timezone.h"

#include <gtest/gtest.h>

using namespace gridlet;

namespace {
constexpr int64_t kHour = 3600000;

int64_t utc(const char* iso) {
    auto r = TimeZone::utc().parse_iso(iso);
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? *r : 0;
}

TimeZone paris() {
    auto tz = TimeZone::load("Europe/Paris");
    EXPECT_TRUE(tz) << tz.status().to_string();
    return *tz;
}
}  // namespace

TEST(TimeZone, UnknownZoneIsAClearError) {
    auto tz = TimeZone::load("Europe/Atlantis");
    ASSERT_FALSE(tz);
    EXPECT_EQ(tz.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(tz.status().message().find("Europe/Atlantis"), std::string::npos);
    EXPECT_FALSE(TimeZone::load(""));
}

TEST(TimeZone, UtcRoundTrip) {
    TimeZone z = TimeZone::utc();
    EXPECT_EQ(utc("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(utc("2024-02-29T12:34:56.789Z"), 1709210096789);
    CivilTime c = z.to_local(1709210096789);
    EXPECT_EQ(c, (CivilTime{2024, 2, 29, 12, 34, 56, 789}));
    EXPECT_EQ(z.format_iso(1709210096789, true), "2024-02-29T12:34:56.789Z");
    EXPECT_EQ(z.format_iso(-1), "1969-12-31T23:59:59Z");
}

TEST(TimeZone, ParseOffsetsAndLocal) {
    TimeZone p = paris();
    EXPECT_EQ(*p.parse_iso("2024-01-15T10:00:00"), utc("2024-01-15T09:00:00Z"));
    EXPECT_EQ(*p.parse_iso("2024-07-15T10:00"), utc("2024-07-15T08:00:00Z"));
    EXPECT_EQ(*p.parse_iso("2024-07-15T10:00:00+05:30"), utc("2024-07-15T04:30:00Z"));
    EXPECT_EQ(*p.parse_iso("2024-07-15 10:00:00-0100"), utc("2024-07-15T11:00:00Z"));
    EXPECT_EQ(*p.parse_iso("2024-07-15"), utc("2024-07-14T22:00:00Z"));
    for (const char* bad : {"2024-13-01", "2024-02-30", "24-01-01", "2024-01-01T25:00", "2024-01-01T10:00+99:00",
                            "2024-01-01Tnoon", "yesterday"}) {
        auto r = p.parse_iso(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.status().message().find(bad), std::string::npos);
        }
    }
}

TEST(TimeZone, ParisOffsetsAcrossDst) {
    TimeZone p = paris();
    EXPECT_EQ(p.utc_offset_ms(utc("2024-03-31T00:59:59Z")), kHour);
    EXPECT_EQ(p.utc_offset_ms(utc("2024-03-31T01:00:00Z")), 2 * kHour);
    EXPECT_EQ(p.utc_offset_ms(utc("2024-10-27T00:59:59Z")), 2 * kHour);
    EXPECT_EQ(p.utc_offset_ms(utc("2024-10-27T01:00:00Z")), kHour);
    EXPECT_EQ(p.format_iso(utc("2024-03-31T01:00:00Z")), "2024-03-31T03:00:00+02:00");
    EXPECT_EQ(p.format_iso(utc("2024-03-31T00:59:59Z")), "2024-03-31T01:59:59+01:00");
}

TEST(TimeZone, ParisDaysAre23And25HoursAtDstChanges) {
    TimeZone p = paris();
    int64_t noon_spring = utc("2024-03-31T10:00:00Z");
    int64_t d0 = p.start_of_day(noon_spring);
    EXPECT_EQ(d0, utc("2024-03-30T23:00:00Z"));
    EXPECT_EQ(p.next_midnight(noon_spring) - d0, 23 * kHour);

    int64_t noon_autumn = utc("2024-10-27T10:00:00Z");
    int64_t d1 = p.start_of_day(noon_autumn);
    EXPECT_EQ(d1, utc("2024-10-26T22:00:00Z"));
    EXPECT_EQ(p.next_midnight(noon_autumn) - d1, 25 * kHour);

    // An ordinary day is 24 h, and next_midnight of a midnight is the next one.
    int64_t d2 = p.start_of_day(utc("2024-06-10T12:00:00Z"));
    EXPECT_EQ(p.next_midnight(d2) - d2, 24 * kHour);
    EXPECT_EQ(p.start_of_day(d2), d2);
    EXPECT_EQ(p.start_of_day(d2 - 1), d2 - 24 * kHour);
}

TEST(TimeZone, GapAndFoldResolution) {
    TimeZone p = paris();
    // 02:30 does not exist on 2024-03-31: the end of the gap (03:00 CEST).
    EXPECT_EQ(*p.from_local({2024, 3, 31, 2, 30, 0, 0}), utc("2024-03-31T01:00:00Z"));
    // 02:30 happens twice on 2024-10-27: the earlier one (CEST).
    EXPECT_EQ(*p.from_local({2024, 10, 27, 2, 30, 0, 0}), utc("2024-10-27T00:30:00Z"));
    EXPECT_FALSE(p.from_local({2024, 2, 30, 0, 0, 0, 0}));
}

TEST(TimeZone, WeekMonthYearStarts) {
    TimeZone p = paris();
    // Wednesday 2024-04-03: the ISO week starts Monday 2024-04-01 00:00 CEST.
    int64_t t = utc("2024-04-03T12:00:00Z");
    EXPECT_EQ(p.start_of(CalendarUnit::week, t), utc("2024-03-31T22:00:00Z"));
    EXPECT_EQ(p.next_start(CalendarUnit::week, t), utc("2024-04-07T22:00:00Z"));
    // The week holding the spring change is 167 h long.
    int64_t w = p.start_of(CalendarUnit::week, utc("2024-03-30T12:00:00Z"));
    EXPECT_EQ(w, utc("2024-03-24T23:00:00Z"));
    EXPECT_EQ(p.next_start(CalendarUnit::week, w) - w, 167 * kHour);
    // A Sunday belongs to the week of the Monday before it.
    EXPECT_EQ(p.start_of(CalendarUnit::week, utc("2024-04-07T12:00:00Z")), utc("2024-03-31T22:00:00Z"));

    EXPECT_EQ(p.start_of(CalendarUnit::month, t), utc("2024-03-31T22:00:00Z"));
    EXPECT_EQ(p.start_of(CalendarUnit::month, utc("2024-03-15T00:00:00Z")), utc("2024-02-29T23:00:00Z"));
    EXPECT_EQ(p.next_start(CalendarUnit::month, utc("2024-12-15T00:00:00Z")), utc("2024-12-31T23:00:00Z"));
    EXPECT_EQ(p.start_of(CalendarUnit::year, t), utc("2023-12-31T23:00:00Z"));
    EXPECT_EQ(p.next_start(CalendarUnit::year, t), utc("2024-12-31T23:00:00Z"));
    // Instants just before local midnight of Jan 1 belong to the old year.
    EXPECT_EQ(p.start_of(CalendarUnit::year, utc("2024-12-31T22:59:59Z")), utc("2023-12-31T23:00:00Z"));
}

TEST(TimeZone, MidnightInAGap) {
    // America/Santiago skipped local 2022-09-11 00:00..01:00: the day starts at 01:00 local.
    auto tz = TimeZone::load("America/Santiago");
    ASSERT_TRUE(tz) << tz.status().to_string();
    int64_t noon = utc("2022-09-11T16:00:00Z");
    int64_t start = tz->start_of_day(noon);
    EXPECT_EQ(start, utc("2022-09-11T04:00:00Z"));
    EXPECT_EQ(tz->to_local(start).hour, 1);
    EXPECT_EQ(tz->next_midnight(noon) - start, 23 * kHour);
}

TEST(TimeZone, CalendarUnitNames) {
    EXPECT_EQ(*parse_calendar_unit("week"), CalendarUnit::week);
    EXPECT_EQ(*parse_calendar_unit("mo"), CalendarUnit::month);
    EXPECT_FALSE(parse_calendar_unit("fortnight"));
    EXPECT_STREQ(calendar_unit_name(CalendarUnit::year), "year");
}

// Issue 11 item 8: the text of every instant names that instant.
TEST(TimeZone, TextOfFarAndOldInstantsIsRight) {
    TimeZone p = paris();
    TimeZone z;
    // Paris local mean time before 1911: +00:09:21, seconds included, and it parses back.
    const int64_t t1900 = utc("1900-01-01T00:00:00Z");
    EXPECT_EQ(p.format_iso(t1900), "1900-01-01T00:09:21+00:09:21");
    EXPECT_EQ(*p.parse_iso(p.format_iso(t1900)), t1900);
    EXPECT_EQ(*z.parse_iso("1900-01-01T00:09:21+00:09:21"), t1900);
    // Four-digit years end at 9999; beyond, expanded ISO 8601 in UTC.
    EXPECT_EQ(z.format_iso(kLastIsoYearMs, true), "9999-12-31T23:59:59.999Z");
    EXPECT_EQ(z.format_iso(kLastIsoYearMs + 1), "+010000-01-01T00:00:00Z");
    EXPECT_EQ(p.format_iso(971890963200000), "+032768-01-01T00:00:00Z");
    EXPECT_EQ(z.format_iso(INT64_MAX, true), "+292278994-08-17T07:12:55.807Z");
    EXPECT_EQ(z.format_iso(INT64_MIN, true), "-292275055-05-16T16:47:04.192Z");
    EXPECT_EQ(p.format_iso(kFirstIsoYearMs - 1), "+000000-12-31T23:59:59Z");
    EXPECT_EQ(z.format_iso(kFirstIsoYearMs), "0001-01-01T00:00:00Z");
}

// The local weekday (0 Sunday): the local date's, not UTC's.
TEST(TimeZone, WeekdayIsTheLocalDates) {
    const auto paris = *TimeZone::load("Europe/Paris");
    EXPECT_EQ(paris.weekday(*paris.parse_iso("2019-06-10T00:30")), 1) << "Monday 00:30 in Paris is Sunday in UTC";
    EXPECT_EQ(TimeZone::utc().weekday(*paris.parse_iso("2019-06-10T00:30")), 0);
    EXPECT_EQ(paris.weekday(*paris.parse_iso("2026-10-25T23:59")), 0) << "the 25-hour Sunday";
    EXPECT_EQ(paris.weekday(*paris.parse_iso("1969-12-31T12:00")), 3) << "before the epoch too";
}
