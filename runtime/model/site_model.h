// The site model: what a facility manager thinks in, above the store's
// series. Declared in the site file under [model] and checked there with
// file:line, like every other section:
//
//   fluids      electricity (kWh), gas (m³, with its kWh per m³), water (m³)
//               and any other with its unit; the price of each (bill of
//               consumptions, Legrand §5.7) in [model] currency (ISO 4217).
//   loads       load types: the six pre-defined (RT 2012 uses: heating,
//               cooling, domestic_hot_water, lighting, ventilation,
//               auxiliary) and the site's own; a point without one is in
//               "others" (Legrand §2.4).
//   usages      the Socomec usages with their external keys (AirConditionning
//               ... sic) and the site's own (Socomec §2.4).
//   groups      measure groups; a point is in any number of them, counted
//               fully in each (Legrand §2.5, §5.3).
//   panel_boards, areas (site / building / floor / space, each with its
//               parent).
//   points      measuring points: the energy counter series (one, or several
//               with the time each was in service: a meter replaced), the
//               power series, fluid, load, usage, groups, panel board, area,
//               exclude_from_totals (Legrand §5.2).
//   tariffs     time-of-use prices of a fluid (days, hours, a date range),
//               which neither manual has.
//   virtual     points computed as sums and differences of others (Legrand §4
//               "virtual devices"), never stored.
//   hierarchies trees of nodes, one fluid each (Socomec §2.6): a node's
//               meter is the point that feeds it, its points those it feeds
//               (the energy-flow direction), its child nodes below it; a node
//               with a meter and children has a non-measured point = meter −
//               Σ children, per interval. A hierarchy may hang under another's
//               node (parent = "hierarchy/node").
//
// parse_site_model() refuses, naming file:line: unknown keys, bad names,
// duplicates, references to nothing, a point in two places of one
// hierarchy, cycles (areas, virtual points, nodes, hierarchies), mixed
// fluids in a hierarchy or a virtual point.
//
// Value types; any thread once built.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/config_schema.h"

namespace gridlet::model {

struct Fluid {
    std::string name;          // "electricity", "gas", "water", or the site's own
    std::string unit;          // what consumption is given in: "kWh", "m3", ...
    double kwh_per_unit = 0;   // gas: kWh per m³ (the supplier's conversion factor), else 0
    std::optional<double> price;  // currency per unit (bill of consumptions)
    std::string csv_code;      // Socomec CSV "Nature" (Elec) and EMS "Fluid" (ELEC) spellings
    std::string ems_code;
    bool predefined = false;
    uint32_t line = 0;
};

// A load type, a usage, a group, a panel board.
struct Category {
    std::string name;
    std::string label;         // for display ("Air conditioning"); the name when not given
    std::string external_key;  // usages: the Socomec external key
    std::string description;
    bool predefined = false;
    uint32_t line = 0;
};

struct Area {
    std::string name;
    std::string kind;          // "site", "building", "floor", "space"
    std::string parent;        // "" for a top one
    uint32_t line = 0;
};

// One counter series of a point, in service over [from_ms, to_ms).
struct EnergySource {
    std::string series;
    int64_t from_ms = INT64_MIN;
    int64_t to_ms = INT64_MAX;
};

struct Point {
    std::string name;
    std::vector<EnergySource> energy;  // time order, not overlapping; empty for a virtual point
    std::string power;                 // optional
    std::string fluid = "electricity";
    std::string load;                  // "" = others
    std::string usage;
    std::vector<std::string> groups;
    std::string panel_board;
    std::string area;
    bool exclude_from_totals = false;
    std::string description;
    // Virtual: Σ plus − Σ minus (names of points, real or virtual).
    bool is_virtual = false;
    std::vector<std::string> plus, minus;
    uint32_t line = 0;
};

struct Node {
    std::string name;
    std::string parent;               // a node of the same hierarchy; "" for the root
    std::string meter;                // the point that feeds it ("" = not measured at its input)
    std::vector<std::string> points;  // the points it feeds
    uint32_t line = 0;
};

struct Hierarchy {
    std::string name;
    std::string fluid;
    std::string parent;               // "hierarchy/node" it hangs under, or ""
    std::vector<Node> nodes;          // nodes[0] is the root
    uint32_t line = 0;
};

// A time-of-use price of a fluid (neither manual has them): `price` per
// unit while the local time is in [from_min, to_min) of one of `days`
// (to before from: across midnight, on the days it starts), within
// [valid_from, valid_to) (a price change). The first tariff of the fluid
// that applies gives the price; none: the fluid's average price.
struct Tariff {
    std::string fluid;
    std::string name;
    double price = 0;
    uint8_t days = 0x7F;        // bit d: weekday d (0 Sunday .. 6 Saturday)
    int from_min = 0;           // minutes after local midnight
    int to_min = 24 * 60;
    int64_t valid_from = INT64_MIN, valid_to = INT64_MAX;  // UTC ms
    uint32_t line = 0;
};

struct SiteModel {
    std::string currency;             // ISO 4217 ("EUR"); "" = no costs
    std::vector<Fluid> fluids;
    std::vector<Tariff> tariffs;      // in file order: the first that applies wins
    std::vector<Category> loads, usages, groups, panel_boards;
    std::vector<Area> areas;
    std::vector<Point> points;        // real and virtual, in file order
    std::vector<Hierarchy> hierarchies;

    bool empty() const { return points.empty(); }
    const Point* point(const std::string& name) const;
    const Fluid* fluid(const std::string& name) const;
    const Hierarchy* hierarchy(const std::string& name) const;
};

// The factor from a series' unit to a fluid's (Wh, kWh, MWh, GWh; m3, dm3,
// L); nullopt when one is not convertible to the other. An empty series
// unit is taken as the fluid's.
std::optional<double> unit_factor(std::string from, std::string to);

// The pre-defined load types and usages (names, labels, external keys).
const std::vector<Category>& predefined_loads();
const std::vector<Category>& predefined_usages();

// [model] of a site file (an empty model when there is none). Problems go
// to `diags` as "file:line: ..." and the model is then incomplete.
// `zone`: the site's IANA zone, for the local times of a meter's service.
SiteModel parse_site_model(const toml::table& root, const std::string& file, const std::string& zone,
                           config::Diagnostics& diags);

}  // namespace gridlet::model
