// The API's data routes: site, devices, series, query, events, alarms and
// consumption: the same answers as the CLI (runtime/answers). Handlers run
// on the server's pool and read the store and the alarm table (both
// thread-safe).
#include <httplib.h>

#include <charconv>

#include "http/api_request.h"
#include "http/api_server.h"
#include "alarm/alarm_table.h"
#include "answers/consumption_answer.h"
#include "answers/event_answer.h"
#include "answers/query_answer.h"
#include "answers/series_answer.h"
#include "model/consumption.h"
#include "store/store.h"

namespace gridlet::http {

// A consumption answer's periods at most (a year of quarter hours is 35,040).
constexpr size_t kMaxConsumptionPeriods = 50'000;

void ApiServer::events_answer(const QueryParams& p, const std::string& type, bool may_read_audit, httplib::Response& res) {
    answers::EventsRequest r;
    r.type = type;
    r.source = p.get("source");
    if (p.has("severity")) r.severity = p.get("severity");
    if (p.has("from")) r.from = p.get("from");
    if (p.has("to")) r.to = p.get("to");
    if (p.has("format")) r.format = p.get("format");
    r.tz = p.get("tz");
    // Bounded: the oldest `limit` of the range (narrow the range for more).
    const auto limit = count_param(p, "limit", 10000, 100000, res);
    if (!limit) return;
    r.limit = *limit + 1;  // one more: whether the answer is complete
    auto plan = answers::plan_events(r, ctx_.site->get()->timezone, ctx_.now_ms(), "");
    if (!plan) return send_status(res, plan.status());
    // The audit events (who logged in from where, failed names) are for
    // the roles that manage users or security; the others read every other
    // event.
    if (!may_read_audit) {
        if (plan->filter.type == "audit")
            return send_error(res, 403, "forbidden", "the audit events are for the admin and security officer roles");
        plan->filter.exclude_type = "audit";
    }
    auto events = ctx_.store->events().query(plan->filter);
    if (!events) return send_status(res, events.status());
    // More than `limit` match: the oldest are sent, and the headers say so
    // and where the rest begins (never a silent cut). A page never splits a
    // millisecond, so that from=@<X-Gridlet-Next-From> neither repeats nor
    // skips an event: it ends before the millisecond of the first event
    // left out, or, when that millisecond alone is over the limit, holds all
    // of its events.
    res.set_header("X-Gridlet-Truncated", events->size() > *limit ? "true" : "false");
    if (events->size() > *limit) {
        const int64_t cut = (*events)[*limit].ts;
        size_t keep = *limit;
        while (keep > 0 && (*events)[keep - 1].ts == cut) --keep;
        int64_t next = cut;
        if (keep == 0) {
            store::EventFilter one = plan->filter;
            one.from = cut;
            one.to = cut + 1;
            one.limit = 0;
            auto all = ctx_.store->events().query(one);
            if (!all) return send_status(res, all.status());
            *events = std::move(*all);
            keep = events->size();
            next = cut + 1;
        }
        events->resize(keep);
        res.set_header("X-Gridlet-Next-From", std::to_string(next));
    }
    std::string text;
    answers::write_events(*events, *plan, [&](std::string_view t) {
        text.append(t);
        return true;
    });
    res.set_content(text, plan->json ? "application/json" : "text/csv; charset=utf-8");
}

void ApiServer::data_routes() {
    httplib::Server& s = *server_;

    s.Get("/api/v1/site", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        nlohmann::json devices = nlohmann::json::array(), plugins = nlohmann::json::array();
        const std::shared_ptr<const SiteConfig> site = ctx_.site->get();
        for (const DeviceEntry& d : site->devices) devices.push_back({{"name", d.name}, {"plugin", d.plugin}});
        for (const PluginEntry& p : site->plugins)
            plugins.push_back({{"name", p.name}, {"file", p.file}, {"enabled", p.enabled}});
        send_json(res, 200,
                  {{"name", site->site_name},
                   {"timezone", site->timezone},
                   {"version", ctx_.version},
                   {"store", ctx_.store != nullptr},
                   {"plugins", plugins},
                   {"devices", devices}});
    });

    s.Get("/api/v1/series", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"pattern", "tags"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        auto sel = ctx_.store->registry().select(p->get("pattern"), p->get("tags"));
        if (!sel) return send_status(res, sel.status());
        nlohmann::json out = nlohmann::json::array();
        for (const SeriesMeta& m : *sel) {
            auto last = ctx_.store->query().last(m.id);
            out.push_back(answers::series_json(m, last && *last ? std::optional<store::Sample>(**last) : std::nullopt));
        }
        send_json(res, 200, out);
    });

    s.Get("/api/v1/query", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        const auto p = params_of(req, res, {"pattern", "tags", "from", "to", "step", "agg", "format", "tz", "wide", "quality", "digits"});
        if (!p) return;
        answers::QueryRequest q;
        q.pattern = p->get("pattern");
        q.tags = p->get("tags");
        if (p->has("from")) q.from = p->get("from");
        if (p->has("to")) q.to = p->get("to");
        q.step = p->get("step");
        q.agg = p->get("agg");
        if (p->has("format")) q.format = p->get("format");
        q.tz = p->get("tz");
        for (const char* flag : {"wide", "quality"}) {
            if (!p->has(flag)) continue;
            const std::string v = p->get(flag);
            if (v != "true" && v != "false")
                return send_error(res, 400, "invalid_request", std::string(flag) + ": must be true or false");
            if (flag[0] == 'w') q.wide = v == "true";
            else q.no_quality = v == "false";
        }
        if (p->has("digits")) {
            const std::string v = p->get("digits");
            int d = -1;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
            if (ec != std::errc() || end != v.data() + v.size() || d < 0 || d > 15)
                return send_error(res, 400, "invalid_request", "digits: must be 0..15");
            q.digits = d;
        }
        auto plan = answers::plan_query(q, ctx_.site->get()->timezone, ctx_.now_ms(), "");
        if (!plan) return send_status(res, plan.status());
        auto points = answers::read_query(ctx_.store->query(), *plan, static_cast<size_t>(config_.max_query_rows));
        if (!points) return send_status(res, points.status());
        if (points->empty())
            return send_error(res, 404, "not_found",
                              "no series match '" + q.pattern + "'" + (q.tags.empty() ? "" : " with tags " + q.tags));
        // Written while sent, in chunks: the text of a large answer is never
        // held whole.
        const char* type = plan->json ? "application/json" : "text/csv; charset=utf-8";
        auto held = std::make_shared<std::vector<store::SeriesPoints>>(std::move(*points));
        auto shape = std::make_shared<answers::QueryPlan>(std::move(*plan));
        res.set_chunked_content_provider(type,
                                         [held, shape](size_t, httplib::DataSink& sink) {
                                             answers::write_query_points(*held, *shape, [&](std::string_view text) {
                                                 return sink.write(text.data(), text.size());
                                             });
                                             sink.done();
                                             return true;
                                         });
    });

    s.Get("/api/v1/events", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::read);
        if (!c) return;
        const auto p = params_of(req, res, {"type", "source", "severity", "from", "to", "format", "tz", "limit"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        events_answer(*p, p->get("type"), may(c->role, Right::manage_users) || may(c->role, Right::security), res);
    });

    // The site model ([model]) as the site file declares it: what the
    // dashboard needs to sum the site's power (the points counted in totals,
    // with their power series; a virtual point as Σ plus − Σ minus) and to
    // name loads, groups, usages and areas.
    s.Get("/api/v1/model", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read) || !params_of(req, res, {})) return;
        if (!ctx_.model)
            return send_error(res, 404, "not_found", "the site has no [model] points (runtime/model/README.md)");
        const model::SiteModel& m = *ctx_.model;
        auto categories = [](const std::vector<model::Category>& list) {
            nlohmann::json out = nlohmann::json::array();
            for (const model::Category& c : list) out.push_back({{"name", c.name}, {"label", c.label.empty() ? c.name : c.label}});
            return out;
        };
        nlohmann::json fluids = nlohmann::json::array(), areas = nlohmann::json::array(), points = nlohmann::json::array(),
                       hierarchies = nlohmann::json::array();
        for (const model::Fluid& f : m.fluids)
            fluids.push_back({{"name", f.name}, {"unit", f.unit}, {"price", f.price ? nlohmann::json(*f.price) : nlohmann::json()}});
        for (const model::Area& a : m.areas) areas.push_back({{"name", a.name}, {"kind", a.kind}, {"parent", a.parent}});
        for (const model::Point& p : m.points) {
            nlohmann::json energy = nlohmann::json::array();
            for (const model::EnergySource& e : p.energy) energy.push_back(e.series);
            points.push_back({{"name", p.name},
                              {"virtual", p.is_virtual},
                              {"energy", energy},
                              {"power", p.power.empty() ? nlohmann::json() : nlohmann::json(p.power)},
                              {"plus", p.plus},
                              {"minus", p.minus},
                              {"fluid", p.fluid},
                              {"load", p.load},
                              {"usage", p.usage},
                              {"groups", p.groups},
                              {"area", p.area},
                              {"exclude_from_totals", p.exclude_from_totals},
                              {"description", p.description}});
        }
        for (const model::Hierarchy& h : m.hierarchies) {
            nlohmann::json nodes = nlohmann::json::array();
            for (const model::Node& n : h.nodes)
                nodes.push_back({{"name", n.name}, {"parent", n.parent}, {"meter", n.meter}, {"points", n.points}});
            hierarchies.push_back({{"name", h.name}, {"fluid", h.fluid}, {"nodes", nodes}});
        }
        send_json(res, 200,
                  {{"currency", m.currency},
                   {"fluids", fluids},
                   {"loads", categories(m.loads)},
                   {"usages", categories(m.usages)},
                   {"groups", categories(m.groups)},
                   {"areas", areas},
                   {"points", points},
                   {"hierarchies", hierarchies}});
    });

    s.Get("/api/v1/consumption", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"by", "period", "from", "to", "fluid", "node", "compare", "cost", "kwh", "format"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]");
        if (!ctx_.model)
            return send_error(res, 404, "not_found", "the site has no [model] points (runtime/model/README.md)");
        answers::ConsumptionQuestion q;
        if (p->has("by")) q.by = p->get("by");
        if (p->has("period")) q.period = p->get("period");
        q.from = p->get("from");
        q.to = p->get("to");
        if (p->has("fluid")) q.fluid = p->get("fluid");
        q.node = p->get("node");
        q.compare = p->get("compare");
        for (const char* flag : {"cost", "kwh"}) {
            if (!p->has(flag)) continue;
            const std::string v = p->get(flag);
            if (v != "true" && v != "false")
                return send_error(res, 400, "invalid_request", std::string(flag) + ": must be true or false");
            (flag[0] == 'c' ? q.cost : q.kwh) = v == "true";
        }
        const std::string format = p->has("format") ? p->get("format") : "json";
        if (format != "json" && format != "csv")
            return send_error(res, 400, "invalid_request", "format: must be json or csv");
        auto plan = answers::plan_consumption(q, *ctx_.zone, ctx_.now_ms(), "");
        if (!plan) return send_status(res, plan.status());
        // Bounded like a query: the periods are computed on this pool thread.
        {
            model::ConsumptionEngine engine(*ctx_.model, ctx_.store->query(), ctx_.store->registry(), *ctx_.zone);
            auto edges = engine.edges(plan->request.period, plan->request.from, plan->request.to);
            if (!edges) return send_status(res, edges.status());
            if (edges->size() - 1 > kMaxConsumptionPeriods)
                return send_error(res, 400, "invalid_request",
                                  std::to_string(edges->size() - 1) + " periods; at most " +
                                      std::to_string(kMaxConsumptionPeriods) + " (use a longer period or a shorter range)");
        }
        auto answer = answers::answer_consumption(*plan, *ctx_.model, ctx_.store->query(), ctx_.store->registry(), *ctx_.zone);
        if (!answer) return send_status(res, answer.status());
        if (format == "json") return send_json(res, 200, answers::consumption_answer_json(*answer, *ctx_.zone));
        std::string text;
        answers::write_consumption_csv(*answer, *ctx_.zone, [&](std::string_view t) {
            text.append(t);
            return true;
        });
        res.set_content(text, "text/csv; charset=utf-8");
    });

    s.Get("/api/v1/alarms", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"status", "source", "limit"});
        if (!p) return;
        if (!ctx_.alarms) return send_json(res, 200, nlohmann::json::array());
        alarm::AlarmFilter f;
        if (Status st = alarm::apply_status_filter(p->has("status") ? p->get("status") : "open", f); !st)
            return send_status(res, st);
        f.source_pattern = p->get("source");
        const auto limit = count_param(*p, "limit", 1000, 100000, res);
        if (!limit) return;
        f.limit = *limit;
        auto list = ctx_.alarms->list(f);
        if (!list) return send_status(res, list.status());
        nlohmann::json out = nlohmann::json::array();
        for (const alarm::Alarm& a : *list) out.push_back(alarm::to_json(a));
        send_json(res, 200, out);
    });

    s.Post(R"(/api/v1/alarms/(\d+)/acknowledge)", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::operate);
        if (!c) return;
        if (!ctx_.alarms) return send_error(res, 404, "not_found", "the site has no alarms");
        auto body = json_body(req, res);
        std::string comment;
        if (!body || !only_fields(*body, {"comment"}, res) || !string_field(*body, "comment", comment, res, false)) return;
        if (comment.size() > 1000) return send_error(res, 400, "invalid_request", "comment: at most 1000 characters");
        uint64_t id = 0;
        const std::string m = req.matches[1];
        auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), id);
        if (ec != std::errc()) return send_error(res, 404, "not_found", "no alarm " + m);
        auto a = ctx_.alarms->acknowledge(id, c->user, comment, ctx_.now_ms());
        audit(req, c->user, "alarm_acknowledge", bool(a), {{"alarm", id}});
        if (!a) return send_status(res, a.status());
        send_json(res, 200, alarm::to_json(*a));
    });
}

}  // namespace gridlet::http
