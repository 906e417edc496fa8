#include "answers/consumption_answer.h"

#include "answers/number_text.h"
#include "model/consumption_json.h"

namespace gridlet::answers {

std::pair<int64_t, int64_t> previous_range(int64_t from, int64_t to, const TimeZone& tz) {
    for (CalendarUnit u : {CalendarUnit::year, CalendarUnit::month, CalendarUnit::week, CalendarUnit::day}) {
        if (tz.start_of(u, from) != from || tz.start_of(u, to) != to) continue;
        int n = 0;
        for (int64_t t = from; t < to && n < 100000; t = tz.next_start(u, t)) ++n;
        int64_t start = from;
        for (int k = 0; k < n; ++k) start = tz.start_of(u, start - 1);
        return {start, from};
    }
    return {from - (to - from), from};
}

Expected<ConsumptionPlan> plan_consumption(const ConsumptionQuestion& q, const TimeZone& tz, int64_t now,
                                           std::string_view prefix) {
    const std::string p(prefix);
    auto bad = [&](const char* name, const std::string& why) { return Status::invalid(p + name + ": " + why); };
    if (!q.compare.empty() && q.compare != "previous") return bad("compare", "takes 'previous'");
    model::ConsumptionRequest r;
    auto by = model::parse_breakdown(q.by);
    if (!by) return bad("by", by.status().message());
    auto period = model::parse_period(q.period);
    if (!period) return bad("period", period.status().message());
    r.by = *by;
    r.period = *period;
    r.fluid = q.fluid;
    r.node = q.node;
    r.cost = q.cost;
    r.equivalent_kwh = q.kwh;
    // Default range: this month so far (local), whole periods.
    r.from = tz.start_of(CalendarUnit::month, now);
    r.to = now;
    if (!q.from.empty() || !q.to.empty()) {
        auto range = parse_time_range(q.from.empty() ? "@" + std::to_string(r.from) : q.from,
                                      q.to.empty() ? "now" : q.to, now, tz, prefix);
        if (!range) return range.status();
        r.from = range->first;
        r.to = range->second;
    }
    return ConsumptionPlan{r, !q.compare.empty()};
}

Expected<ConsumptionAnswer> answer_consumption(const ConsumptionPlan& plan, const model::SiteModel& m,
                                               const store::QueryEngine& query, const SeriesRegistry& registry,
                                               const TimeZone& tz) {
    const model::ConsumptionRequest& r = plan.request;
    model::ConsumptionEngine engine(m, query, registry, tz);
    auto t = engine.table(r);
    if (!t) return t.status();
    ConsumptionAnswer a{std::move(*t), std::nullopt};
    if (plan.compare) {
        const auto [pf, pt] = previous_range(a.table.starts.front(), a.table.to, tz);
        model::ConsumptionRequest before = r;
        before.from = pf;
        before.to = pt;
        auto prev = engine.table(before);
        if (!prev) return prev.status();
        a.previous = std::move(*prev);
    }
    return a;
}

nlohmann::json consumption_answer_json(const ConsumptionAnswer& a, const TimeZone& tz) {
    nlohmann::json out = model::consumption_json(a.table, tz, model::JsonShape::columns);
    if (a.previous) {
        out["previous"] = model::consumption_json(*a.previous, tz, model::JsonShape::columns);
        // Each column's change against the previous total, in %; sums of
        // doubles carry noise, 9 decimals are far below any meter's resolution.
        nlohmann::json change = nlohmann::json::array();
        for (size_t c = 0; c < a.table.columns.size(); ++c) {
            const auto now_total = model::column_total(a.table, c);
            const auto before = c < a.previous->columns.size() ? model::column_total(*a.previous, c) : std::nullopt;
            change.push_back(now_total && before && *before != 0
                                 ? nlohmann::json(round_decimals((*now_total - *before) / *before * 100, 9))
                                 : nlohmann::json());
        }
        out["change_percent"] = change;
    }
    return out;
}

namespace {
std::string csv_rows(const model::ConsumptionTable& t, const TimeZone& tz, const char* range, bool with_range,
                     bool header) {
    std::string text;
    if (header) {
        text = with_range ? "range,start" : "start";
        for (const auto& c : t.columns) text += "," + csv_field(c.name);
        text += "\n";
    }
    for (size_t i = 0; i < t.rows.size(); ++i) {
        text += (with_range ? std::string(range) + "," : std::string()) + tz.format_iso(t.starts[i]);
        for (const auto& c : t.rows[i]) text += "," + (c.value ? format_number(round_decimals(*c.value, 9)) : std::string());
        text += "\n";
    }
    return text;
}
}  // namespace

void write_consumption_csv(const ConsumptionAnswer& a, const TimeZone& tz, const TextSink& out) {
    if (!out(csv_rows(a.table, tz, "current", a.previous.has_value(), true))) return;
    if (a.previous) out(csv_rows(*a.previous, tz, "previous", true, false));
}

}  // namespace gridlet::answers
