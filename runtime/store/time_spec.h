// Parsing of time arguments for the CLI and the HTTP API. Pure functions.
//
//   times:     "now", "today", "yesterday" (local midnight in `tz`),
//              relative "-1h", "-15m", "-2d", "-1w", "+30s", "now-1h",
//              ISO-8601 "2024-03-31", "2024-03-31T02:30:00Z", "...+02:00"
//              (no offset: local time in `tz`), or integer epoch ms "@1700000000000".
//   durations: "500ms", "30s", "15m", "1h", "1d", "1w" (a plain integer is ms).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/timezone.h"

namespace gridlet::store {

Expected<int64_t> parse_duration_ms(std::string_view text);
Expected<int64_t> parse_time_spec(std::string_view text, int64_t now_ms, const TimeZone& tz);

}  // namespace gridlet::store
