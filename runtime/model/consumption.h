// Consumption of the site model (model/site_model.h) per local quarter hour, hour, day,
// ISO week (Monday), month or year of the site's zone: of a point, a load
// type, a group, a usage, an area, a panel board, a fluid's total, or a
// hierarchy node broken down into what it feeds and its non-measured point.
//
// Where each figure comes from:
//   a point      its counter's consumption per period, from the store's
//                counter-aware aggregation (store/aggregation.h: resets,
//                glitches, rollover; each interval between two readings
//                charged whole to the period where it starts; one longer
//                than the series' max_gap, 36 h, charged nowhere: gaps
//                stay gaps). A meter replaced (energy_history): each counter
//                over its time in service. A series of kind gauge holding
//                interval energies is summed instead. Converted from the
//                series' unit (Wh, kWh, MWh; m3, dm3, L) to the fluid's.
//   a virtual    Σ plus − Σ minus per period; missing when a term is.
//   a category   (load, group, usage, area, panel board, the fluid's total):
//                Σ of its points not excluded from totals, real and virtual
//                (Legrand §5.2-5.3); a point in several groups counts fully
//                in each. A member with no data in a period leaves the sum of
//                the others, with `missing` = how many had none.
//   a node       its meter, or (none) Σ of what it feeds; its non-measured
//                point = meter − Σ (its points, its child nodes, the
//                hierarchies under it) per period (Socomec §2.6): missing
//                when any of them is (never guessed); a negative residual is
//                kept and flagged (`negative`), never clamped.
//
// Costs: value × the fluid's price ([[model.fluids]] price, [model]
// currency), an average price as the Legrand bill of consumptions has it;
// with [[model.tariffs]] of the fluid, each hour (quarter hour when a
// tariff starts or ends off the hour) is priced by the tariff in force at
// its start, and the periods add those up.
//
// Threads: one engine per thread (a request, or the tables of one job: the
// points' figures are read once per set of periods and reused); the
// QueryEngine it reads is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/timezone.h"
#include "model/site_model.h"
#include "store/query.h"

namespace gridlet::model {

enum class Breakdown { point, load, group, usage, area, panel_board, node, fluid, total };
enum class Period { quarter_hour, hour, day, week, month, year };

Expected<Breakdown> parse_breakdown(const std::string& text);
Expected<Period> parse_period(const std::string& text);
const char* breakdown_name(Breakdown b) noexcept;
const char* period_name(Period p) noexcept;

struct Cell {
    std::optional<double> value;  // in the table's unit (or currency with cost)
    bool negative = false;        // a non-measured point below zero (kept, flagged)
    int missing = 0;              // members with no data in this period
};

struct Column {
    std::string name;   // "total", a category's name, a point's, "<node> not measured"
    std::string label;  // for display
    std::string fluid;
    std::string unit;   // the fluid's unit, "kWh" (gas as equivalent kWh) or the currency
    bool excluded = false;  // a point excluded from totals (by point): do not add it to the others
};

struct ConsumptionTable {
    Breakdown by = Breakdown::total;
    Period period = Period::day;
    std::string fluid;
    std::vector<int64_t> starts;  // the periods: [starts[i], starts[i + 1]), the last until `to`
    int64_t to = 0;
    std::vector<Column> columns;  // columns[0] is the total
    std::vector<std::vector<Cell>> rows;  // rows[period][column]
    std::vector<std::string> notes;       // e.g. a series not in the store
};

struct ConsumptionRequest {
    Breakdown by = Breakdown::total;
    Period period = Period::day;
    int64_t from = 0, to = 0;     // UTC ms; rounded out to whole periods
    std::string fluid = "electricity";
    std::string node;             // by node: "hierarchy" or "hierarchy/node" (default: the fluid's first hierarchy's root)
    bool cost = false;            // in currency (needs the fluid's price)
    bool equivalent_kwh = false;  // a volume fluid with kwh_per_unit, in kWh
};

class ConsumptionEngine {
public:
    // All borrowed; they must outlive the engine.
    ConsumptionEngine(const SiteModel& model, const store::QueryEngine& query, const SeriesRegistry& registry,
                      const TimeZone& zone)
        : model_(model), query_(query), registry_(registry), zone_(zone) {}

    // The bucket edges of `period` covering [from, to) in the site's zone.
    Expected<std::vector<int64_t>> edges(Period period, int64_t from, int64_t to) const;

    // One point's consumption per bucket [edges[i], edges[i+1]) in its
    // fluid's unit. Errors: no such point, a series of another unit.
    Expected<std::vector<Cell>> point(const std::string& name, const std::vector<int64_t>& edges);

    // The table the request asks for. Errors (invalid_argument) say what:
    // an unknown fluid or node, a cost without a price.
    Expected<ConsumptionTable> table(const ConsumptionRequest& request);

private:
    Expected<ConsumptionTable> one_fluid(const ConsumptionRequest& request);
    Expected<ConsumptionTable> priced_by_tariffs(const ConsumptionRequest& request, const Fluid& fluid);
    Expected<ConsumptionTable> by_fluid(const ConsumptionRequest& request);
    Expected<std::vector<Cell>> real_point(const Point& p, const std::vector<int64_t>& edges);
    Expected<std::vector<Cell>> node(const Hierarchy& h, const Node& n, const std::vector<int64_t>& edges,
                                     std::vector<Cell>* not_measured);
    Expected<std::vector<Cell>> sum_of(const std::vector<const Point*>& members, const std::vector<int64_t>& edges);

    const SiteModel& model_;
    const store::QueryEngine& query_;
    const SeriesRegistry& registry_;
    const TimeZone& zone_;
    std::vector<std::string> notes_;
    // Point name -> its cells for the edges below, and the notes computing
    // them gave (said again when a later table of the engine reuses them).
    std::map<std::string, std::vector<Cell>> cache_;
    std::map<std::string, std::vector<std::string>> cache_notes_;
    std::vector<int64_t> cache_edges_;
};

// The price of `fluid` (per its unit) at `utc_ms`: the first of its
// tariffs that applies, else its average price; nullopt when neither.
std::optional<double> price_at(const SiteModel& model, const std::string& fluid, int64_t utc_ms, const TimeZone& zone);

// Socomec's consumption table (§4.1): a column's Total (the sum of its
// periods with data; nullopt when none has) and Average (that total over
// every period of the table, truncated, not rounded, to 3 decimals:
// 1887.71 / 7 -> 269.672); column_partial: some period of the column has
// no data or a member without data (its Total and Average are partial).
bool column_partial(const ConsumptionTable& table, size_t column);
std::optional<double> column_total(const ConsumptionTable& table, size_t column);
std::optional<double> column_average(const ConsumptionTable& table, size_t column);
// A value printed with at most 3 decimals and no trailing zeros ("269.672", "359").
double truncate3(double v);
std::string format_amount(double v);

}  // namespace gridlet::model
