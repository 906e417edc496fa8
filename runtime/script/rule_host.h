// RuleHost: everything the Lua rule engine needs from the outside world.
//
// The engine (script/engine.h) never touches the bus or the store; it reaches
// them only through this interface. The kernel implements it on the real bus
// and store; the offline harness (script/sim_host.h) implements it on a
// simulated clock and an in-memory timeline.
//
// Threads: the engine has one owner thread (the "engine thread"). Every
// method below is called on that thread only, from inside Engine entry
// points. None of them may call back into the Engine synchronously: a
// command's reply, for example, is delivered later by the owner thread
// calling Engine::on_command_reply().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gridlet/plugin.h>
#include <nlohmann/json.hpp>

#include "alarm/alarm_table.h"
#include "core/aggregate.h"
#include "core/clock.h"
#include "core/series_registry.h"
#include "core/status.h"
#include "core/timezone.h"

namespace gridlet::script {

enum class LogLevel { debug, info, warn, error };
const char* log_level_name(LogLevel level) noexcept;

// Event severities: the values of gl_severity.
enum class Severity : int32_t { debug = 0, info = 1, warning = 2, error = 3, critical = 4 };
const char* severity_name(Severity s) noexcept;
std::optional<Severity> parse_severity(std::string_view name) noexcept;  // also "warn"

struct SeriesRef {
    uint32_t id = 0;
    std::string name;
    SeriesKind kind = SeriesKind::gauge;
};

// Shaped like a store query: series, [from, to), step, aggregate.
struct QuerySpec {
    std::vector<uint32_t> series;
    int64_t from_ms = 0;  // inclusive, UTC
    int64_t to_ms = 0;    // exclusive, UTC
    // Bucket width (epoch-aligned buckets labelled with their aligned start);
    // 0 with an aggregate: one bucket [from, to) labelled from_ms.
    int64_t step_ms = 0;
    // Calendar buckets instead (days, weeks, months, years in the site's
    // time zone, RuleHost::time_zone(); labelled with their local start).
    std::optional<CalendarUnit> calendar;
    std::optional<Aggregate> aggregate;  // nullopt: raw samples
    // Bounds while reading (store::QueryLimit): more than max_rows rows in
    // all (0: no limit) end the query with "more than N rows; ..."; `meter`
    // is told the samples decoded and buckets made as they are, and its
    // non-ok Status ends the query (the rule's time budget). The engine
    // sets both; a host must honour both before it holds the rows.
    size_t max_rows = 0;
    std::function<Status(uint64_t work)> meter;
};

// One raw sample, or one bucket (ts_ms = bucket start). Rows are ordered by
// series (in QuerySpec order), then time. Empty buckets are left out.
struct QueryRow {
    uint32_t series_id = 0;
    int64_t ts_ms = 0;
    double value = 0;
    uint8_t quality = GL_QUALITY_GOOD;
};

struct CommandRequest {
    uint64_t request_id = 0;  // engine-unique; pass it back with the reply
    std::string rule;         // the sending rule's name
    std::string target;       // "device/point"
    double value = 0;
    std::string text;         // optional text argument ("" if none)
    uint32_t timeout_ms = 0;
};

struct CommandReply {
    uint64_t request_id = 0;
    gl_status status = GL_OK;  // GL_OK, GL_ERR, GL_ERR_TIMEOUT, GL_ERR_NOT_FOUND, ...
    std::string error;         // "" when ok
};

// A sample a rule publishes (gridlet.publish), as a driver would.
struct PublishedSample {
    std::string rule;    // the publishing rule's name
    std::string series;  // "device/point"
    double value = 0;
    int64_t ts_ms = 0;   // UTC
    // Given by the rule: must match an existing series; else a new one is a
    // gauge without unit.
    std::optional<SeriesKind> kind;
    std::optional<std::string> unit;
};

// Why `sample` may not go to the existing series `meta` (its kind or unit
// differ from what the rule gave), or ok. Hosts check it before publishing.
Status publish_conflict(const SeriesMeta& meta, const PublishedSample& sample);

struct RuleEvent {
    int64_t ts_ms = 0;
    std::string source;  // "rule/<name>"
    std::string type;    // "alarm", "rule_error", "rule_stopped", ...
    Severity severity = Severity::info;
    std::string body_json;  // a JSON object
};

class RuleHost {
public:
    virtual ~RuleHost() = default;

    // The engine clock: now_ms() (UTC) for at() and now(), monotonic_ms()
    // for every() and budgets' bookkeeping.
    virtual const Clock& clock() const = 0;
    // The site's time zone, for at() and os.date().
    virtual const TimeZone& time_zone() const = 0;

    // Series known now whose name matches `pattern` (core/pattern.h).
    virtual std::vector<SeriesRef> resolve(std::string_view pattern) = 0;
    virtual std::optional<SeriesRef> find_series(std::string_view name) = 0;
    virtual std::optional<SeriesRef> series_info(uint32_t id) = 0;

    // Newest stored sample of a series (used only when the engine has not
    // seen one on the bus yet), or nullopt.
    virtual std::optional<gl_sample> last_sample(uint32_t id) = 0;
    virtual Expected<std::vector<QueryRow>> query(const QuerySpec& spec) = 0;

    // Send a command. Exactly one reply must later reach
    // Engine::on_command_reply (ok, error, or GL_ERR_TIMEOUT after
    // timeout_ms). An error Status here means "not sent"; the engine then
    // answers the rule itself with that error.
    virtual Status send_command(const CommandRequest& request) = 0;

    virtual void emit_event(const RuleEvent& event) = 0;

    // gridlet.consumption: the site model's consumption. `request` and the
    // answer are the JSON of model/consumption_json.h (the keyed shape).
    // Errors: invalid_argument (a bad request, a model that cannot answer
    // it), unsupported (no site model or no store here). Engine thread.
    virtual Expected<nlohmann::json> consumption(const nlohmann::json& request) {
        (void)request;
        return Status::unsupported("no site model here (gridlet test-rule has no store): run it in a site with [model]");
    }

    // gridlet.devices: the names of the site's devices, or nullopt when the
    // host does not know the site (the offline harness). Engine thread.
    virtual std::optional<std::vector<std::string>> site_devices() const { return std::nullopt; }

    // gridlet.publish: why `series` may not be published by a rule ("" when
    // it may), e.g. it is a point of one of the site's devices (commanded
    // with gridlet.write, never overwritten). Engine thread.
    virtual std::string publish_refusal(std::string_view series) {
        (void)series;
        return {};
    }
    // Publishes the sample as a driver would: stored, delivered to the rules
    // (on a later delivery, never inside the publishing callback) and to the
    // north plugins; a new series is created with `kind` and `unit`.
    // Errors: the series exists as another kind, the bus is full.
    virtual Status publish_sample(const PublishedSample& sample) {
        (void)sample;
        return Status::unsupported("this host does not publish samples");
    }

    // gridlet.export: why files may not be queued for `target` ("" when they
    // may: an [[export_targets]] name of a site with a store). Engine thread.
    virtual std::string export_refusal(std::string_view target) {
        (void)target;
        return "this host has no [[export_targets]]";
    }
    // Queues `content` as the file `name` for `target` (the outbox of
    // export/outbox_sender.h). Errors: the target's outbox is full, the
    // store fails. Engine thread.
    virtual Status export_file(std::string_view rule, const std::string& target, const std::string& name,
                               const std::string& content) {
        (void)rule, (void)target, (void)name, (void)content;
        return Status::unsupported("this host has no [[export_targets]]");
    }

    // Persistent rule state: key -> JSON text. load at rule start; put is
    // durable before it returns; nullopt erases the key.
    virtual Expected<std::map<std::string, std::string>> load_state(std::string_view rule) = 0;
    virtual Status put_state(std::string_view rule, std::string_view key, const std::optional<std::string>& json) = 0;

    // A log line from or about a rule (the engine adds file:line where known).
    virtual void log(LogLevel level, std::string_view rule, std::string_view message) = 0;

    // The site's alarm table (gridlet.alarm), or null when the host has none
    // (gridlet.alarm then raises a Lua error). The table is thread-safe; the
    // host publishes its changes.
    virtual alarm::AlarmTable* alarms() { return nullptr; }
};

}  // namespace gridlet::script
