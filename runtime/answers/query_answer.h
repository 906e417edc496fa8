// The answer to a query of series, as `gridlet query` prints it and the HTTP
// API (GET /api/v1/query) sends it: one code path, the same bytes.
//
// Shapes (see `gridlet query --help` for the user's words):
//   csv, tidy:  "time,series,value[,quality]\n" then one row per point;
//   csv, wide:  "time,<series>[,<series>:quality],...\n", one row per time,
//               an empty cell where a series has no point;
//   json:       [{"series","unit","kind","aggregate","points":[{"time","ts_ms",
//               "value"[,"quality"]}]}]; values that are not finite are the
//               strings "NaN", "Infinity", "-Infinity".
// Times are ISO-8601 with milliseconds in the request's zone (default: the
// site's); raw points carry their quality (0 bad, 192 good).
//
// Threads: any (the store's QueryEngine is thread-safe); no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregate.h"
#include "core/status.h"
#include "core/timezone.h"
#include "store/query.h"

namespace gridlet::answers {

// What the user asked, as text (CLI options or URL query parameters).
struct QueryRequest {
    std::string pattern;          // series name, prefix ("panel1/") or glob
    std::string tags;             // "k=v,k=v", every pair must match
    std::string from = "-1h";     // time spec (store/time_spec.h), inclusive
    std::string to = "now";       // exclusive
    std::string step;             // "15m", "1h", "day", "week", "month", "year"; empty: raw
    std::string agg;              // avg (default with step), min, max, sum, count, first, last, consumption
    std::string format = "csv";   // csv or json
    std::string tz;               // IANA zone; empty: the site's
    bool wide = false;            // csv: one column per series
    bool no_quality = false;      // raw: leave the quality out
    int digits = -1;              // decimals shown (0..15); -1: the exact value
};

// The request, checked: what to read and how to write it.
struct QueryPlan {
    std::string pattern, tags;
    int64_t from = 0, to = 0;                // UTC ms, [from, to)
    std::optional<Aggregate> agg;            // none: raw samples
    std::optional<CalendarUnit> unit;        // calendar periods of `zone`
    int64_t step_ms = 0;                     // epoch-aligned buckets
    TimeZone zone;
    bool json = false, wide = false, with_quality = true;
    bool pretty = false;                     // JSON indented by 2 (the CLI, for people); else compact
    int digits = -1;
};

// Checks a request against the site's time zone and `now_ms`.
// Errors (invalid_argument) name the option as `<prefix><name>` ("--from: ..."
// on the command line, "from: ..." in the API).
Expected<QueryPlan> plan_query(const QueryRequest& r, const std::string& site_timezone, int64_t now_ms,
                               std::string_view prefix);

// A time range [from, to) of two time specs (store/time_spec.h) in `zone`.
// Errors (invalid_argument) name `<prefix>from` / `<prefix>to`, and say an
// empty range with both ends.
Expected<std::pair<int64_t, int64_t>> parse_time_range(const std::string& from, const std::string& to, int64_t now_ms,
                                                       const TimeZone& zone, std::string_view prefix);

// Text sink: receives the answer in pieces; returns false when the reader
// went away (the answer stops there).
using TextSink = std::function<bool(std::string_view)>;

// Reads the points of the answer (the first half of write_query): errors
// come before anything is written. `max_rows` as below.
Expected<std::vector<store::SeriesPoints>> read_query(const store::QueryEngine& q, const QueryPlan& plan, size_t max_rows);
// Writes points read by read_query (the second half).
void write_query_points(const std::vector<store::SeriesPoints>& series, const QueryPlan& plan, const TextSink& out);

// Reads and writes the answer. `max_rows` 0: no bound (the CLI); else a
// query that would give more rows fails with invalid_argument ("more than N
// rows; narrow the range or use step/agg") before anything is written.
// `matched` (optional) is set to the number of series the query selected.
Status write_query(const store::QueryEngine& q, const QueryPlan& plan, size_t max_rows, const TextSink& out,
                   size_t* matched = nullptr);

}  // namespace gridlet::answers
