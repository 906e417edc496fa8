// Fuzz target: the time and duration parsers of the CLI and the HTTP API
// (store/time_spec.h, TimeZone::parse_iso). Any text gives a time or a
// clear error, never a crash or undefined behaviour; a time in years
// 0001..9999 printed with format_iso parses back to itself (unless its
// local year is 0 or 10000: then it is printed in expanded UTC form).
#include <stdexcept>

#include "core/timezone.h"
#include "fuzz_driver.h"
#include "store/time_spec.h"

using namespace gridlet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const TimeZone zones[] = {TimeZone::utc(), *TimeZone::load("Europe/Paris"), *TimeZone::load("Asia/Kolkata")};
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const int64_t now = 1'764'547'200'000;  // 2025-12-01
    (void)store::parse_duration_ms(text);
    for (const TimeZone& tz : zones) {
        auto t = store::parse_time_spec(text, now, tz);
        if (!t || *t < kFirstIsoYearMs || *t > kLastIsoYearMs) continue;
        const std::string iso = tz.format_iso(*t, true);
        if (iso[0] == '+' || iso[0] == '-') continue;  // expanded form: the local year is 0 or 10000
        auto back = tz.parse_iso(iso);
        if (!back || *back != *t) throw std::logic_error("format_iso does not parse back: " + iso);
    }
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {"now", "today", "yesterday", "-1h", "now-15m", "+30s", "-2d", "1w", "500ms", "@1700000000000",
            "@-9223372036854775808", "2024-03-31", "2024-03-31T02:30", "2024-03-31T02:30:15.250Z",
            "2024-10-27T02:30:00+02:00", "1900-01-01T00:09:21+00:09:21", "9999-12-31T23:59:59.999Z", "0001-01-01",
            "-9223372036854775807ms", "now+9223372036854775807"};
}
