// Consumption tables as JSON, one shape for every reader: the CLI's
// `--format json` and the HTTP API (Shape::columns: each row's values an
// array in column order, null for no data), and the rules' gridlet.consumption
// (Shape::keyed: each row's values an object keyed by column name, no key
// for no data, since a Lua array cannot hold a hole). And a request from
// JSON (what a rule or an API call gives). Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/timezone.h"
#include "model/consumption.h"

namespace gridlet::model {

enum class JsonShape { columns, keyed };

// Values rounded to 9 decimals (a sum of doubles carries noise such as
// 21.599999999999994, far below any meter's resolution or price).
nlohmann::json consumption_json(const ConsumptionTable& table, const TimeZone& zone, JsonShape shape);

// {"by", "period", "from", "to" (UTC ms), "fluid", "node", "cost", "kwh"}:
// every key but from and to optional (defaults: total, day, electricity).
// Errors (invalid_argument) name the key.
Expected<ConsumptionRequest> consumption_request_from_json(const nlohmann::json& request);

}  // namespace gridlet::model
