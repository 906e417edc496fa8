// Parsing of time arguments for the CLI and the HTTP API. Pure functions.
//
//   times:     "now", "today", "yesterday" (local midnight in `tz`),
//              relative "-1h", "-15m", "-2d", "-1w", "+30s", "now-1h",
//              ISO-8601 "2024-03-31", "2024-03-31T02:30:00Z", "...+02:00"
//              (no offset: local time in `tz`, which must exist once:
//              parse_iso_once), or integer epoch ms "@1700000000000".
//   durations: "500ms", "30s", "15m", "1h", "1d", "1w" (a plain integer is ms).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/timezone.h"

namespace gridlet::store {

Expected<int64_t> parse_duration_ms(std::string_view text);
Expected<int64_t> parse_time_spec(std::string_view text, int64_t now_ms, const TimeZone& tz);

// An ISO-8601 time; without an offset, a local time of `tz` that exists
// once: a time in the spring gap (2026-03-29T02:30 in Europe/Paris) and one
// the autumn fold repeats (2026-10-25T02:30) are refused (invalid_argument,
// saying which and how to give the offset). A date alone is its first
// instant. Used by parse_time_spec and by the site model's dates.
Expected<int64_t> parse_iso_once(std::string_view text, const TimeZone& tz);

}  // namespace gridlet::store
