// The answer to a consumption question, as `gridlet consumption` gives it
// (CSV, JSON; the CLI adds its table) and the HTTP API sends it (GET
// /api/v1/consumption): the same request, the same comparison with the
// previous period, the same CSV and JSON. Any thread (the store's reads are
// thread-safe; the model is read only).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "answers/query_answer.h"
#include "core/status.h"
#include "core/timezone.h"
#include "model/consumption.h"

namespace gridlet::answers {

// What the user asked, as text (CLI options or URL parameters).
struct ConsumptionQuestion {
    std::string by = "total";        // total, point, load, group, usage, area, panel_board, node, fluid
    std::string period = "day";      // 15m, hour, day, week, month, year (local)
    std::string from, to;            // time specs; empty: this month's start, now
    std::string fluid = "electricity";
    std::string node;                // --by node: "hierarchy" or "hierarchy/node"
    std::string compare;             // "" or "previous"
    bool cost = false, kwh = false;
};

struct ConsumptionAnswer {
    model::ConsumptionTable table;
    std::optional<model::ConsumptionTable> previous;  // with compare=previous
};

// The question, checked (before any store is opened).
struct ConsumptionPlan {
    model::ConsumptionRequest request;
    bool compare = false;  // also the period before
};

// Checks the question against the site's zone and `now_ms`. Errors
// (invalid_argument) name the option as `<prefix><name>` ("--by: ..." on the
// command line, "by: ..." in the API).
Expected<ConsumptionPlan> plan_consumption(const ConsumptionQuestion& q, const TimeZone& zone, int64_t now_ms,
                                           std::string_view prefix);
// Computes the tables. Errors: the model's (invalid_argument: a node, a
// fluid) or the store's.
Expected<ConsumptionAnswer> answer_consumption(const ConsumptionPlan& plan, const model::SiteModel& m,
                                               const store::QueryEngine& query, const SeriesRegistry& registry,
                                               const TimeZone& zone);

// JSON: model::consumption_json (columns shape), with "previous" and
// "change_percent" (each column's total against the previous, %) when compared.
nlohmann::json consumption_answer_json(const ConsumptionAnswer& a, const TimeZone& zone);
// CSV: "start,<columns>" (with a comparison a first column "range": current
// or previous); an empty cell has no data.
void write_consumption_csv(const ConsumptionAnswer& a, const TimeZone& zone, const TextSink& out);

// The period before [from, to): as many whole years, months, weeks or days
// just before, or the same length of time.
std::pair<int64_t, int64_t> previous_range(int64_t from, int64_t to, const TimeZone& zone);

}  // namespace gridlet::answers
