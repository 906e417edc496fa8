#include "answers/query_answer.h"

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "answers/number_text.h"
#include "store/time_spec.h"

namespace gridlet::answers {

Expected<std::pair<int64_t, int64_t>> parse_time_range(const std::string& from, const std::string& to, int64_t now_ms,
                                                       const TimeZone& zone, std::string_view prefix) {
    const std::string p(prefix);
    auto f = store::parse_time_spec(from, now_ms, zone);
    if (!f) return Status::invalid(p + "from: " + f.status().message());
    auto t = store::parse_time_spec(to, now_ms, zone);
    if (!t) return Status::invalid(p + "to: " + t.status().message());
    if (*f >= *t)
        return Status::invalid(p + "from (" + zone.format_iso(*f) + ") must be before " + p + "to (" + zone.format_iso(*t) +
                               ", " + (to == "now" ? "now by default" : "'" + to + "'") + ")");
    return std::pair{*f, *t};
}

Expected<QueryPlan> plan_query(const QueryRequest& r, const std::string& site_timezone, int64_t now_ms,
                               std::string_view prefix) {
    const std::string p(prefix);
    auto bad = [&](const std::string& option, const std::string& what) {
        return Status::invalid(p + option + ": " + what);
    };
    if (r.pattern.empty() && r.tags.empty()) return Status::invalid("give a series pattern and/or " + p + "tags k=v,...");
    QueryPlan plan;
    plan.pattern = r.pattern;
    plan.tags = r.tags;
    if (r.format != "csv" && r.format != "json") return bad("format", "must be csv or json, not '" + r.format + "'");
    plan.json = r.format == "json";
    plan.wide = r.wide;
    if (r.digits < -1 || r.digits > 15) return bad("digits", "must be 0..15");
    plan.digits = r.digits;
    auto tz = TimeZone::load(r.tz.empty() ? site_timezone : r.tz);
    if (!tz) return bad("tz", tz.status().message());
    plan.zone = *tz;
    auto range = parse_time_range(r.from, r.to, now_ms, plan.zone, prefix);
    if (!range) return range.status();
    plan.from = range->first;
    plan.to = range->second;
    if (!r.agg.empty()) {
        auto g = parse_aggregate(r.agg);
        if (!g) return bad("agg", g.status().message());
        plan.agg = *g;
    }
    if (plan.agg && r.step.empty()) return Status::invalid(p + "agg needs " + p + "step");
    if (!r.step.empty()) {
        if (auto u = parse_calendar_unit(r.step)) {
            plan.unit = *u;
        } else {
            auto d = store::parse_duration_ms(r.step);
            if (!d || *d <= 0) return bad("step", "use a duration (15m, 1h, 1d) or day, week, month, year");
            plan.step_ms = *d;
        }
        if (!plan.agg) plan.agg = Aggregate::avg;
    }
    // Raw samples carry their quality (aggregates use good samples only).
    plan.with_quality = !plan.agg && !r.no_quality;
    return plan;
}

namespace {

// Collects text and hands it to the sink in pieces of about 64 KB.
class Chunker {
public:
    explicit Chunker(const TextSink& out) : out_(out) { buf_.reserve(kChunk + 1024); }
    bool add(std::string_view s) {
        buf_.append(s);
        return buf_.size() < kChunk || flush();
    }
    bool flush() {
        if (buf_.empty() || !ok_) return ok_;
        ok_ = out_(buf_);
        buf_.clear();
        return ok_;
    }

private:
    static constexpr size_t kChunk = 64 * 1024;
    const TextSink& out_;
    std::string buf_;
    bool ok_ = true;
};

}  // namespace

Expected<std::vector<store::SeriesPoints>> read_query(const store::QueryEngine& q, const QueryPlan& plan, size_t max_rows) {
    store::QueryLimit bound;
    bound.max_rows = max_rows;
    const store::QueryLimit* limit = max_rows ? &bound : nullptr;
    Expected<std::vector<store::SeriesPoints>> res = Status::internal("no query");
    if (plan.unit) res = q.calendar_many(plan.pattern, plan.tags, plan.from, plan.to, *plan.unit, plan.zone, *plan.agg, limit);
    else if (plan.step_ms) res = q.downsample_many(plan.pattern, plan.tags, plan.from, plan.to, plan.step_ms, *plan.agg, limit);
    else res = q.raw_many(plan.pattern, plan.tags, plan.from, plan.to, limit);
    return res;
}

Status write_query(const store::QueryEngine& q, const QueryPlan& plan, size_t max_rows, const TextSink& out,
                   size_t* matched) {
    auto res = read_query(q, plan, max_rows);
    if (!res) return res.status();
    if (matched) *matched = res->size();
    write_query_points(*res, plan, out);
    return Status::ok();
}

void write_query_points(const std::vector<store::SeriesPoints>& series, const QueryPlan& plan, const TextSink& out) {
    const std::vector<store::SeriesPoints>* res = &series;

    const auto shown = [&](double v) { return round_decimals(v, plan.digits); };
    auto time_text = [&](int64_t t) { return plan.zone.format_iso(t, true); };
    Chunker w(out);
    if (plan.json) {
        // One series at a time: the answer is never held whole as JSON.
        // Pretty: what nlohmann's dump(2) of the whole array gives.
        w.add(res->empty() ? "[" : plan.pretty ? "[\n" : "[");
        for (size_t k = 0; k < res->size(); ++k) {
            const store::SeriesPoints& sp = (*res)[k];
            nlohmann::json pts = nlohmann::json::array();
            for (size_t i = 0; i < sp.points.size(); ++i) {
                const store::Point& pt = sp.points[i];
                nlohmann::json j = {{"time", time_text(pt.ts)}, {"ts_ms", pt.ts}, {"value", json_number(shown(pt.value))}};
                if (plan.with_quality) j["quality"] = sp.quality[i];
                pts.push_back(std::move(j));
            }
            const nlohmann::json s = {{"series", sp.meta.name},
                                      {"unit", sp.meta.unit},
                                      {"kind", series_kind_name(sp.meta.kind)},
                                      {"aggregate", plan.agg ? aggregate_name(*plan.agg) : "raw"},
                                      {"points", std::move(pts)}};
            std::string text = s.dump(plan.pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace);
            if (plan.pretty) {
                std::string indented = "  ";
                for (char c : text) {
                    indented += c;
                    if (c == '\n') indented += "  ";
                }
                text = std::move(indented);
            }
            if (k) w.add(plan.pretty ? ",\n" : ",");
            if (!w.add(text)) return;
        }
        w.add(res->empty() ? "]\n" : plan.pretty ? "\n]\n" : "]\n");
        w.flush();
        return;
    }
    if (!plan.wide) {
        w.add(plan.with_quality ? "time,series,value,quality\n" : "time,series,value\n");
        std::string line;
        for (const auto& sp : *res) {
            const std::string name = csv_field(sp.meta.name);
            for (size_t i = 0; i < sp.points.size(); ++i) {
                const store::Point& pt = sp.points[i];
                line = time_text(pt.ts);
                line += ',';
                line += name;
                line += ',';
                line += format_number(shown(pt.value));
                if (plan.with_quality) {
                    line += ',';
                    line += std::to_string(static_cast<unsigned>(sp.quality[i]));
                }
                line += '\n';
                if (!w.add(line)) return;
            }
        }
        w.flush();
        return;
    }
    struct Cell {
        double value;
        uint8_t quality;
    };
    std::map<int64_t, std::vector<std::optional<Cell>>> rows;
    for (size_t i = 0; i < res->size(); ++i)
        for (size_t k = 0; k < (*res)[i].points.size(); ++k) {
            const store::Point& pt = (*res)[i].points[k];
            auto& row = rows[pt.ts];
            row.resize(res->size());
            row[i] = Cell{pt.value, plan.with_quality ? (*res)[i].quality[k] : uint8_t{0}};
        }
    std::string header = "time";
    for (const auto& sp : *res) {
        header += "," + csv_field(sp.meta.name);
        if (plan.with_quality) header += "," + csv_field(sp.meta.name + ":quality");
    }
    w.add(header + "\n");
    for (auto& [t, cells] : rows) {
        cells.resize(res->size());
        std::string line = time_text(t);
        for (const auto& c : cells) {
            line += "," + (c ? format_number(shown(c->value)) : std::string());
            if (plan.with_quality) line += "," + (c ? std::to_string(c->quality) : std::string());
        }
        line += '\n';
        if (!w.add(line)) return;
    }
    w.flush();
}

}  // namespace gridlet::answers
