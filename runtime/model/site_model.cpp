#include "model/site_model.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>

#include "core/timezone.h"
#include "model/site_model_keys.h"

namespace gridlet::model {

using namespace detail;
using config::Diagnostics;
using config::KeySpec;
using config::ValueType;

std::optional<double> unit_factor(std::string from, std::string to) {
    auto norm = [](std::string u) {
        if (u == "m³") u = "m3";
        if (u == "dm³") u = "dm3";
        if (u == "l") u = "L";
        return u;
    };
    from = norm(from);
    to = norm(to);
    if (from.empty() || from == to) return 1.0;
    struct U {
        const char* name;
        int dim;  // 0 energy, 1 volume
        double base;
    };
    static const U units[] = {{"Wh", 0, 1e-3}, {"kWh", 0, 1}, {"MWh", 0, 1e3}, {"GWh", 0, 1e6},
                              {"m3", 1, 1},    {"dm3", 1, 1e-3}, {"L", 1, 1e-3}};
    const U* a = nullptr;
    const U* b = nullptr;
    for (const U& u : units) {
        if (from == u.name) a = &u;
        if (to == u.name) b = &u;
    }
    if (!a || !b || a->dim != b->dim) return std::nullopt;
    return a->base / b->base;
}

const std::vector<Category>& predefined_loads() {
    // The six RT 2012 uses the Legrand manual pre-defines (§2.4 names
    // heating and air conditioning; the rest are RT 2012's own list).
    static const std::vector<Category> v = {
        {"heating", "Heating", "", "", true, 0},
        {"cooling", "Air conditioning", "", "", true, 0},
        {"domestic_hot_water", "Domestic hot water", "", "", true, 0},
        {"lighting", "Lighting", "", "", true, 0},
        {"ventilation", "Ventilation", "", "", true, 0},
        {"auxiliary", "Auxiliaries (pumps, fans)", "", "", true, 0},
    };
    return v;
}

const std::vector<Category>& predefined_usages() {
    // Socomec WEBVIEW §2.4, external keys as printed (AirConditionning sic);
    // IndoorLighting is used by its examples though missing from its list.
    static const std::vector<Category> v = {
        {"air_conditioning", "Air conditioning", "AirConditionning", "", true, 0},
        {"auxiliary", "Auxiliary (fan, pumps)", "Auxiliary", "", true, 0},
        {"cold_water", "Cold water", "ColdWater", "", true, 0},
        {"custom", "Custom usage", "Custom", "", true, 0},
        {"domestic_hot_water", "Hot water production", "DomesticHotWater", "", true, 0},
        {"heating", "Heating", "Heating", "", true, 0},
        {"hot_water", "Hot water", "HotWater", "", true, 0},
        {"indoor_lighting", "Indoor lighting", "IndoorLighting", "", true, 0},
    };
    return v;
}

const Point* SiteModel::point(const std::string& name) const {
    for (const Point& p : points)
        if (p.name == name) return &p;
    return nullptr;
}

const Fluid* SiteModel::fluid(const std::string& name) const {
    for (const Fluid& f : fluids)
        if (f.name == name) return &f;
    return nullptr;
}

const Hierarchy* SiteModel::hierarchy(const std::string& name) const {
    for (const Hierarchy& h : hierarchies)
        if (h.name == name) return &h;
    return nullptr;
}

SiteModel parse_site_model(const toml::table& root, const std::string& file, const std::string& zone_name,
                           Diagnostics& diags) {
    SiteModel m;
    m.fluids = {{"electricity", "kWh", 0, std::nullopt, "Elec", "ELEC", true, 0},
                {"gas", "m3", 0, std::nullopt, "Gas", "GAS", true, 0},
                {"water", "m3", 0, std::nullopt, "Water", "WATER", true, 0}};
    m.loads = predefined_loads();
    m.usages = predefined_usages();
    const toml::node* n = root.get("model");
    if (!n) return m;
    const uint32_t model_line = config::line_of(*n);
    if (!n->is_table()) {
        diags.push_back({file, model_line, "'model' must be a table: [model]"});
        return m;
    }
    const toml::table& t = *n->as_table();
    auto add = [&](uint32_t line, std::string msg) { diags.push_back({file, line, std::move(msg)}); };
    const nlohmann::json top = config::validate_table(t, model_keys(), file, "[model]", diags, model_line);
    m.currency = str(top, "currency");
    if (top.contains("currency") && !iso4217(m.currency))
        add(model_line, "[model] currency: '" + m.currency + "' is not an ISO 4217 currency code (EUR, USD, GBP, CHF, ...)");

    TimeZone zone;
    if (auto z = TimeZone::load(zone_name)) zone = *z;

    // A name: well formed, not one of the columns consumption adds
    // ("total", and the columns of what has no load, usage, area or panel
    // board), and new in its kind.
    auto name_ok = [&](const std::string& name, const std::string& where, uint32_t line, std::set<std::string>& seen) {
        if (!good_name(name)) {
            add(line, where + ": name '" + name + "' may use only letters, digits, '_', '-', '.' (at most 64, starting with a letter, a digit or '_')");
            return false;
        }
        static const std::set<std::string> reserved = {"total", "others", "undefined", "no_area", "no_panel_board"};
        if (reserved.count(name) || name.find(".not_measured") != std::string::npos) {
            add(line, where + ": the name '" + name + "' is one of the columns consumption adds (total, others, undefined, no_area, no_panel_board, <node>.not_measured)");
            return false;
        }
        if (!seen.insert(name).second) {
            add(line, where + ": '" + name + "' is declared twice");
            return false;
        }
        return true;
    };

    // Fluids: the pre-defined ones take a price (and gas its factor); others are new.
    {
        std::set<std::string> seen;
        for (const toml::table* ft : tables_of(t, "fluids", "model.fluids", file, diags)) {
            const uint32_t line = config::line_of(*ft);
            const nlohmann::json j = config::validate_table(*ft, fluid_keys(), file, "[[model.fluids]]", diags, line);
            const std::string name = str(j, "name");
            if (!j.contains("name") || !name_ok(name, "[[model.fluids]]", line, seen)) continue;
            Fluid* f = nullptr;
            for (Fluid& x : m.fluids)
                if (x.name == name) f = &x;
            if (!f) {
                if (!j.contains("unit")) {
                    add(line, "[[model.fluids]] '" + name + "': a fluid of the site's own needs its unit (e.g. unit = \"kWh\")");
                    continue;
                }
                m.fluids.push_back({name, "", 0, std::nullopt, name, name, false, line});
                f = &m.fluids.back();
            } else if (j.contains("unit") && j["unit"].get<std::string>() != f->unit) {
                add(line, "[[model.fluids]] '" + name + "': its unit is " + f->unit + " (a pre-defined fluid)");
                continue;
            }
            f->line = line;
            if (j.contains("unit") && !known_unit(j["unit"].get<std::string>())) {
                add(line, "[[model.fluids]] '" + name + "': unit '" + j["unit"].get<std::string>() +
                              "' is not one consumption converts (Wh, kWh, MWh, GWh, m3, dm3, L)");
                continue;
            }
            if (j.contains("unit")) f->unit = j["unit"].get<std::string>();
            if (j.contains("price")) f->price = j["price"].get<double>();
            if (j.contains("kwh_per_unit")) {
                if (f->unit == "kWh") {
                    add(line, "[[model.fluids]] '" + name + "': kwh_per_unit converts a volume to kWh; this fluid is in kWh already");
                    continue;
                }
                f->kwh_per_unit = j["kwh_per_unit"].get<double>();
                if (!(f->kwh_per_unit > 0)) add(line, "[[model.fluids]] '" + name + "': kwh_per_unit must be > 0");
            }
            if (f->price && m.currency.empty())
                add(line, "[[model.fluids]] '" + name + "': a price needs [model] currency (e.g. currency = \"EUR\")");
        }
    }

    // Tariffs: time-of-use prices.
    {
        std::set<std::string> seen;
        for (const toml::table* tt : tables_of(t, "tariffs", "model.tariffs", file, diags)) {
            const uint32_t line = config::line_of(*tt);
            const nlohmann::json j = config::validate_table(*tt, tariff_keys(), file, "[[model.tariffs]]", diags, line);
            const std::string name = str(j, "name");
            if (!j.contains("name") || !j.contains("price") || !name_ok(name, "[[model.tariffs]]", line, seen)) continue;
            const std::string w = "[[model.tariffs]] '" + name + "'";
            Tariff tf;
            tf.name = name;
            tf.line = line;
            tf.fluid = j.value("fluid", "electricity");
            tf.price = j["price"].get<double>();
            if (!m.fluid(tf.fluid)) add(line, w + ": fluid '" + tf.fluid + "' is not a fluid");
            if (m.currency.empty()) add(line, w + ": a price needs [model] currency (e.g. currency = \"EUR\")");
            if (!(tf.price >= 0)) add(line, w + ": price must be >= 0");
            const auto days = parse_days(j.value("days", "*"));
            if (!days) add(line, w + ": days '" + j.value("days", "*") + "' must be days such as \"mon-fri\", \"sat,sun\" or \"*\"");
            else tf.days = *days;
            const auto from = parse_hhmm(j.value("from", "00:00")), to = parse_hhmm(j.value("to", "24:00"));
            if (!from || !to) {
                add(line, w + ": from and to must be local times \"HH:MM\" (00:00..24:00)");
            } else if (*from == *to) {
                add(line, w + ": from and to are the same time: it would never apply");
            } else {
                tf.from_min = *from;
                tf.to_min = *to;
            }
            for (const char* k : {"valid_from", "valid_to"}) {
                if (!j.contains(k)) continue;
                auto at = local_instant(zone, j[k].get<std::string>());
                if (!at) {
                    add(line, w + ": '" + k + "': " + at.status().message());
                    continue;
                }
                (std::string(k) == "valid_from" ? tf.valid_from : tf.valid_to) = *at;
            }
            if (tf.valid_from >= tf.valid_to) add(line, w + ": valid_from must be before valid_to");
            m.tariffs.push_back(std::move(tf));
        }
    }

    // Loads, usages, groups, panel boards.
    auto categories = [&](const char* key, std::vector<Category>& into, bool usage) {
        const std::string where = std::string("[[model.") + key + "]]";
        std::set<std::string> seen;
        for (const Category& c : into) seen.insert(c.name);
        for (const toml::table* ct : tables_of(t, key, std::string("model.") + key, file, diags)) {
            const uint32_t line = config::line_of(*ct);
            const nlohmann::json j = config::validate_table(*ct, category_keys(usage), file, where, diags, line);
            const std::string name = str(j, "name");
            if (!j.contains("name")) continue;
            if (seen.count(name) && std::any_of(into.begin(), into.end(), [&](const Category& c) { return c.name == name && c.predefined; })) {
                add(line, where + ": '" + name + "' is pre-defined");
                continue;
            }
            if (!name_ok(name, where, line, seen)) continue;
            Category c{name, str(j, "label"), str(j, "external_key"), str(j, "description"), false, line};
            if (c.label.empty()) c.label = name;
            if (usage && c.external_key.empty()) c.external_key = name;
            into.push_back(std::move(c));
        }
    };
    categories("loads", m.loads, false);
    categories("usages", m.usages, true);
    categories("groups", m.groups, false);
    categories("panel_boards", m.panel_boards, false);
    auto has = [](const std::vector<Category>& v, const std::string& name) {
        return std::any_of(v.begin(), v.end(), [&](const Category& c) { return c.name == name; });
    };

    // Areas: each in its parent, down the site > building > floor > space order.
    {
        std::set<std::string> seen;
        for (const toml::table* at : tables_of(t, "areas", "model.areas", file, diags)) {
            const uint32_t line = config::line_of(*at);
            const nlohmann::json j = config::validate_table(*at, area_keys(), file, "[[model.areas]]", diags, line);
            const std::string name = str(j, "name");
            if (!j.contains("name") || !j.contains("kind") || !name_ok(name, "[[model.areas]]", line, seen)) continue;
            m.areas.push_back({name, str(j, "kind"), str(j, "parent"), line});
        }
        static const std::vector<std::string> order = {"site", "building", "floor", "space"};
        auto rank = [&](const std::string& k) { return std::find(order.begin(), order.end(), k) - order.begin(); };
        for (const Area& a : m.areas) {
            if (a.parent.empty()) continue;
            auto p = std::find_if(m.areas.begin(), m.areas.end(), [&](const Area& x) { return x.name == a.parent; });
            if (p == m.areas.end()) {
                add(a.line, "[[model.areas]] '" + a.name + "': parent '" + a.parent + "' is not an area");
            } else if (rank(p->kind) >= rank(a.kind)) {
                add(a.line, "[[model.areas]] '" + a.name + "': a " + a.kind + " cannot be in a " + p->kind + " ('" + p->name +
                                "'): site > building > floor > space");
            }
        }
    }

    // Points, real and virtual: their memberships exist.
    std::set<std::string> point_names;
    auto read_point = [&](const toml::table& pt, bool is_virtual) {
        const std::string where = is_virtual ? "[[model.virtual]]" : "[[model.points]]";
        const uint32_t line = config::line_of(pt);
        const nlohmann::json j = config::validate_table(pt, point_keys(is_virtual), file, where, diags, line);
        const std::string name = str(j, "name");
        if (!j.contains("name") || !name_ok(name, where, line, point_names)) return;
        const std::string w = where + " '" + name + "'";
        Point p;
        p.name = name;
        p.line = line;
        p.is_virtual = is_virtual;
        p.fluid = j.value("fluid", "electricity");
        p.load = str(j, "load");
        p.usage = str(j, "usage");
        p.panel_board = str(j, "panel_board");
        p.area = str(j, "area");
        p.description = str(j, "description");
        p.exclude_from_totals = j.value("exclude_from_totals", false);
        p.groups = strings(j, "groups", w, line, file, diags);
        if (!m.fluid(p.fluid)) add(line, w + ": fluid '" + p.fluid + "' is not a fluid (electricity, gas, water or a [[model.fluids]])");
        if (!p.load.empty() && !has(m.loads, p.load)) add(line, w + ": load '" + p.load + "' is not a load type (a [[model.loads]] or a pre-defined one)");
        if (!p.usage.empty() && !has(m.usages, p.usage)) add(line, w + ": usage '" + p.usage + "' is not a usage (a [[model.usages]] or a pre-defined one)");
        if (!p.panel_board.empty() && !has(m.panel_boards, p.panel_board))
            add(line, w + ": panel_board '" + p.panel_board + "' is not a [[model.panel_boards]]");
        if (!p.area.empty() && std::none_of(m.areas.begin(), m.areas.end(), [&](const Area& a) { return a.name == p.area; }))
            add(line, w + ": area '" + p.area + "' is not a [[model.areas]]");
        std::set<std::string> in_groups;
        for (const std::string& g : p.groups) {
            if (!has(m.groups, g)) add(line, w + ": group '" + g + "' is not a [[model.groups]]");
            if (!in_groups.insert(g).second) add(line, w + ": group '" + g + "' is listed twice");
        }
        if (is_virtual) {
            p.plus = strings(j, "plus", w, line, file, diags);
            p.minus = strings(j, "minus", w, line, file, diags);
            if (p.plus.empty()) add(line, w + ": 'plus' must name at least one point (a virtual point is Σ plus − Σ minus)");
        } else {
            if (j.contains("energy") == j.contains("energy_history"))
                add(line, w + ": give its counter as energy = \"device/point\", or energy_history = [...] for a meter replaced");
            if (j.contains("energy")) {
                p.energy.push_back({j["energy"].get<std::string>()});
            } else if (j.contains("energy_history")) {
                for (const toml::table* ht : tables_of(pt, "energy_history", "model.points.energy_history", file, diags)) {
                    const uint32_t hl = config::line_of(*ht) ? config::line_of(*ht) : line;
                    static const std::vector<KeySpec> hk = {
                        config::required_key("series", ValueType::string, "the counter series, device/point"),
                        config::key("from", ValueType::string, std::nullopt, "in service from (site time)"),
                        config::key("to", ValueType::string, std::nullopt, "in service until (site time)")};
                    const nlohmann::json h = config::validate_table(*ht, hk, file, w + " energy_history", diags, hl);
                    EnergySource src{str(h, "series")};
                    for (const char* k : {"from", "to"}) {
                        if (!h.contains(k)) continue;
                        auto at = local_instant(zone, h[k].get<std::string>());
                        if (!at) {
                            add(hl, w + " energy_history: '" + k + "': " + at.status().message());
                            continue;
                        }
                        (std::string(k) == "from" ? src.from_ms : src.to_ms) = *at;
                    }
                    p.energy.push_back(std::move(src));
                }
                for (size_t i = 0; i < p.energy.size(); ++i) {
                    const EnergySource& s = p.energy[i];
                    if (s.from_ms >= s.to_ms) add(line, w + " energy_history: '" + s.series + "': 'from' must be before 'to'");
                    if (i > 0 && s.from_ms < p.energy[i - 1].to_ms)
                        add(line, w + " energy_history: '" + s.series + "' starts before '" + p.energy[i - 1].series +
                                      "' ends: list the meters in time order, one at a time (set 'to' and 'from')");
                }
            }
            for (const EnergySource& s : p.energy)
                if (!s.series.empty() && !good_series(s.series))
                    add(line, w + ": energy series '" + s.series + "' must be \"device/point\" (no pattern)");
            p.power = str(j, "power");
            if (!p.power.empty() && !good_series(p.power)) add(line, w + ": power series '" + p.power + "' must be \"device/point\"");
        }
        m.points.push_back(std::move(p));
    };
    for (const toml::table* pt : tables_of(t, "points", "model.points", file, diags)) read_point(*pt, false);
    for (const toml::table* pt : tables_of(t, "virtual", "model.virtual", file, diags)) read_point(*pt, true);

    // Virtual points: terms exist, one fluid, no cycle.
    for (const Point& p : m.points) {
        if (!p.is_virtual) continue;
        std::set<std::string> terms;
        for (const auto* list : {&p.plus, &p.minus})
            for (const std::string& term : *list) {
                const Point* q = m.point(term);
                if (!q) {
                    add(p.line, "[[model.virtual]] '" + p.name + "': '" + term + "' is not a point");
                } else if (q->fluid != p.fluid) {
                    add(p.line, "[[model.virtual]] '" + p.name + "' (" + p.fluid + "): '" + term + "' measures " + q->fluid +
                                    ": a virtual point adds one fluid");
                }
                if (!terms.insert(term).second) add(p.line, "[[model.virtual]] '" + p.name + "': '" + term + "' is named twice");
            }
    }
    {
        std::map<std::string, int> state;  // 0 unseen, 1 on the path, 2 done
        std::function<void(const Point&)> visit = [&](const Point& p) {
            state[p.name] = 1;
            for (const auto* list : {&p.plus, &p.minus})
                for (const std::string& term : *list) {
                    const Point* q = m.point(term);
                    if (!q || !q->is_virtual) continue;
                    if (state[q->name] == 1) add(p.line, "[[model.virtual]] '" + p.name + "': a cycle through '" + term + "'");
                    else if (state[q->name] == 0) visit(*q);
                }
            state[p.name] = 2;
        };
        for (const Point& p : m.points)
            if (p.is_virtual && state[p.name] == 0) visit(p);
    }

    // Hierarchies.
    std::set<std::string> hierarchy_names;
    for (const toml::table* ht : tables_of(t, "hierarchies", "model.hierarchies", file, diags)) {
        const uint32_t line = config::line_of(*ht);
        const nlohmann::json j = config::validate_table(*ht, hierarchy_keys(), file, "[[model.hierarchies]]", diags, line);
        const std::string name = str(j, "name");
        if (!j.contains("name") || !name_ok(name, "[[model.hierarchies]]", line, hierarchy_names)) continue;
        Hierarchy h{name, j.value("fluid", "electricity"), str(j, "parent"), {}, line};
        const std::string w = "[[model.hierarchies]] '" + name + "'";
        if (!m.fluid(h.fluid)) add(line, w + ": fluid '" + h.fluid + "' is not a fluid");
        std::set<std::string> node_names, placed;
        for (const toml::table* nt : tables_of(*ht, "nodes", "model.hierarchies.nodes", file, diags)) {
            const uint32_t nl = config::line_of(*nt);
            const nlohmann::json nj = config::validate_table(*nt, node_keys(), file, "[[model.hierarchies.nodes]]", diags, nl);
            const std::string nn = str(nj, "name");
            if (!nj.contains("name") || !name_ok(nn, w + " node", nl, node_names)) continue;
            Node node{nn, str(nj, "parent"), str(nj, "meter"), strings(nj, "points", w + " node '" + nn + "'", nl, file, diags), nl};
            const std::string nw = w + " node '" + nn + "'";
            std::vector<std::string> members = node.points;
            if (!node.meter.empty()) members.insert(members.begin(), node.meter);
            for (const std::string& pn : members) {
                const Point* p = m.point(pn);
                if (!p) {
                    add(nl, nw + ": '" + pn + "' is not a point");
                    continue;
                }
                if (p->fluid != h.fluid)
                    add(nl, nw + ": '" + pn + "' measures " + p->fluid + "; hierarchy '" + name + "' is " + h.fluid +
                                " (one fluid per hierarchy)");
                if (!placed.insert(pn).second)
                    add(nl, nw + ": '" + pn + "' is already in hierarchy '" + name + "' (a point has one place in a hierarchy)");
            }
            h.nodes.push_back(std::move(node));
        }
        if (h.nodes.empty()) {
            add(line, w + ": no nodes ([[model.hierarchies.nodes]], the first without a parent is its root)");
            continue;
        }
        // One root, every parent a node, no cycle; the root first.
        std::vector<const Node*> roots;
        for (const Node& nd : h.nodes) {
            if (nd.parent.empty()) roots.push_back(&nd);
            else if (!node_names.count(nd.parent))
                add(nd.line, w + " node '" + nd.name + "': parent '" + nd.parent + "' is not a node of this hierarchy");
        }
        if (roots.size() != 1) {
            add(line, w + ": " + std::to_string(roots.size()) + " nodes without a parent; a hierarchy has exactly one root");
        } else {
            for (const Node& nd : h.nodes) {
                std::string at = nd.name;
                for (size_t steps = 0; !at.empty(); ++steps) {
                    if (steps > h.nodes.size()) {
                        add(nd.line, w + " node '" + nd.name + "': its parents make a cycle");
                        break;
                    }
                    auto it = std::find_if(h.nodes.begin(), h.nodes.end(), [&](const Node& x) { return x.name == at; });
                    at = it == h.nodes.end() ? "" : it->parent;
                }
            }
            std::stable_partition(h.nodes.begin(), h.nodes.end(), [](const Node& x) { return x.parent.empty(); });
        }
        m.hierarchies.push_back(std::move(h));
    }
    // A hierarchy under another's node: that node exists, same fluid, no cycle.
    for (const Hierarchy& h : m.hierarchies) {
        if (h.parent.empty()) continue;
        const std::string w = "[[model.hierarchies]] '" + h.name + "'";
        const size_t slash = h.parent.find('/');
        const Hierarchy* up = slash == std::string::npos ? nullptr : m.hierarchy(h.parent.substr(0, slash));
        if (!up || std::none_of(up->nodes.begin(), up->nodes.end(), [&](const Node& x) { return x.name == h.parent.substr(slash + 1); })) {
            add(h.line, w + ": parent '" + h.parent + "' is not \"hierarchy/node\" of a [[model.hierarchies]]");
            continue;
        }
        if (up->fluid != h.fluid) add(h.line, w + " (" + h.fluid + ") cannot hang under '" + up->name + "' (" + up->fluid + ")");
        std::string at = h.name;
        for (size_t steps = 0; !at.empty(); ++steps) {
            if (steps > m.hierarchies.size()) {
                add(h.line, w + ": its parents make a cycle");
                break;
            }
            const Hierarchy* x = m.hierarchy(at);
            at = x && !x->parent.empty() ? x->parent.substr(0, x->parent.find('/')) : "";
        }
    }
    return m;
}

}  // namespace gridlet::model
