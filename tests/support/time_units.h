// Durations in milliseconds, for tests that write times by hand.
#pragma once

#include <cstdint>

namespace gridlet::testing::time_units {
inline constexpr int64_t kSec = 1'000;
inline constexpr int64_t kMin = 60'000;
inline constexpr int64_t kHour = 3'600'000;
inline constexpr int64_t kDay = 86'400'000;
}  // namespace gridlet::testing::time_units
