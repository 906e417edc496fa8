#include "answers/event_answer.h"

#include "answers/number_text.h"

namespace gridlet::answers {

Expected<EventsPlan> plan_events(const EventsRequest& r, const std::string& site_timezone, int64_t now_ms,
                                 std::string_view prefix) {
    const std::string p(prefix);
    auto bad = [&](const char* name, const std::string& why) { return Status::invalid(p + name + ": " + why); };
    EventsPlan plan;
    if (r.format != "csv" && r.format != "json") return bad("format", "must be csv or json, not '" + r.format + "'");
    plan.json = r.format == "json";
    auto tz = TimeZone::load(r.tz.empty() ? site_timezone : r.tz);
    if (!tz) return bad("tz", tz.status().message());
    plan.zone = *tz;
    auto range = parse_time_range(r.from, r.to, now_ms, plan.zone, prefix);
    if (!range) return range.status();
    auto severity = store::parse_severity(r.severity);
    if (!severity) return bad("severity", severity.status().message());
    plan.filter.from = range->first;
    plan.filter.to = range->second;
    plan.filter.type = r.type;
    plan.filter.source_pattern = r.source;
    plan.filter.min_severity = *severity;
    plan.filter.limit = r.limit;
    return plan;
}

nlohmann::json event_json(const store::Event& e, const TimeZone& zone) {
    nlohmann::json body = nlohmann::json::parse(e.body, nullptr, false);
    return {{"time", zone.format_iso(e.ts, true)},
            {"ts_ms", e.ts},
            {"source", e.source},
            {"type", e.type},
            {"severity", store::severity_name(e.severity)},
            {"body", body.is_discarded() ? nlohmann::json(e.body) : body}};
}

void write_events(const std::vector<store::Event>& events, const EventsPlan& plan, const TextSink& out) {
    if (plan.json) {
        nlohmann::json all = nlohmann::json::array();
        for (const store::Event& e : events) all.push_back(event_json(e, plan.zone));
        out(all.dump(plan.pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        return;
    }
    std::string text = "time,source,type,severity,body\n";
    for (const store::Event& e : events) {
        text += plan.zone.format_iso(e.ts, true) + "," + csv_field(e.source) + "," + csv_field(e.type) + "," +
                store::severity_name(e.severity) + "," + csv_field(e.body) + "\n";
        if (text.size() >= 64 * 1024) {
            if (!out(text)) return;
            text.clear();
        }
    }
    if (!text.empty()) out(text);
}

}  // namespace gridlet::answers
