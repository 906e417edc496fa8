// CalendarSpec: when an at() timer fires, in the site's local time.
//
//   "02:00", "7:30:15"      every day at that local time
//   "0 2 * * *"             cron: minute hour day-of-month month day-of-week
//                           (each "*", "*/n", "a", "a-b", "a-b/n" or a comma
//                           list of those; day-of-week 0-7, 0 and 7 = Sunday;
//                           when both day fields are restricted, either
//                           matching is enough, as in cron)
//
// Across DST changes (the zone's rules, core/timezone.h):
//   - a local time that does not exist (spring gap) fires once, at the end of
//     the gap (02:30 in Europe/Paris on the last Sunday of March fires at
//     03:00 CEST);
//   - a local time that occurs twice (autumn fold) fires once, at its first
//     occurrence, unless the hour field is "*" (then the spec is periodic in
//     real time and both occurrences fire).
// A spec never fires twice at the same instant.
//
// Value type; pure functions; any thread.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/timezone.h"

namespace gridlet::script {

class CalendarSpec {
public:
    static Expected<CalendarSpec> parse(std::string_view text);

    // The first firing strictly after `after_utc_ms` (UTC ms), or an error
    // when the spec never fires within 8 years (e.g. "0 0 31 2 *").
    Expected<int64_t> next_after(const TimeZone& zone, int64_t after_utc_ms) const;

    const std::string& text() const noexcept { return text_; }

private:
    bool day_matches(int year, unsigned month, unsigned day, unsigned weekday) const;

    std::string text_;
    std::vector<int32_t> times_of_day_;  // seconds since local midnight, ascending
    std::bitset<32> days_;                // 1..31
    std::bitset<13> months_;              // 1..12
    std::bitset<7> weekdays_;             // 0 = Sunday
    bool days_star_ = true;
    bool weekdays_star_ = true;
    bool hours_star_ = false;
};

}  // namespace gridlet::script
