// TimeZone: an IANA time zone (Howard Hinnant's date/tz.h over the OS tzdata)
// for calendar arithmetic on UTC milliseconds: local civil time, start of the
// local day / ISO week (Monday) / month / year containing an instant, and the
// next such boundary. Correct across DST: a Europe/Paris day is 23 h on the
// last Sunday of March and 25 h on the last Sunday of October.
//
// Local times that do not exist (the spring gap) resolve to the instant the
// gap ends; local times that occur twice (the autumn fold) resolve to the
// earlier instant. So a local midnight that falls in a gap (some zones move
// their clocks at 00:00) is the first instant of that local day.
//
// Value type, cheap to copy (a pointer into the process-wide tz database,
// which lives until exit). Every method is const and safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace date {
class time_zone;
}

namespace gridlet {

// Instants of years 0001..9999 (UTC), the range of four-digit ISO 8601 years.
inline constexpr int64_t kFirstIsoYearMs = -62'135'596'800'000;  // 0001-01-01T00:00:00Z
inline constexpr int64_t kLastIsoYearMs = 253'402'300'799'999;   // 9999-12-31T23:59:59.999Z

// A local calendar date and time of day (no zone).
struct CivilTime {
    int year = 1970;
    int month = 1;   // 1..12
    int day = 1;     // 1..31
    int hour = 0;    // 0..23
    int minute = 0;  // 0..59
    int second = 0;  // 0..59
    int millisecond = 0;
    bool operator==(const CivilTime&) const = default;
};

// Calendar periods, in the local time of a zone. Weeks are ISO weeks: they
// start on Monday.
enum class CalendarUnit { day, week, month, year };

const char* calendar_unit_name(CalendarUnit unit) noexcept;
// "day", "week", "month", "year" (also "d", "w", "mo", "y").
Expected<CalendarUnit> parse_calendar_unit(std::string_view text);

class TimeZone {
public:
    // UTC.
    TimeZone();

    // A zone by IANA name ("Europe/Paris", "UTC"). Unknown names give
    // invalid_argument naming the zone.
    static Expected<TimeZone> load(std::string_view iana_name);
    static TimeZone utc() { return TimeZone(); }

    const std::string& name() const noexcept { return name_; }

    // Offset of local time from UTC at `utc_ms`, in ms (+3600000 for CET).
    int64_t utc_offset_ms(int64_t utc_ms) const;

    CivilTime to_local(int64_t utc_ms) const;
    // UTC instant of a local civil time (gap: end of the gap; fold: the
    // earlier instant). Fields out of range give invalid_argument.
    Expected<int64_t> from_local(const CivilTime& local) const;

    // Start (UTC ms) of the local day / ISO week / month / year containing
    // `utc_ms`, and the start of the next one.
    int64_t start_of(CalendarUnit unit, int64_t utc_ms) const;
    // The local weekday at `utc_ms`: 0 Sunday .. 6 Saturday.
    int weekday(int64_t utc_ms) const;
    int64_t next_start(CalendarUnit unit, int64_t utc_ms) const;

    int64_t start_of_day(int64_t utc_ms) const { return start_of(CalendarUnit::day, utc_ms); }
    int64_t next_midnight(int64_t utc_ms) const { return next_start(CalendarUnit::day, utc_ms); }

    // ISO-8601 with the local offset: "2024-03-31T03:00:00.000+02:00"
    // (milliseconds only when `with_ms`; an offset with seconds, such as
    // Paris local mean time before 1911, as +00:09:21). Instants outside
    // years 0001..9999 in expanded UTC form: "+032768-01-01T00:00:00Z".
    std::string format_iso(int64_t utc_ms, bool with_ms = false) const;

    // Parses ISO-8601: "2024-03-31", "2024-03-31T02:30", "2024-03-31 02:30:15.250",
    // with an optional "Z" or "+hh:mm"/"-hhmm" offset. Without an offset the
    // text is local time in this zone. Errors name the text.
    Expected<int64_t> parse_iso(std::string_view text) const;

    bool operator==(const TimeZone& o) const noexcept { return zone_ == o.zone_; }

private:
    TimeZone(const date::time_zone* zone, std::string name) : zone_(zone), name_(std::move(name)) {}
    const date::time_zone* zone_;
    std::string name_;
};

}  // namespace gridlet
