#include "store/time_spec.h"

#include <charconv>
#include <cstdlib>
#include <string>

namespace gridlet::store {

Expected<int64_t> parse_duration_ms(std::string_view text) {
    auto bad = [&] {
        return Status::invalid("duration '" + std::string(text) + "': use e.g. 500ms, 30s, 15m, 1h, 1d, 1w");
    };
    if (text.empty()) return bad();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p == text.data()) return bad();
    std::string_view unit(p, static_cast<size_t>(text.data() + text.size() - p));
    int64_t mult = 0;
    if (unit.empty() || unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m" || unit == "min") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else if (unit == "w") mult = 7 * 86'400'000LL;
    else return bad();
    if (n < 0 || n > INT64_MAX / mult) return bad();
    return n * mult;
}

Expected<int64_t> parse_time_spec(std::string_view text, int64_t now_ms, const TimeZone& tz) {
    if (text.empty()) return Status::invalid("time: empty; use now, -1h, today or ISO-8601");
    if (text == "now") return now_ms;
    if (text == "today") return tz.start_of_day(now_ms);
    if (text == "yesterday") return tz.start_of_day(tz.start_of_day(now_ms) - 1);
    std::string_view rel = text;
    if (rel.starts_with("now")) rel.remove_prefix(3);
    if (!rel.empty() && (rel[0] == '-' || rel[0] == '+')) {
        auto d = parse_duration_ms(rel.substr(1));
        if (!d) return Status::invalid("time '" + std::string(text) + "': " + d.status().message());
        int64_t t = 0;
        if (rel[0] == '-' ? __builtin_sub_overflow(now_ms, *d, &t) : __builtin_add_overflow(now_ms, *d, &t))
            return Status::invalid("time '" + std::string(text) + "': too far from now");
        return t;
    }
    if (text[0] == '@') {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), v);
        if (ec != std::errc() || p != text.data() + text.size())
            return Status::invalid("time '" + std::string(text) + "': '@' must be followed by epoch milliseconds");
        return v;
    }
    auto t = tz.parse_iso(text);
    if (!t) return Status::invalid(t.status().message() + ", or now, today, yesterday, -1h, @<epoch ms>");
    return parse_iso_once(text, tz);
}

Expected<int64_t> parse_iso_once(std::string_view text, const TimeZone& zone) {
    const std::string s(text);
    auto at = zone.parse_iso(s);
    if (!at) return at.status();
    const bool has_offset = s.size() > 10 && (s.find('Z', 10) != std::string::npos || s.find('z', 10) != std::string::npos ||
                                              s.find('+', 10) != std::string::npos || s.find('-', 10) != std::string::npos);
    if (has_offset || s.size() < 16) return at;
    const CivilTime c = zone.to_local(*at);
    const int hour = std::atoi(s.substr(11, 2).c_str()), minute = std::atoi(s.substr(14, 2).c_str());
    if (c.hour != hour || c.minute != minute)
        return Status::invalid("'" + s + "' does not exist in " + zone.name() + " (the clocks go forward then)");
    const CivilTime later = zone.to_local(*at + 3'600'000);
    if (later.year == c.year && later.month == c.month && later.day == c.day && later.hour == c.hour && later.minute == c.minute) {
        const std::string iso = zone.format_iso(*at);  // 2026-10-25T02:30:00+02:00
        return Status::invalid("'" + s + "' happens twice in " + zone.name() + " (the clocks go back then): give its offset, e.g. \"" +
                               iso.substr(0, 16) + iso.substr(19) + "\"");
    }
    return at;
}

}  // namespace gridlet::store
