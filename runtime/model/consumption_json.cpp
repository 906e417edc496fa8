#include "model/consumption_json.h"

#include <cmath>

namespace gridlet::model {
namespace {

nlohmann::json rounded(double v) { return std::abs(v) < 1e6 ? std::round(v * 1e9) / 1e9 : v; }

}  // namespace

nlohmann::json consumption_json(const ConsumptionTable& t, const TimeZone& tz, JsonShape shape) {
    nlohmann::json cols = nlohmann::json::array();
    for (size_t c = 0; c < t.columns.size(); ++c) {
        const auto tot = column_total(t, c);
        const auto avg = column_average(t, c);
        cols.push_back({{"name", t.columns[c].name},
                        {"label", t.columns[c].label},
                        {"fluid", t.columns[c].fluid},
                        {"unit", t.columns[c].unit},
                        {"excluded_from_totals", t.columns[c].excluded},
                        {"total", tot ? rounded(*tot) : nlohmann::json()},
                        {"average", avg ? rounded(*avg) : nlohmann::json()},
                        {"partial", column_partial(t, c)}});
    }
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < t.rows.size(); ++i) {
        nlohmann::json values, missing, negative;
        if (shape == JsonShape::columns) {
            values = nlohmann::json::array();
            missing = nlohmann::json::array();
            negative = nlohmann::json::array();
        } else {
            values = nlohmann::json::object();
            missing = nlohmann::json::object();
            negative = nlohmann::json::object();
        }
        for (size_t c = 0; c < t.rows[i].size(); ++c) {
            const Cell& cell = t.rows[i][c];
            if (shape == JsonShape::columns) {
                values.push_back(cell.value ? rounded(*cell.value) : nlohmann::json());
                missing.push_back(cell.missing);
                negative.push_back(cell.negative);
            } else {
                const std::string& name = t.columns[c].name;
                if (cell.value) values[name] = rounded(*cell.value);
                if (cell.missing) missing[name] = cell.missing;
                if (cell.negative) negative[name] = true;
            }
        }
        rows.push_back({{"start", tz.format_iso(t.starts[i])},
                        {"ts_ms", t.starts[i]},
                        {"values", values},
                        {"missing", missing},
                        {"negative", negative}});
    }
    return {{"by", breakdown_name(t.by)},
            {"period", period_name(t.period)},
            {"fluid", t.fluid},
            {"from", tz.format_iso(t.starts.empty() ? t.to : t.starts.front())},
            {"to", tz.format_iso(t.to)},
            {"timezone", tz.name()},
            {"columns", cols},
            {"rows", rows},
            {"notes", t.notes}};
}

Expected<ConsumptionRequest> consumption_request_from_json(const nlohmann::json& j) {
    if (!j.is_object()) return Status::invalid("the request must be an object");
    static const char* known[] = {"by", "period", "from", "to", "fluid", "node", "cost", "kwh"};
    for (const auto& [k, _] : j.items()) {
        bool ok = false;
        for (const char* n : known) ok = ok || k == n;
        if (!ok) return Status::invalid("'" + k + "' is unknown (by, period, from, to, fluid, node, cost, kwh)");
    }
    ConsumptionRequest r;
    auto text = [&](const char* key, std::string& out) -> Status {
        if (!j.contains(key)) return Status::ok();
        if (!j[key].is_string()) return Status::invalid(std::string("'") + key + "' must be a string");
        out = j[key].get<std::string>();
        return Status::ok();
    };
    std::string by = "total", period = "day";
    for (auto [key, out] : {std::pair<const char*, std::string*>{"by", &by}, {"period", &period}, {"fluid", &r.fluid}, {"node", &r.node}})
        if (Status st = text(key, *out); !st) return st;
    auto b = parse_breakdown(by);
    if (!b) return Status::invalid("'by': " + b.status().message());
    auto p = parse_period(period);
    if (!p) return Status::invalid("'period': " + p.status().message());
    r.by = *b;
    r.period = *p;
    for (const char* key : {"from", "to"}) {
        if (!j.contains(key) || !j[key].is_number()) return Status::invalid(std::string("'") + key + "' (UTC ms) is required");
        (std::string(key) == "from" ? r.from : r.to) = static_cast<int64_t>(j[key].get<double>());
    }
    if (r.from >= r.to) return Status::invalid("'from' must be before 'to'");
    for (auto [key, out] : {std::pair<const char*, bool*>{"cost", &r.cost}, {"kwh", &r.equivalent_kwh}}) {
        if (!j.contains(key)) continue;
        if (!j[key].is_boolean()) return Status::invalid(std::string("'") + key + "' must be true or false");
        *out = j[key].get<bool>();
    }
    return r;
}

}  // namespace gridlet::model
