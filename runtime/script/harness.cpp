#include "script/harness.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "alarm/evaluator.h"
#include "script/harness_notify.h"
#include "script/sim_host.h"

namespace gridlet::script {

namespace {

using json = nlohmann::json;

// ISO-8601 in the site zone; milliseconds only when there are some.
std::string iso(const TimeZone& zone, int64_t ms) { return zone.format_iso(ms, ms % 1000 != 0); }

const char* reply_status_name(gl_status s) {
    switch (s) {
        case GL_OK: return "ok";
        case GL_ERR_TIMEOUT: return "timeout";
        case GL_ERR_NOT_FOUND: return "not_found";
        default: return "error";
    }
}

// The timeline's [[alarms]] rules: an alarm table (in memory, as the store
// keeps it: a restart starts again from its records) and its evaluator.
// Every change goes to the notifications, if any.
class AlarmRun {
public:
    AlarmRun(std::vector<alarm::AlarmRule> rules, SimHost& host, std::vector<alarm::AlarmChange>& out,
             NotifyRun* notify)
        : rules_(std::move(rules)), host_(host), out_(out), notify_(notify) {}
    // `restart`: a new table from the records kept (the rule's gridlet.alarm
    // uses the host's table, so both see the same).
    void start(int64_t now, bool restart) {
        eval_.reset();
        if (restart) host_.restart_alarms(now);
        table_ = &host_.alarm_table();
        eval_ = std::make_unique<alarm::AlarmEvaluator>(rules_, *table_, host_.registry());
        eval_->start(now);
        if (notify_) {
            if (Status st = notify_->start(*table_, now); !st)
                host_.log(LogLevel::error, "notifications", "cannot start: " + st.message());
        }
        collect();
    }
    void collect() {
        const int64_t now = host_.manual_clock().now_ms();
        take(now);
        if (!notify_) return;
        notify_->poll(now);
        take(now);  // what the notifier raised (notification_failed)
    }
    void samples(const std::vector<gl_sample>& batch) {
        eval_->on_samples(batch.data(), batch.size());
        collect();
    }
    void tick(int64_t now) {
        eval_->tick(now);
        table_->tick(now);
        collect();
    }
    Status ack(uint64_t id, const std::string& by, const std::string& comment, int64_t now) {
        auto a = table_->acknowledge(id, by, comment, now);
        collect();
        return a ? Status::ok() : a.status();
    }
    std::optional<int64_t> next_due() const {
        std::optional<int64_t> next;
        for (auto t : {eval_->next_due_ms(), table_->next_due_ms(), notify_ ? notify_->next_due() : std::nullopt})
            if (t && (!next || *t < *next)) next = t;
        return next;
    }

private:
    void take(int64_t now) {
        for (alarm::AlarmChange& c : table_->take_transitions()) {
            if (notify_) notify_->change(c, now);
            out_.push_back(std::move(c));
        }
    }

    std::vector<alarm::AlarmRule> rules_;
    SimHost& host_;
    std::vector<alarm::AlarmChange>& out_;
    NotifyRun* notify_;
    alarm::AlarmTable* table_ = nullptr;
    std::unique_ptr<alarm::AlarmEvaluator> eval_;
};

class Runner {
public:
    Runner(SimHost& host, Engine& engine, Plant& plant, AlarmRun* alarms, const std::function<bool()>& interrupted)
        : host_(host), engine_(engine), plant_(plant), alarms_(alarms), interrupted_(interrupted) {}

    // Whether the caller asked the run to stop (checked every 4096 steps).
    bool stop_requested() {
        if (!interrupted_ || (++steps_ & 4095) != 0) return stopped_;
        stopped_ = stopped_ || interrupted_();
        return stopped_;
    }

    // Moves the clock to `t`, firing timers, replies and the plant's polls
    // on the way, in order.
    void advance_to(int64_t t) {
        ManualClock& clock = host_.manual_clock();
        for (;;) {
            const int64_t now = clock.now_ms();
            std::optional<int64_t> next;
            const int64_t timer_in = engine_.next_timer_in_ms();
            if (timer_in >= 0) next = now + timer_in;
            if (auto r = host_.next_reply_ms(); r && (!next || *r < *next)) next = std::max(*r, now);
            if (auto p = plant_.next_poll_ms()) {  // monotonic: as a wall time from now
                const int64_t at = now + std::max<int64_t>(0, *p - clock.monotonic_ms());
                if (!next || at < *next) next = at;
            }
            if (alarms_)
                if (auto a = alarms_->next_due(); a && (!next || std::max(*a, now) < *next)) next = std::max(*a, now);
            if (!next || *next > t || stop_requested()) break;
            if (*next > now) clock.advance(*next - now);
            for (const CommandReply& r : host_.take_due_replies()) engine_.on_command_reply(r);
            poll_plant(clock.now_ms(), clock.monotonic_ms());
            engine_.run_due_timers();
            if (alarms_) alarms_->tick(clock.now_ms());
            deliver_published();
        }
        if (t > clock.now_ms()) clock.advance(t - clock.now_ms());
        plant_.advance_to(clock.monotonic_ms());
        if (alarms_) alarms_->tick(clock.now_ms());
        deliver_published();
    }

    // What rules published (gridlet.publish) reaches the rules and the alarm
    // rules as the bus would bring it: after the callback that published
    // it, as its own delivery. A feedback that never settles is cut.
    void deliver_published() {
        for (int round = 0;; ++round) {
            std::vector<gl_sample> batch = host_.take_undelivered();
            if (batch.empty()) return;
            if (round == 1000) {
                host_.log(LogLevel::error, "harness",
                          "published samples kept feeding back 1000 times at one instant: the rest is not delivered");
                return;
            }
            engine_.on_samples(batch);
            if (alarms_) alarms_->samples(batch);
        }
    }

    // The plant's polls due now, as one batch (as a driver publishes them).
    void poll_plant(int64_t now, int64_t monotonic) {
        auto polled = plant_.take_polls(monotonic);
        if (polled.empty()) return;
        batch_.clear();
        for (const auto& [name, value] : polled) {
            gl_sample s{};
            s.ts_ms = now;
            s.value = value;
            s.series_id = host_.intern(name);
            s.quality = GL_QUALITY_GOOD;
            host_.record(s);
            batch_.push_back(s);
        }
        engine_.on_samples(batch_);
        if (alarms_) alarms_->samples(batch_);
    }

private:
    SimHost& host_;
    Engine& engine_;
    Plant& plant_;
    AlarmRun* alarms_;
    const std::function<bool()>& interrupted_;
    uint64_t steps_ = 0;
    bool stopped_ = false;
    std::vector<gl_sample> batch_;
};

}  // namespace

Expected<HarnessReport> run_rule_test(const HarnessOptions& options) {
    const auto wall0 = std::chrono::steady_clock::now();
    auto timeline = load_timeline(options.timeline_file, options.tz);
    if (!timeline) return timeline.status();
    HarnessReport report;
    report.rule_file = options.rule_file.empty() ? timeline->rule : options.rule_file;
    report.has_alarms = !timeline->alarms.is_null();
    report.has_rule = !report.rule_file.empty();
    if (!report.has_rule && !report.has_alarms)
        return Status::invalid(options.timeline_file +
                               ": no rule file: give one, or \"rule\" (or \"alarms\") in the timeline header");
    report.rule = !options.rule_name.empty() ? options.rule_name
                  : report.has_rule          ? std::filesystem::path(report.rule_file).stem().string()
                                             : std::string("alarms");
    std::vector<alarm::AlarmRule> alarm_rules;
    if (report.has_alarms) {
        config::Diagnostics diags;
        alarm_rules = alarm::alarm_rules_from_json(
            timeline->alarms, options.timeline_file + ":" + std::to_string(timeline->alarms_line), diags);
        if (!diags.empty()) {
            std::string msg;
            for (const auto& d : diags) msg += (msg.empty() ? "" : "\n") + d.to_string();
            return Status::invalid(msg);
        }
    }
    std::unique_ptr<NotifyRun> notify;
    report.has_notifications = !timeline->notifications.is_null();
    if (report.has_notifications) {
        config::Diagnostics diags;
        auto configs = notify::notifications_from_json(
            timeline->notifications, options.timeline_file + ":" + std::to_string(timeline->notifications_line), diags);
        if (!diags.empty()) {
            std::string msg;
            for (const auto& d : diags) msg += (msg.empty() ? "" : "\n") + d.to_string();
            return Status::invalid(msg);
        }
        for (const TimelineItem& item : timeline->items) {
            if (item.kind != TimelineItem::Kind::notify_outage ||
                std::any_of(configs.begin(), configs.end(), [&](const auto& n) { return n.name == item.name; }))
                continue;
            // A disabled notification sends nothing: its outage changes nothing.
            const bool disabled = std::any_of(timeline->notifications.begin(), timeline->notifications.end(),
                                              [&](const json& n) {
                                                  return n.is_object() && n.value("name", json()) == item.name &&
                                                         n.value("enabled", json(true)) == false;
                                              });
            if (!disabled)
                return Status::invalid(options.timeline_file + ":" + std::to_string(item.line) +
                                       ": no notification named '" + item.name + "' in the header");
        }
        notify = std::make_unique<NotifyRun>(std::move(configs), timeline->zone, report.messages);
        if (Status st = notify->open(); !st) return st;
    } else {
        for (const TimelineItem& item : timeline->items)
            if (item.kind == TimelineItem::Kind::notify_outage)
                return Status::invalid(options.timeline_file + ":" + std::to_string(item.line) +
                                       ": an outage needs \"notifications\" in the header");
    }
    report.zone = timeline->zone;
    report.expect = timeline->expect;

    SimHost host(timeline->start_ms, timeline->zone);
    std::optional<LogToRun> log_to_run;
    if (notify) log_to_run.emplace(host);
    host.set_echo_logs(options.echo_logs);
    for (const auto& [key, value] : timeline->state.items()) host.set_state(report.rule, key, value.dump());
    // Every series of the timeline exists from the start (as in the registry).
    for (TimelineItem& item : timeline->items) {
        if (item.kind == TimelineItem::Kind::declare) host.intern(item.name, item.series_kind, item.unit);
        for (auto& [name, sample] : item.samples) sample.series_id = host.intern(name);
    }

    EngineOptions eo;
    eo.lib_dirs = options.lib_dirs;
    eo.default_budgets = options.budgets;
    Engine engine(host, eo);
    RuleConfig rc;
    rc.name = report.rule;
    rc.file = report.rule_file;
    rc.params = options.params ? *options.params : (timeline->params.is_null() ? json::object() : timeline->params);
    rc.budgets = options.budgets;
    // The plant's lines of the first instant exist before the rule loads
    // (stations and meters are there when gridlet starts): commands sent
    // while loading reach them.
    Plant plant;
    host.set_plant(&plant);
    const auto& items = timeline->items;
    std::vector<bool> done(items.size(), false);
    for (size_t i = 0; i < items.size() && items[i].t_ms <= timeline->start_ms; ++i) {
        if (items[i].kind != TimelineItem::Kind::plant) continue;
        Status st = plant.apply(items[i].plant, host.manual_clock().monotonic_ms());
        if (!st) return Status::invalid(options.timeline_file + ":" + std::to_string(items[i].line) + ": " + st.message());
        done[i] = true;
    }
    if (report.has_rule) {
        auto failures = engine.configure({rc});
        if (!failures.empty()) report.load_error = failures.front().status;
    }
    // Always: a rule's gridlet.alarm changes are reported too.
    auto alarms = std::make_unique<AlarmRun>(alarm_rules, host, report.alarms, notify.get());
    alarms->start(host.manual_clock().now_ms(), false);

    Runner runner(host, engine, plant, alarms.get(), options.interrupted);
    runner.deliver_published();  // published while loading
    std::vector<gl_sample> batch;
    for (size_t i = 0; i < items.size();) {
        const TimelineItem& item = items[i];
        if (done[i]) {
            ++i;
            continue;
        }
        if (item.t_ms < host.manual_clock().now_ms())
            return Status::invalid(options.timeline_file + ":" + std::to_string(item.line) + ": its time is " +
                                   timeline->zone.format_iso(item.t_ms) + ", before the clock at that point (" +
                                   timeline->zone.format_iso(host.manual_clock().now_ms()) +
                                   "): lines go in time order (after a clock_step, in the wall time it made)");
        runner.advance_to(item.t_ms);
        if (runner.stop_requested()) return Status::unavailable("interrupted");
        if (item.kind == TimelineItem::Kind::samples) {
            // Samples of one instant go out as one batch, like a bus message.
            batch.clear();
            size_t j = i;
            for (; j < items.size() && items[j].kind == TimelineItem::Kind::samples && items[j].t_ms == item.t_ms; ++j) {
                for (const auto& [name, s] : items[j].samples) {
                    host.record(s);
                    batch.push_back(s);
                }
            }
            engine.on_samples(batch);
            if (alarms) alarms->samples(batch);
            runner.deliver_published();
            i = j;
            continue;
        }
        switch (item.kind) {
            case TimelineItem::Kind::reply_rule: host.add_reply_rule(item.reply); break;
            case TimelineItem::Kind::declare: host.intern(item.name, item.series_kind, item.unit); break;
            case TimelineItem::Kind::clock_step:
                host.manual_clock().step_wall(item.step_ms);
                engine.run_due_timers();
                runner.deliver_published();
                break;
            case TimelineItem::Kind::plant: {
                Status st = plant.apply(item.plant, host.manual_clock().monotonic_ms());
                if (!st) return Status::invalid(options.timeline_file + ":" + std::to_string(item.line) + ": " + st.message());
                break;
            }
            case TimelineItem::Kind::alarm_ack:
            case TimelineItem::Kind::alarm_restart: {
                const std::string where = options.timeline_file + ":" + std::to_string(item.line) + ": ";
                if (item.kind == TimelineItem::Kind::alarm_restart) {
                    alarms->start(host.manual_clock().now_ms(), true);
                } else if (Status st = alarms->ack(item.alarm_id, item.name, item.unit, host.manual_clock().now_ms());
                           !st) {
                    // Refused (unknown id, acknowledged already): said, and the run goes on.
                    host.log(LogLevel::warn, "alarms", "ack " + std::to_string(item.alarm_id) + " refused: " + st.message());
                }
                break;
            }
            case TimelineItem::Kind::notify_outage:
                if (notify->has(item.name)) notify->outage(item.name, item.until_ms);
                break;
            case TimelineItem::Kind::samples: break;
        }
        ++i;
    }
    const int64_t end = timeline->until_ms.value_or(items.empty() ? timeline->start_ms : items.back().t_ms);
    runner.advance_to(end);
    if (runner.stop_requested() || (options.interrupted && options.interrupted()))
        return Status::unavailable("interrupted");

    auto infos = engine.rules();
    if (!infos.empty()) report.info = infos.front();
    report.commands = host.commands();
    report.events = host.events();
    report.published = host.published();
    report.logs = host.logs();
    report.state = host.state_of(report.rule);
    report.samples = host.samples_recorded();
    report.start_ms = timeline->start_ms;
    report.end_ms = host.manual_clock().now_ms();
    report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    report.has_plant = !plant.empty();
    report.meter_trace = plant.meter_trace();
    report.has_power_meter = plant.has_power_meter();
    report.power_trace = plant.power_trace();
    report.plant_end_ms = host.manual_clock().monotonic_ms();
    if (notify) {
        report.notifications_pending = notify->pending();
        report.messages_total = notify->total();
    }
    return report;
}

json report_to_json(const HarnessReport& r) {
    json out;
    out["rule"] = r.rule;
    out["file"] = r.rule_file;
    out["status"] = r.load_error ? "failed" : !r.has_rule ? "no_rule" : rule_status_name(r.info.status);
    if (r.load_error) {
        out["error"] = r.load_error->message();
    } else if (!r.info.error.empty()) {
        out["error"] = r.info.error;
    }
    json commands = json::array();
    for (const SentCommand& c : r.commands) {
        json j = {{"t", iso(r.zone, c.ts_ms)}, {"target", c.request.target}, {"value", c.request.value}};
        if (!c.request.text.empty()) j["text"] = c.request.text;
        if (c.reply) {
            j["reply"] = reply_status_name(c.reply->status);
            if (!c.reply->error.empty()) j["error"] = c.reply->error;
        } else {
            j["reply"] = "pending";
        }
        commands.push_back(std::move(j));
    }
    out["commands"] = std::move(commands);
    json events = json::array();
    for (const RuleEvent& e : r.events) {
        json body = json::parse(e.body_json, nullptr, false);
        events.push_back({{"t", iso(r.zone, e.ts_ms)},
                          {"type", e.type},
                          {"severity", severity_name(e.severity)},
                          {"body", body.is_discarded() ? json(e.body_json) : body}});
    }
    out["events"] = std::move(events);
    json logs = json::array();
    for (const LogLine& l : r.logs) {
        logs.push_back({{"t", iso(r.zone, l.ts_ms)}, {"level", log_level_name(l.level)}, {"message", l.message}});
    }
    out["logs"] = std::move(logs);
    if (!r.published.empty()) {
        json published = json::array();
        for (const auto& [series, sample] : r.published)
            published.push_back({{"t", iso(r.zone, sample.ts_ms)}, {"series", series}, {"value", sample.value}});
        out["published"] = std::move(published);
    }
    if (r.has_alarms || !r.alarms.empty()) {
        json alarms = json::array();
        const auto number = [](double v) { return std::isfinite(v) ? json(v) : json(); };
        for (const alarm::AlarmChange& c : r.alarms) {
            const alarm::Alarm& a = c.alarm;
            const int64_t t = alarm::transition_ms(c.transition, a);
            alarms.push_back({{"t", iso(r.zone, t)},
                              {"transition", alarm::transition_name(c.transition)},
                              {"id", a.id},
                              {"name", a.name},
                              {"series", a.series},
                              {"source", a.source},
                              {"status", alarm::alarm_status_name(a.status())},
                              {"criticality", alarm::criticality_name(a.criticality)},
                              {"value_start", number(a.value_start)},
                              {"value_extreme", number(a.value_extreme)},
                              {"message", a.message}});
        }
        out["alarms"] = std::move(alarms);
    }
    if (r.has_notifications) {
        json messages = json::array();
        for (const HarnessReport::Message& m : r.messages) {
            json changes = json::array();
            for (const notify::Change& c : m.batch.changes)
                changes.push_back({{"transition", c.transition},
                                   {"id", c.alarm.id},
                                   {"name", c.alarm.name},
                                   {"series", c.alarm.series}});
            json one = {{"t", iso(r.zone, m.t_ms)},
                        {"notification", m.notification},
                        {"id", m.batch.id},
                        {"subject", m.subject},
                        {"body", m.body},
                        {"changes", std::move(changes)}};
            if (!m.payload.is_null()) one["payload"] = m.payload;
            messages.push_back(std::move(one));
        }
        out["messages"] = std::move(messages);
        out["messages_total"] = r.messages_total;
        out["notifications_pending"] = r.notifications_pending;
    }
    json state = json::object();
    for (const auto& [k, v] : r.state) {
        json value = json::parse(v, nullptr, false);
        state[k] = value.is_discarded() ? json(v) : value;
    }
    out["state"] = std::move(state);
    if (r.has_plant) {
        double peak = 0;
        json trace = json::array();
        for (const auto& [t, amps] : r.meter_trace) {
            peak = std::max(peak, amps);
            trace.push_back({t, amps});
        }
        out["plant"] = {{"meter_peak_a", peak}, {"meter_trace", std::move(trace)}, {"end_ms", r.plant_end_ms}};
        if (r.has_power_meter) {
            double kw_peak = 0;
            json power = json::array();
            for (const auto& [t, kw] : r.power_trace) {
                kw_peak = std::max(kw_peak, kw);
                power.push_back({t, kw});
            }
            out["plant"]["power_peak_kw"] = kw_peak;
            out["plant"]["power_trace"] = std::move(power);
        }
    }
    out["errors"] = r.info.errors;
    out["samples"] = r.samples;
    out["from"] = iso(r.zone, r.start_ms);
    out["to"] = iso(r.zone, r.end_ms);
    out["wall_ms"] = std::round(r.wall_seconds * 1e4) / 10;
    return out;
}

std::string report_to_text(const HarnessReport& r) {
    std::ostringstream o;
    const json j = report_to_json(r);
    if (r.has_rule) {
        o << "rule " << r.rule << " (" << r.rule_file << "): " << j["status"].get<std::string>();
    } else {
        o << "no rule: alarm rules only";
    }
    if (j.contains("error")) o << ": " << j["error"].get<std::string>();
    o << "\n" << r.samples << " samples from " << j["from"].get<std::string>() << " to " << j["to"].get<std::string>()
      << " in " << j["wall_ms"].dump() << " ms\n";
    o << "\ncommands (" << j["commands"].size() << "):\n";
    for (const auto& c : j["commands"]) {
        o << "  " << c["t"].get<std::string>() << "  " << c["target"].get<std::string>() << " = " << c["value"].dump();
        if (c.contains("text")) o << " \"" << c["text"].get<std::string>() << "\"";
        o << "  -> " << c["reply"].get<std::string>();
        if (c.contains("error")) o << ": " << c["error"].get<std::string>();
        o << "\n";
    }
    o << "\nevents (" << j["events"].size() << "):\n";
    for (const auto& e : j["events"]) {
        o << "  " << e["t"].get<std::string>() << "  " << e["severity"].get<std::string>() << "  "
          << e["type"].get<std::string>() << "  " << e["body"].dump() << "\n";
    }
    if (j.contains("published")) {
        o << "\npublished (" << j["published"].size() << "):\n";
        for (const auto& p : j["published"])
            o << "  " << p["t"].get<std::string>() << "  " << p["series"].get<std::string>() << " = " << p["value"].dump()
              << "\n";
    }
    if (j.contains("alarms")) {
        o << "\nalarms (" << j["alarms"].size() << " changes):\n";
        for (const auto& a : j["alarms"]) {
            o << "  " << a["t"].get<std::string>() << "  " << a["transition"].get<std::string>() << "  #"
              << a["id"].dump() << " " << a["name"].get<std::string>() << "  " << a["status"].get<std::string>() << "  "
              << a["message"].get<std::string>() << "\n";
        }
    }
    if (j.contains("messages")) {
        o << "\nmessages (" << j["messages"].size() << "; " << j["notifications_pending"].dump()
          << " change(s) still waiting at the end):\n";
        for (const auto& m : j["messages"]) {
            o << "  " << m["t"].get<std::string>() << "  " << m["notification"].get<std::string>() << "  "
              << m["id"].get<std::string>() << "  " << m["subject"].get<std::string>() << "\n";
            std::istringstream body(m["body"].get<std::string>());
            for (std::string line; std::getline(body, line);) o << "      " << line << "\n";
        }
    }
    o << "\nstate (" << j["state"].size() << "):\n";
    for (const auto& [k, v] : j["state"].items()) o << "  " << k << " = " << v.dump() << "\n";
    o << "\nlog (" << j["logs"].size() << "):\n";
    for (const auto& l : j["logs"]) {
        o << "  " << l["t"].get<std::string>() << "  " << l["level"].get<std::string>() << "  "
          << l["message"].get<std::string>() << "\n";
    }
    return o.str();
}

}  // namespace gridlet::script
