#include "script/calendar.h"

#include <algorithm>
#include <charconv>

#include <date/date.h>

namespace gridlet::script {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (start <= text.size()) {
        size_t pos = text.find(sep, start);
        if (pos == std::string_view::npos) pos = text.size();
        parts.push_back(text.substr(start, pos - start));
        start = pos + 1;
    }
    return parts;
}

bool parse_int(std::string_view s, int& out) {
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

// One cron field into `bits` (indices lo..hi). `star` tells whether it was "*".
Status parse_field(std::string_view field, int lo, int hi, const char* name, std::vector<bool>& bits, bool& star) {
    bits.assign(static_cast<size_t>(hi) + 1, false);
    star = field == "*";
    for (std::string_view item : split(field, ',')) {
        int step = 1;
        size_t slash = item.find('/');
        std::string_view range = item;
        if (slash != std::string_view::npos) {
            if (!parse_int(item.substr(slash + 1), step) || step < 1) {
                return Status::invalid(std::string("bad step in ") + name + " field '" + std::string(item) + "'");
            }
            range = item.substr(0, slash);
        }
        int a = lo, b = hi;
        if (range != "*") {
            size_t dash = range.find('-');
            if (dash == std::string_view::npos) {
                if (!parse_int(range, a)) return Status::invalid(std::string("bad ") + name + " '" + std::string(item) + "'");
                b = slash == std::string_view::npos ? a : hi;
            } else if (!parse_int(range.substr(0, dash), a) || !parse_int(range.substr(dash + 1), b)) {
                return Status::invalid(std::string("bad ") + name + " range '" + std::string(item) + "'");
            }
        }
        if (a < lo || b > hi || a > b) {
            return Status::invalid(std::string(name) + " '" + std::string(item) + "' out of range " +
                                   std::to_string(lo) + ".." + std::to_string(hi));
        }
        for (int v = a; v <= b; v += step) bits[static_cast<size_t>(v)] = true;
    }
    return Status::ok();
}

}  // namespace

Expected<CalendarSpec> CalendarSpec::parse(std::string_view text) {
    CalendarSpec spec;
    spec.text_ = std::string(text);
    std::vector<std::string_view> fields;
    for (std::string_view f : split(text, ' ')) {
        if (!f.empty()) fields.push_back(f);
    }
    auto bad = [&](const std::string& why) {
        return Status::invalid("bad at() spec '" + std::string(text) + "': " + why +
                               " (want \"HH:MM\", \"HH:MM:SS\" or cron \"min hour day month weekday\")");
    };
    std::vector<bool> hours, minutes, seconds(60, false);
    if (fields.size() == 1) {
        auto parts = split(fields[0], ':');
        int h = 0, m = 0, s = 0;
        if (parts.size() < 2 || parts.size() > 3 || !parse_int(parts[0], h) || !parse_int(parts[1], m) ||
            (parts.size() == 3 && !parse_int(parts[2], s)) || h > 23 || m > 59 || s > 59 || h < 0 || m < 0 || s < 0) {
            return bad("not a time of day");
        }
        spec.times_of_day_.push_back(h * 3600 + m * 60 + s);
        spec.days_.set();
        spec.months_.set();
        spec.weekdays_.set();
        return spec;
    }
    if (fields.size() != 5) return bad("want 1 or 5 fields");
    std::vector<bool> days, months, weekdays;
    bool star = false;
    Status st = parse_field(fields[0], 0, 59, "minute", minutes, star);
    if (st) st = parse_field(fields[1], 0, 23, "hour", hours, spec.hours_star_);
    if (st) st = parse_field(fields[2], 1, 31, "day", days, spec.days_star_);
    if (st) st = parse_field(fields[3], 1, 12, "month", months, star);
    if (st) st = parse_field(fields[4], 0, 7, "weekday", weekdays, spec.weekdays_star_);
    if (!st) return bad(st.message());
    for (int h = 0; h < 24; ++h) {
        for (int m = 0; m < 60; ++m) {
            if (hours[static_cast<size_t>(h)] && minutes[static_cast<size_t>(m)]) spec.times_of_day_.push_back(h * 3600 + m * 60);
        }
    }
    for (size_t d = 1; d <= 31; ++d) spec.days_[d] = days[d];
    for (size_t mo = 1; mo <= 12; ++mo) spec.months_[mo] = months[mo];
    for (size_t w = 0; w <= 7; ++w) {
        if (weekdays[w]) spec.weekdays_[w % 7] = true;
    }
    return spec;
}

bool CalendarSpec::day_matches(int /*year*/, unsigned month, unsigned day, unsigned weekday) const {
    if (!months_[month]) return false;
    if (days_star_ || weekdays_star_) return days_[day] && weekdays_[weekday];
    return days_[day] || weekdays_[weekday];
}

Expected<int64_t> CalendarSpec::next_after(const TimeZone& zone, int64_t after_utc_ms) const {
    using namespace date;
    const CivilTime now_local = zone.to_local(after_utc_ms);
    const sys_days first_day = sys_days(year(now_local.year) / month(static_cast<unsigned>(now_local.month)) /
                                        day(static_cast<unsigned>(now_local.day)));
    // Local times earlier than this on the first day cannot fire after
    // `after` (3 h of slack covers any fold).
    const int32_t first_day_from = now_local.hour * 3600 + now_local.minute * 60 + now_local.second - 3 * 3600;
    constexpr int kMaxDays = 366 * 8 + 2;
    for (int i = 0; i < kMaxDays; ++i) {
        const sys_days d = first_day + days(i);
        const year_month_day ymd(d);
        const unsigned wd = weekday(d).c_encoding();
        if (!day_matches(int(ymd.year()), unsigned(ymd.month()), unsigned(ymd.day()), wd)) continue;
        auto it = times_of_day_.begin();
        if (i == 0) it = std::lower_bound(times_of_day_.begin(), times_of_day_.end(), first_day_from);
        int64_t best = INT64_MAX;
        for (; it != times_of_day_.end(); ++it) {
            CivilTime local{int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), *it / 3600,
                            (*it / 60) % 60, *it % 60, 0};
            auto first = zone.from_local(local);
            if (!first) return first.status();
            if (hours_star_) {
                // Second occurrence in an autumn fold: same local time, later.
                const int64_t shift = zone.utc_offset_ms(*first) - zone.utc_offset_ms(*first + 3 * 3'600'000);
                if (shift > 0) {
                    const int64_t second = *first + shift;
                    if (second > after_utc_ms && zone.to_local(second) == local) best = std::min(best, second);
                }
            }
            if (*first > after_utc_ms) {
                // First occurrences are nondecreasing in local order; later
                // second occurrences come after this one.
                best = std::min(best, *first);
                break;
            }
        }
        if (best != INT64_MAX) return best;
    }
    return Status::invalid("at() spec '" + text_ + "' never fires");
}

}  // namespace gridlet::script
