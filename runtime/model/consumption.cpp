#include "model/consumption.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace gridlet::model {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr size_t kMaxPeriods = 200'000;  // 22 years of hours

}  // namespace

Expected<Breakdown> parse_breakdown(const std::string& t) {
    static const std::pair<const char*, Breakdown> all[] = {
        {"point", Breakdown::point},           {"device", Breakdown::point}, {"load", Breakdown::load},
        {"group", Breakdown::group},           {"usage", Breakdown::usage},  {"area", Breakdown::area},
        {"panel_board", Breakdown::panel_board}, {"node", Breakdown::node},  {"fluid", Breakdown::fluid},
        {"total", Breakdown::total}};
    for (const auto& [name, b] : all)
        if (t == name) return b;
    return Status::invalid("'" + t + "' is not a breakdown (point, load, group, usage, area, panel_board, node, fluid, total)");
}

Expected<Period> parse_period(const std::string& t) {
    if (t == "15m" || t == "quarter_hour") return Period::quarter_hour;
    if (t == "hour") return Period::hour;
    if (t == "day") return Period::day;
    if (t == "week") return Period::week;
    if (t == "month") return Period::month;
    if (t == "year") return Period::year;
    return Status::invalid("'" + t + "' is not a period (15m, hour, day, week, month, year)");
}

const char* breakdown_name(Breakdown b) noexcept {
    switch (b) {
    case Breakdown::point: return "point";
    case Breakdown::load: return "load";
    case Breakdown::group: return "group";
    case Breakdown::usage: return "usage";
    case Breakdown::area: return "area";
    case Breakdown::panel_board: return "panel_board";
    case Breakdown::node: return "node";
    case Breakdown::fluid: return "fluid";
    case Breakdown::total: return "total";
    }
    return "?";
}

const char* period_name(Period p) noexcept {
    switch (p) {
    case Period::quarter_hour: return "15m";
    case Period::hour: return "hour";
    case Period::day: return "day";
    case Period::week: return "week";
    case Period::month: return "month";
    case Period::year: return "year";
    }
    return "?";
}

std::optional<double> price_at(const SiteModel& model, const std::string& fluid, int64_t t, const TimeZone& zone) {
    const int weekday = zone.weekday(t);
    const CivilTime c = zone.to_local(t);
    const int minute = c.hour * 60 + c.minute;
    auto on = [](const Tariff& tf, int d) { return (tf.days >> d) & 1; };
    for (const Tariff& tf : model.tariffs) {
        if (tf.fluid != fluid || t < tf.valid_from || t >= tf.valid_to) continue;
        const bool applies = tf.from_min < tf.to_min
                                 ? on(tf, weekday) && minute >= tf.from_min && minute < tf.to_min
                                 : (on(tf, weekday) && minute >= tf.from_min) || (on(tf, (weekday + 6) % 7) && minute < tf.to_min);
        if (applies) return tf.price;
    }
    const Fluid* f = model.fluid(fluid);
    return f ? f->price : std::nullopt;
}

bool column_partial(const ConsumptionTable& t, size_t column) {
    for (const auto& row : t.rows)
        if (column < row.size() && (!row[column].value || row[column].missing > 0)) return true;
    return false;
}

std::optional<double> column_total(const ConsumptionTable& t, size_t column) {
    std::optional<double> sum;
    for (const auto& row : t.rows)
        if (column < row.size() && row[column].value) sum = sum.value_or(0) + *row[column].value;
    return sum;
}

std::optional<double> column_average(const ConsumptionTable& t, size_t column) {
    const auto total = column_total(t, column);
    if (!total || t.rows.empty()) return std::nullopt;
    // The total as printed (3 decimals) first, so 1887.71 / 7 is 269.672 and
    // not 269.671 from 1887.7099999.
    return truncate3(std::round(*total * 1000.0) / 1000.0 / static_cast<double>(t.rows.size()));
}

double truncate3(double v) { return std::trunc(v * 1000.0 + (v >= 0 ? 1e-9 : -1e-9)) / 1000.0; }

std::string format_amount(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", std::round(v * 1000.0) / 1000.0);
    std::string s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    if (s == "-0") s = "0";
    return s;
}

Expected<std::vector<int64_t>> ConsumptionEngine::edges(Period period, int64_t from, int64_t to) const {
    if (from >= to) return Status::invalid("'from' must be before 'to'");
    std::vector<int64_t> e;
    if (period == Period::hour || period == Period::quarter_hour) {
        // Local hours (quarter hours): whole-hour offsets keep UTC hours; a
        // half-hour zone's local hours start at :30 UTC.
        const int64_t step = period == Period::hour ? kHourMs : kHourMs / 4;
        auto hour_start = [&](int64_t t) {
            const int64_t local = t + zone_.utc_offset_ms(t);
            return t - (((local % step) + step) % step);
        };
        auto next = [&](int64_t t) {
            const int64_t n = hour_start(t + step);
            return n > t ? n : t + step;
        };
        for (int64_t t = hour_start(from); t < to; t = next(t)) {
            e.push_back(t);
            if (e.size() > kMaxPeriods) return Status::invalid("too many periods; choose a longer period");
        }
        e.push_back(next(e.back()));
        return e;
    }
    const CalendarUnit unit = period == Period::day ? CalendarUnit::day
                              : period == Period::week ? CalendarUnit::week
                              : period == Period::month ? CalendarUnit::month
                                                        : CalendarUnit::year;
    for (int64_t t = zone_.start_of(unit, from); t < to; t = zone_.next_start(unit, t)) {
        e.push_back(t);
        if (e.size() > kMaxPeriods) return Status::invalid("too many periods; choose a longer period");
    }
    e.push_back(zone_.next_start(unit, e.back()));
    return e;
}

Expected<std::vector<Cell>> ConsumptionEngine::real_point(const Point& p, const std::vector<int64_t>& edges) {
    const Fluid* fluid = model_.fluid(p.fluid);
    std::vector<Cell> cells(edges.size() - 1);
    std::vector<bool> seen(cells.size(), false);
    for (const EnergySource& src : p.energy) {
        const auto id = registry_.find(src.series);
        if (!id) {
            notes_.push_back("point '" + p.name + "': series '" + src.series + "' is not in the store (no data yet?)");
            continue;
        }
        const auto meta = registry_.get(*id);
        if (!meta) continue;
        const auto factor = unit_factor(meta->unit, fluid ? fluid->unit : "");
        if (!factor)
            return Status::invalid("point '" + p.name + "': series '" + src.series + "' is in " + meta->unit + "; fluid " +
                                   p.fluid + " is in " + (fluid ? fluid->unit : "?"));
        // The edges within the meter's time in service.
        std::vector<int64_t> sub;
        std::vector<size_t> index;  // sub bucket -> cell
        for (size_t i = 0; i + 1 < edges.size(); ++i) {
            const int64_t a = std::max(edges[i], src.from_ms), b = std::min(edges[i + 1], src.to_ms);
            if (a >= b) continue;
            if (sub.empty() || sub.back() != a) {
                if (!sub.empty()) {  // a hole between (cannot happen with contiguous edges, kept for safety)
                    sub.push_back(a);
                    index.push_back(SIZE_MAX);
                } else {
                    sub.push_back(a);
                }
            }
            sub.push_back(b);
            index.push_back(i);
        }
        if (sub.size() < 2) continue;
        auto rows = query_.aggregate(*id, sub);
        if (!rows) return rows.status();
        const bool counter = meta->kind == SeriesKind::counter;
        for (size_t k = 0; k < rows->size(); ++k) {
            if (index[k] == SIZE_MAX) continue;
            const store::RollupRow& r = (*rows)[k];
            const bool has = counter ? r.intervals > 0 : r.count > 0;
            if (!has) continue;
            Cell& c = cells[index[k]];
            c.value = c.value.value_or(0) + (counter ? r.consumption : r.sum) * *factor;
            seen[index[k]] = true;
        }
    }
    for (size_t i = 0; i < cells.size(); ++i)
        if (!seen[i]) cells[i].missing = 1;
    return cells;
}

Expected<std::vector<Cell>> ConsumptionEngine::point(const std::string& name, const std::vector<int64_t>& edges) {
    if (edges != cache_edges_) {
        cache_.clear();
        cache_notes_.clear();
        cache_edges_ = edges;
    }
    if (auto it = cache_.find(name); it != cache_.end()) {
        const auto& said = cache_notes_[name];
        notes_.insert(notes_.end(), said.begin(), said.end());
        return it->second;
    }
    const size_t notes_before = notes_.size();
    const Point* p = model_.point(name);
    if (!p) return Status::invalid("'" + name + "' is not a point of the site model");
    std::vector<Cell> cells;
    if (!p->is_virtual) {
        auto r = real_point(*p, edges);
        if (!r) return r.status();
        cells = std::move(*r);
    } else {
        cells.assign(edges.size() - 1, Cell{0.0, false, 0});
        for (int sign : {1, -1})
            for (const std::string& term : sign > 0 ? p->plus : p->minus) {
                auto t = point(term, edges);  // no cycle: parse_site_model refused them
                if (!t) return t.status();
                for (size_t i = 0; i < cells.size(); ++i) {
                    if (!(*t)[i].value) {
                        cells[i].value.reset();
                        cells[i].missing += 1;
                    } else if (cells[i].value) {
                        *cells[i].value += sign * *(*t)[i].value;
                    }
                }
            }
    }
    cache_[name] = cells;
    cache_notes_[name].assign(notes_.begin() + static_cast<std::ptrdiff_t>(notes_before), notes_.end());
    return cells;
}

Expected<std::vector<Cell>> ConsumptionEngine::sum_of(const std::vector<const Point*>& members,
                                                      const std::vector<int64_t>& edges) {
    std::vector<Cell> out(edges.size() - 1);
    for (const Point* m : members) {
        auto cells = point(m->name, edges);
        if (!cells) return cells.status();
        for (size_t i = 0; i < out.size(); ++i) {
            if ((*cells)[i].value) out[i].value = out[i].value.value_or(0) + *(*cells)[i].value;
            else out[i].missing += 1;
        }
    }
    return out;
}

Expected<std::vector<Cell>> ConsumptionEngine::node(const Hierarchy& h, const Node& n, const std::vector<int64_t>& edges,
                                                    std::vector<Cell>* not_measured) {
    const size_t count = edges.size() - 1;
    // What it feeds: its points, its child nodes, the hierarchies under it.
    std::vector<std::vector<Cell>> parts;
    for (const std::string& pn : n.points) {
        auto c = point(pn, edges);
        if (!c) return c.status();
        parts.push_back(std::move(*c));
    }
    for (const Node& child : h.nodes)
        if (child.parent == n.name) {
            auto c = node(h, child, edges, nullptr);
            if (!c) return c.status();
            parts.push_back(std::move(*c));
        }
    for (const Hierarchy& sub : model_.hierarchies)
        if (sub.parent == h.name + "/" + n.name && !sub.nodes.empty()) {
            auto c = node(sub, sub.nodes.front(), edges, nullptr);
            if (!c) return c.status();
            parts.push_back(std::move(*c));
        }
    std::vector<Cell> fed(count, Cell{0.0, false, 0});
    for (const auto& part : parts)
        for (size_t i = 0; i < count; ++i) {
            if (!part[i].value) {
                fed[i].value.reset();
                fed[i].missing += 1;
            } else if (fed[i].value) {
                *fed[i].value += *part[i].value;
            }
        }
    if (n.meter.empty()) {
        if (not_measured) not_measured->clear();
        if (parts.empty()) return std::vector<Cell>(count, Cell{std::nullopt, false, 1});
        return fed;
    }
    auto meter = point(n.meter, edges);
    if (!meter) return meter.status();
    if (not_measured) {
        not_measured->assign(count, Cell{});
        if (!parts.empty())
            for (size_t i = 0; i < count; ++i) {
                Cell& c = (*not_measured)[i];
                c.missing = (*meter)[i].missing + fed[i].missing;
                if ((*meter)[i].value && fed[i].value) {
                    c.value = *(*meter)[i].value - *fed[i].value;
                    c.negative = *c.value < -1e-9;
                }
            }
        else
            not_measured->clear();
    }
    return *meter;
}

Expected<ConsumptionTable> ConsumptionEngine::priced_by_tariffs(const ConsumptionRequest& req, const Fluid& fluid) {
    auto coarse = edges(req.period, req.from, req.to);
    if (!coarse) return coarse.status();
    // Hours, or quarter hours when a tariff turns off the hour.
    bool quarter = req.period == Period::quarter_hour;
    for (const Tariff& tf : model_.tariffs)
        if (tf.fluid == fluid.name)
            quarter |= tf.from_min % 60 != 0 || tf.to_min % 60 != 0 ||
                       (tf.valid_from != INT64_MIN && (tf.valid_from + zone_.utc_offset_ms(tf.valid_from)) % kHourMs != 0) ||
                       (tf.valid_to != INT64_MAX && (tf.valid_to + zone_.utc_offset_ms(tf.valid_to)) % kHourMs != 0);
    ConsumptionRequest fine = req;
    fine.cost = false;
    fine.equivalent_kwh = false;
    fine.period = quarter ? Period::quarter_hour : Period::hour;
    fine.from = coarse->front();
    fine.to = coarse->back();
    auto ft = one_fluid(fine);
    if (!ft) return ft.status();
    // Which periods lack data is what the unpriced table of the same
    // periods says (a quarter hour between hourly readings is no gap).
    ConsumptionRequest plain = req;
    plain.cost = false;
    plain.equivalent_kwh = false;
    auto coarse_table = one_fluid(plain);
    if (!coarse_table) return coarse_table.status();
    ConsumptionTable t = std::move(*ft);
    t.period = req.period;
    for (Column& c : t.columns) c.unit = model_.currency;
    std::vector<std::vector<Cell>> rows(coarse->size() - 1, std::vector<Cell>(t.columns.size()));
    size_t k = 0;  // the coarse period of fine row i
    for (size_t i = 0; i < t.starts.size(); ++i) {
        while (k + 1 < coarse->size() - 1 && t.starts[i] >= (*coarse)[k + 1]) ++k;
        const auto price = price_at(model_, fluid.name, t.starts[i], zone_);
        if (!price)
            return Status::invalid("no price for " + fluid.name + " at " + zone_.format_iso(t.starts[i]) +
                                   ": no tariff applies and the fluid has no average price ([[model.fluids]] price)");
        for (size_t c = 0; c < t.columns.size(); ++c) {
            const Cell& f = t.rows[i][c];
            Cell& out = rows[k][c];
            if (f.value) out.value = out.value.value_or(0) + *f.value * *price;
            out.negative |= f.negative;
        }
    }
    for (size_t k = 0; k < rows.size(); ++k)
        for (size_t c = 0; c < rows[k].size() && c < coarse_table->rows[k].size(); ++c) {
            rows[k][c].missing = coarse_table->rows[k][c].missing;
            if (!coarse_table->rows[k][c].value) rows[k][c].value.reset();
        }
    t.starts.assign(coarse->begin(), coarse->end() - 1);
    t.to = coarse->back();
    t.rows = std::move(rows);
    return t;
}

Expected<ConsumptionTable> ConsumptionEngine::by_fluid(const ConsumptionRequest& req) {
    // Each fluid with points, in its own unit (gas also as equivalent kWh
    // when it has its factor); with cost, each in currency and a total.
    // Without cost there is no total: kWh and m³ do not add (and Legrand
    // §5.4: kWh and equivalent kWh of gas are not compared).
    ConsumptionTable t;
    t.by = Breakdown::fluid;
    t.period = req.period;
    if (req.cost && model_.currency.empty()) return Status::invalid("costs need [model] currency and prices");
    auto e = edges(req.period, req.from, req.to);
    if (!e) return e.status();
    t.starts.assign(e->begin(), e->end() - 1);
    t.to = e->back();
    t.columns.push_back({"total", req.cost ? "Total" : "Total (not added: units differ)", "", req.cost ? model_.currency : ""});
    // The total of costs: the sum of the fluids that have a cost for the
    // period (partial, '*', when some lack data), empty when none has, as
    // every other total (sum_of): a period without data never costs 0.
    t.rows.assign(t.starts.size(), {Cell{}});
    for (const Fluid& f : model_.fluids) {
        ConsumptionRequest r = req;
        r.by = Breakdown::total;
        r.fluid = f.name;
        if (std::none_of(model_.points.begin(), model_.points.end(), [&](const Point& p) { return p.fluid == f.name; })) continue;
        const bool tariffs = std::any_of(model_.tariffs.begin(), model_.tariffs.end(), [&](const Tariff& tf) { return tf.fluid == f.name; });
        if (req.cost && !f.price && !tariffs) {
            notes_.push_back("fluid '" + f.name + "' has no price: left out of the costs");
            continue;
        }
        auto sub = one_fluid(r);
        if (!sub) return sub.status();
        t.columns.push_back({f.name, f.name, f.name, sub->columns[0].unit});
        for (size_t i = 0; i < t.rows.size(); ++i) {
            const Cell& c = sub->rows[i][0];
            t.rows[i].push_back(c);
            if (req.cost) {
                Cell& total = t.rows[i][0];
                if (c.value) total.value = total.value.value_or(0) + *c.value;
                total.missing += c.missing;
            }
        }
        if (!req.cost && f.kwh_per_unit > 0) {
            r.equivalent_kwh = true;
            auto eq = one_fluid(r);
            if (!eq) return eq.status();
            t.columns.push_back({f.name + "_kwh", f.name + " equivalent", f.name, "kWh"});
            for (size_t i = 0; i < t.rows.size(); ++i) t.rows[i].push_back(eq->rows[i][0]);
        }
    }
    return t;
}

Expected<ConsumptionTable> ConsumptionEngine::table(const ConsumptionRequest& req) {
    // The points' cells stay cached across the tables of one engine (the
    // Legrand tree asks for a month by point, group, load and fluid): the
    // store is read once per point and set of edges.
    notes_.clear();
    auto t = req.by == Breakdown::fluid ? by_fluid(req) : one_fluid(req);
    if (t) {
        std::set<std::string> uniq(notes_.begin(), notes_.end());
        t->notes.assign(uniq.begin(), uniq.end());
    }
    return t;
}

Expected<ConsumptionTable> ConsumptionEngine::one_fluid(const ConsumptionRequest& req) {
    ConsumptionTable t;
    t.by = req.by;
    t.period = req.period;
    t.fluid = req.fluid;
    const Fluid* fluid = model_.fluid(req.fluid);
    if (!fluid) return Status::invalid("'" + req.fluid + "' is not a fluid of the site model");
    double scale = 1;
    std::string unit = fluid->unit;
    if (req.equivalent_kwh) {
        if (!(fluid->kwh_per_unit > 0))
            return Status::invalid("fluid '" + fluid->name + "' has no kwh_per_unit ([[model.fluids]]) for equivalent kWh");
        scale = fluid->kwh_per_unit;
        unit = "kWh";
    }
    const bool tariffs = std::any_of(model_.tariffs.begin(), model_.tariffs.end(), [&](const Tariff& tf) { return tf.fluid == fluid->name; });
    if (req.cost && tariffs) return priced_by_tariffs(req, *fluid);
    if (req.cost) {
        if (!fluid->price || model_.currency.empty())
            return Status::invalid("fluid '" + fluid->name + "' has no price ([[model.fluids]] price and [model] currency)");
        scale = *fluid->price;  // per the fluid's own unit
        unit = model_.currency;
    }
    auto e = edges(req.period, req.from, req.to);
    if (!e) return e.status();
    const std::vector<int64_t>& ed = *e;
    t.starts.assign(ed.begin(), ed.end() - 1);
    t.to = ed.back();

    // The fluid's points; those counted in totals.
    std::vector<const Point*> of_fluid, counted;
    for (const Point& p : model_.points)
        if (p.fluid == req.fluid) {
            of_fluid.push_back(&p);
            if (!p.exclude_from_totals) counted.push_back(&p);
        }
    if (of_fluid.empty()) return Status::invalid("no [[model.points]] measure " + req.fluid);
    std::vector<std::pair<Column, std::vector<Cell>>> cols;
    auto add_col = [&](std::string name, std::string label, Expected<std::vector<Cell>> cells) -> Status {
        if (!cells) return cells.status();
        cols.push_back({Column{std::move(name), std::move(label), req.fluid, unit}, std::move(*cells)});
        return Status::ok();
    };
    // The total column: the fluid's total, or the node's consumption.
    std::vector<Cell> total;
    if (req.by == Breakdown::node) {
        const Hierarchy* h = nullptr;
        std::string node_name;
        if (req.node.empty()) {
            for (const Hierarchy& x : model_.hierarchies)
                if (x.fluid == req.fluid && x.parent.empty() && !h) h = &x;
            if (!h) return Status::invalid("no hierarchy of " + req.fluid + " ([[model.hierarchies]])");
        } else {
            const size_t slash = req.node.find('/');
            h = model_.hierarchy(req.node.substr(0, slash));
            if (!h) return Status::invalid("'" + req.node.substr(0, slash) + "' is not a hierarchy");
            if (slash != std::string::npos) node_name = req.node.substr(slash + 1);
        }
        if (h->fluid != req.fluid)
            return Status::invalid("hierarchy '" + h->name + "' is " + h->fluid + ", not " + req.fluid);
        const Node* n = h->nodes.empty() ? nullptr : &h->nodes.front();
        if (!node_name.empty()) {
            n = nullptr;
            for (const Node& x : h->nodes)
                if (x.name == node_name) n = &x;
            if (!n) return Status::invalid("'" + node_name + "' is not a node of hierarchy '" + h->name + "'");
        }
        if (!n) return Status::invalid("hierarchy '" + h->name + "' has no nodes");
        std::vector<Cell> residual;
        auto whole = node(*h, *n, ed, &residual);
        if (!whole) return whole.status();
        total = std::move(*whole);
        for (const std::string& pn : n->points)
            if (Status st = add_col(pn, pn, point(pn, ed)); !st) return st;
        for (const Node& child : h->nodes)
            if (child.parent == n->name)
                if (Status st = add_col(child.name, child.name, node(*h, child, ed, nullptr)); !st) return st;
        for (const Hierarchy& sub : model_.hierarchies)
            if (sub.parent == h->name + "/" + n->name && !sub.nodes.empty())
                if (Status st = add_col(sub.name, sub.name, node(sub, sub.nodes.front(), ed, nullptr)); !st) return st;
        if (!residual.empty())
            cols.push_back({Column{n->name + ".not_measured", n->name + " (not measured)", req.fluid, unit}, residual});
    } else {
        auto all = sum_of(counted, ed);
        if (!all) return all.status();
        total = std::move(*all);
        // A category: its members among the counted points (those with none: "others").
        auto by_category = [&](const std::vector<Category>& cats, auto member_of, const char* none) -> Status {
            std::vector<const Point*> unassigned = counted;
            for (const Category& c : cats) {
                std::vector<const Point*> members;
                for (const Point* p : counted)
                    if (member_of(*p, c.name)) members.push_back(p);
                if (members.empty()) continue;
                std::erase_if(unassigned, [&](const Point* p) { return member_of(*p, c.name); });
                if (Status st = add_col(c.name, c.label, sum_of(members, ed)); !st) return st;
            }
            if (none && !unassigned.empty())
                if (Status st = add_col(none, none, sum_of(unassigned, ed)); !st) return st;
            return Status::ok();
        };
        Status st = Status::ok();
        switch (req.by) {
        case Breakdown::point:
            for (const Point* p : of_fluid)  // details: excluded points too
            {
                if (st = add_col(p->name, p->exclude_from_totals ? p->name + " (excluded from totals)" : p->name,
                                 point(p->name, ed));
                    !st)
                    return st;
                cols.back().first.excluded = p->exclude_from_totals;
            }
            break;
        case Breakdown::load:
            st = by_category(model_.loads, [](const Point& p, const std::string& c) { return p.load == c; }, "others");
            break;
        case Breakdown::usage:
            st = by_category(model_.usages, [](const Point& p, const std::string& c) { return p.usage == c; }, "undefined");
            break;
        case Breakdown::group:
            st = by_category(model_.groups,
                             [](const Point& p, const std::string& c) {
                                 return std::find(p.groups.begin(), p.groups.end(), c) != p.groups.end();
                             },
                             nullptr);
            break;
        case Breakdown::panel_board:
            st = by_category(model_.panel_boards, [](const Point& p, const std::string& c) { return p.panel_board == c; },
                             "no_panel_board");
            break;
        case Breakdown::area: {
            std::vector<Category> areas;
            for (const Area& a : model_.areas) areas.push_back({a.name, a.name, "", "", false, a.line});
            // A point counts in its area and in every area above it.
            auto in_area = [this](const Point& p, const std::string& c) {
                std::string at = p.area;
                for (size_t steps = 0; !at.empty() && steps <= model_.areas.size(); ++steps) {
                    if (at == c) return true;
                    auto it = std::find_if(model_.areas.begin(), model_.areas.end(), [&](const Area& a) { return a.name == at; });
                    at = it == model_.areas.end() ? "" : it->parent;
                }
                return false;
            };
            st = by_category(areas, in_area, "no_area");
            break;
        }
        case Breakdown::fluid:  // by_fluid
        case Breakdown::total:
        case Breakdown::node:
            break;
        }
        if (!st) return st;
    }
    t.columns.push_back({"total", req.by == Breakdown::node ? "Total" : "Total " + req.fluid, req.fluid, unit});
    for (auto& [c, _] : cols) t.columns.push_back(c);
    t.rows.assign(t.starts.size(), {});
    for (size_t i = 0; i < t.starts.size(); ++i) {
        t.rows[i].reserve(1 + cols.size());
        t.rows[i].push_back(total[i]);
        for (auto& [_, cells] : cols) t.rows[i].push_back(cells[i]);
        for (Cell& c : t.rows[i])
            if (c.value) *c.value *= scale;
    }
    return t;
}

}  // namespace gridlet::model
