#include "core/timezone.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>

#include <date/date.h>
#include <date/tz.h>

namespace gridlet {

namespace {
using std::chrono::milliseconds;
using LocalMs = date::local_time<milliseconds>;
using SysMs = date::sys_time<milliseconds>;

LocalMs local_of(const CivilTime& c) {
    date::year_month_day ymd{date::year{c.year}, date::month{static_cast<unsigned>(c.month)},
                             date::day{static_cast<unsigned>(c.day)}};
    return LocalMs{date::local_days{ymd}.time_since_epoch()} + std::chrono::hours{c.hour} +
           std::chrono::minutes{c.minute} + std::chrono::seconds{c.second} + milliseconds{c.millisecond};
}

CivilTime civil_of(LocalMs lt) {
    auto day = date::floor<date::days>(lt);
    date::year_month_day ymd{day};
    date::hh_mm_ss<milliseconds> tod{lt - day};
    CivilTime c;
    c.year = static_cast<int>(ymd.year());
    c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
    c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    c.hour = static_cast<int>(tod.hours().count());
    c.minute = static_cast<int>(tod.minutes().count());
    c.second = static_cast<int>(tod.seconds().count());
    c.millisecond = static_cast<int>(tod.subseconds().count());
    return c;
}

// Local midnight of the given local day, as a local time.
LocalMs midnight(date::local_days d) { return LocalMs{d.time_since_epoch()}; }

bool parse_int(std::string_view s, int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

const char* calendar_unit_name(CalendarUnit unit) noexcept {
    switch (unit) {
        case CalendarUnit::day: return "day";
        case CalendarUnit::week: return "week";
        case CalendarUnit::month: return "month";
        case CalendarUnit::year: return "year";
    }
    return "day";
}

Expected<CalendarUnit> parse_calendar_unit(std::string_view text) {
    if (text == "day" || text == "d") return CalendarUnit::day;
    if (text == "week" || text == "w") return CalendarUnit::week;
    if (text == "month" || text == "mo") return CalendarUnit::month;
    if (text == "year" || text == "y") return CalendarUnit::year;
    return Status::invalid("calendar unit '" + std::string(text) + "': use day, week, month or year");
}

TimeZone::TimeZone() : zone_(nullptr), name_("UTC") {}

Expected<TimeZone> TimeZone::load(std::string_view iana_name) {
    if (iana_name.empty()) return Status::invalid("time zone: empty name (use an IANA name such as Europe/Paris)");
    if (iana_name == "UTC" || iana_name == "Etc/UTC" || iana_name == "Z") return TimeZone();
    try {
        const date::time_zone* z = date::locate_zone(iana_name);
        return TimeZone(z, std::string(iana_name));
    } catch (const std::exception& e) {
        return Status::invalid("time zone '" + std::string(iana_name) +
                               "' is not a known IANA zone (e.g. Europe/Paris): " + e.what());
    }
}

int64_t TimeZone::utc_offset_ms(int64_t utc_ms) const {
    if (!zone_) return 0;
    auto info = zone_->get_info(date::floor<std::chrono::seconds>(SysMs{milliseconds{utc_ms}}));
    return std::chrono::duration_cast<milliseconds>(info.offset).count();
}

CivilTime TimeZone::to_local(int64_t utc_ms) const {
    return civil_of(LocalMs{milliseconds{utc_ms + utc_offset_ms(utc_ms)}});
}

int TimeZone::weekday(int64_t utc_ms) const {
    const LocalMs lt{milliseconds{utc_ms + utc_offset_ms(utc_ms)}};
    return static_cast<int>(date::weekday{date::floor<date::days>(lt)}.c_encoding());
}

Expected<int64_t> TimeZone::from_local(const CivilTime& c) const {
    date::year_month_day ymd{date::year{c.year}, date::month{static_cast<unsigned>(c.month)},
                             date::day{static_cast<unsigned>(c.day)}};
    if (!ymd.ok() || c.hour < 0 || c.hour > 23 || c.minute < 0 || c.minute > 59 || c.second < 0 ||
        c.second > 59 || c.millisecond < 0 || c.millisecond > 999) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", c.year, c.month, c.day, c.hour,
                      c.minute, c.second, c.millisecond);
        return Status::invalid(std::string("local time ") + buf + " is not a valid date and time");
    }
    LocalMs lt = local_of(c);
    if (!zone_) return lt.time_since_epoch().count();
    auto info = zone_->get_info(date::floor<std::chrono::seconds>(lt));
    switch (info.result) {
        case date::local_info::unique:
        case date::local_info::ambiguous:  // the earlier instant: the offset before the fold
            return (lt - info.first.offset).time_since_epoch().count();
        case date::local_info::nonexistent:  // in the gap: the instant the gap ends
            return std::chrono::duration_cast<milliseconds>(info.second.begin.time_since_epoch()).count();
    }
    return (lt - info.first.offset).time_since_epoch().count();
}

int64_t TimeZone::start_of(CalendarUnit unit, int64_t utc_ms) const {
    LocalMs lt{milliseconds{utc_ms + utc_offset_ms(utc_ms)}};
    date::local_days day = date::floor<date::days>(lt);
    date::year_month_day ymd{day};
    date::local_days start = day;
    switch (unit) {
        case CalendarUnit::day: break;
        case CalendarUnit::week: {
            date::weekday wd{day};
            start = day - date::days{(wd.c_encoding() + 6) % 7};
            break;
        }
        case CalendarUnit::month: start = date::local_days{ymd.year() / ymd.month() / 1}; break;
        case CalendarUnit::year: start = date::local_days{ymd.year() / 1 / 1}; break;
    }
    int64_t r = *from_local(civil_of(midnight(start)));
    // A fold at midnight can put the earlier midnight after utc_ms only if
    // utc_ms is before it, which cannot happen for the containing period;
    // a gap makes the start later than nominal midnight, still <= utc_ms.
    return r;
}

int64_t TimeZone::next_start(CalendarUnit unit, int64_t utc_ms) const {
    LocalMs lt{milliseconds{utc_ms + utc_offset_ms(utc_ms)}};
    date::local_days day = date::floor<date::days>(lt);
    date::year_month_day ymd{day};
    date::local_days next = day;
    switch (unit) {
        case CalendarUnit::day: next = day + date::days{1}; break;
        case CalendarUnit::week: {
            date::weekday wd{day};
            next = day - date::days{(wd.c_encoding() + 6) % 7} + date::days{7};
            break;
        }
        case CalendarUnit::month: {
            auto ym = ymd.year() / ymd.month() + date::months{1};
            next = date::local_days{ym / 1};
            break;
        }
        case CalendarUnit::year: next = date::local_days{(ymd.year() + date::years{1}) / 1 / 1}; break;
    }
    return *from_local(civil_of(midnight(next)));
}

namespace {
// ISO 8601 expanded UTC text of any instant ("+292278994-08-17T07:12:55Z"),
// by Howard Hinnant's days-to-civil algorithm on 64-bit integers.
std::string format_expanded_utc(int64_t utc_ms, bool with_ms) {
    int64_t days = utc_ms / 86'400'000, rem = utc_ms % 86'400'000;
    if (rem < 0) {
        rem += 86'400'000;
        --days;
    }
    const int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[96];
    int n = std::snprintf(buf, sizeof buf, "%c%06lld-%02lld-%02lldT%02lld:%02lld:%02lld", y < 0 ? '-' : '+',
                          static_cast<long long>(y < 0 ? -y : y), static_cast<long long>(m),
                          static_cast<long long>(d), static_cast<long long>(rem / 3'600'000),
                          static_cast<long long>(rem / 60'000 % 60), static_cast<long long>(rem / 1000 % 60));
    std::string out(buf, static_cast<size_t>(n));
    if (with_ms) {
        std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(rem % 1000));
        out += buf;
    }
    return out + "Z";
}
}  // namespace

std::string TimeZone::format_iso(int64_t utc_ms, bool with_ms) const {
    // Outside years 0001..9999 (UTC) the calendar library cannot help and
    // four-digit years cannot say it: expanded ISO 8601 text, in UTC.
    if (utc_ms < kFirstIsoYearMs || utc_ms > kLastIsoYearMs) return format_expanded_utc(utc_ms, with_ms);
    int64_t off = utc_offset_ms(utc_ms);
    CivilTime c = civil_of(LocalMs{milliseconds{utc_ms + off}});
    if (c.year < 1 || c.year > 9999) return format_expanded_utc(utc_ms, with_ms);  // local year 0 or 10000
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute,
                          c.second);
    std::string out(buf, static_cast<size_t>(n));
    if (with_ms) {
        std::snprintf(buf, sizeof buf, ".%03d", c.millisecond);
        out += buf;
    }
    if (!zone_) {
        out += 'Z';
        return out;
    }
    // An offset in whole minutes as +hh:mm; a local mean time before time
    // zones (Paris before 1911: +00:09:21) with its seconds, so the text
    // names the same instant.
    const char sign = off < 0 ? '-' : '+';
    const int64_t off_s = (off < 0 ? -off : off) / 1000;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, static_cast<int>(off_s / 3600), static_cast<int>(off_s / 60 % 60));
    out += buf;
    if (off_s % 60 != 0) {
        std::snprintf(buf, sizeof buf, ":%02d", static_cast<int>(off_s % 60));
        out += buf;
    }
    return out;
}

Expected<int64_t> TimeZone::parse_iso(std::string_view text) const {
    auto bad = [&](const char* why) {
        return Status::invalid("time '" + std::string(text) + "' is not ISO-8601 (" + why +
                               "); use e.g. 2024-03-31, 2024-03-31T02:30:00Z or 2024-03-31T02:30+02:00");
    };
    CivilTime c;
    std::string_view s = text;
    if (s.size() < 10 || s[4] != '-' || s[7] != '-') return bad("expected YYYY-MM-DD");
    if (!parse_int(s.substr(0, 4), c.year) || !parse_int(s.substr(5, 2), c.month) || !parse_int(s.substr(8, 2), c.day))
        return bad("bad date");
    s.remove_prefix(10);
    std::optional<int64_t> offset_ms;
    if (!s.empty()) {
        if (s[0] != 'T' && s[0] != 't' && s[0] != ' ') return bad("expected 'T' after the date");
        s.remove_prefix(1);
        if (s.size() < 5 || s[2] != ':') return bad("expected hh:mm");
        if (!parse_int(s.substr(0, 2), c.hour) || !parse_int(s.substr(3, 2), c.minute)) return bad("bad hh:mm");
        s.remove_prefix(5);
        if (!s.empty() && s[0] == ':') {
            if (s.size() < 3 || !parse_int(s.substr(1, 2), c.second)) return bad("bad seconds");
            s.remove_prefix(3);
            if (!s.empty() && (s[0] == '.' || s[0] == ',')) {
                size_t n = 1;
                while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
                if (n == 1) return bad("bad fraction");
                std::string frac(s.substr(1, n - 1));
                frac.resize(3, '0');
                if (!parse_int(frac, c.millisecond)) return bad("bad fraction");
                s.remove_prefix(n);
            }
        }
        if (!s.empty()) {
            if (s == "Z" || s == "z") {
                offset_ms = 0;
            } else if (s[0] == '+' || s[0] == '-') {
                int sign = s[0] == '-' ? -1 : 1;
                std::string_view o = s.substr(1);
                int oh = 0, om = 0, os = 0;
                if (o.size() == 8 && o[2] == ':' && o[5] == ':') {  // +hh:mm:ss (local mean time)
                    if (!parse_int(o.substr(0, 2), oh) || !parse_int(o.substr(3, 2), om) ||
                        !parse_int(o.substr(6, 2), os) || os > 59)
                        return bad("bad offset");
                } else if (o.size() == 5 && o[2] == ':') {
                    if (!parse_int(o.substr(0, 2), oh) || !parse_int(o.substr(3, 2), om)) return bad("bad offset");
                } else if (o.size() == 4) {
                    if (!parse_int(o.substr(0, 2), oh) || !parse_int(o.substr(2, 2), om)) return bad("bad offset");
                } else if (o.size() == 2) {
                    if (!parse_int(o, oh)) return bad("bad offset");
                } else {
                    return bad("bad offset");
                }
                if (oh > 23 || om > 59) return bad("bad offset");
                offset_ms = sign * (int64_t{oh} * 3600000 + int64_t{om} * 60000 + int64_t{os} * 1000);
            } else {
                return bad("unexpected text after the time");
            }
        }
    }
    if (offset_ms) {
        auto utc = TimeZone().from_local(c);
        if (!utc) return bad("date or time out of range");
        return *utc - *offset_ms;
    }
    auto r = from_local(c);
    if (!r) return bad("date or time out of range");
    return r;
}

}  // namespace gridlet
