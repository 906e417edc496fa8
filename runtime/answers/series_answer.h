// A series as `gridlet series --format json` prints it and GET
// /api/v1/series sends it: {"id","name","kind","unit","description","tags",
// "states":{"0":"off",...},"last_time","last_value","last_state"}; last_* are
// "" / null when the series has no sample. Pure; any thread.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "core/series_registry.h"
#include "store/chunk_codec.h"

namespace gridlet::answers {

nlohmann::json series_json(const SeriesMeta& m, const std::optional<store::Sample>& last);

}  // namespace gridlet::answers
