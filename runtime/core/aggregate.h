// Aggregate: how the samples of a bucket are summed up, for the store's
// queries and rollups, the rules' gridlet.query and the CLI alike.
// consumption: the increase of a counter across the bucket, resets and
// rollovers handled (runtime/store/rollup.h); counters only.
//
// Value type; pure functions; any thread.
#pragma once

#include <string_view>

#include "core/status.h"

namespace gridlet {

enum class Aggregate { avg, min, max, sum, count, first, last, consumption };

const char* aggregate_name(Aggregate a) noexcept;
// Also takes "mean" (avg) and "delta" (consumption, the rules' name).
Expected<Aggregate> parse_aggregate(std::string_view name);

}  // namespace gridlet
