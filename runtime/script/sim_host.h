// SimHost: a RuleHost on a simulated clock, for offline rule runs
// (`gridlet test-rule`, rule tests, benchmarks). A real user feature.
//
//   - clock: a ManualClock the harness moves;
//   - series: an in-memory registry; every sample fed through record() is
//     kept (as the store keeps it: an equal timestamp overwrites, a
//     non-finite value is bad), so last_sample() and query() answer from the
//     timeline so far; aggregates are computed by the store's own code
//     (store/aggregation.h): the same epoch-aligned buckets, counter rules
//     and numbers as a live query;
//   - commands: recorded, and answered by scripted ReplyRules (default: ok at
//     once); replies come out of take_due_replies() at their time;
//   - events, logs, persistent state: recorded in memory.
//
// Threads: the engine thread (one thread).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/series_registry.h"
#include "script/rule_host.h"
#include "script/plant.h"
#include "script/timeline.h"

namespace gridlet::script {

struct SentCommand {
    int64_t ts_ms = 0;
    CommandRequest request;
    std::optional<CommandReply> reply;  // once answered
    int64_t reply_ts_ms = 0;
};

struct LogLine {
    int64_t ts_ms = 0;
    LogLevel level = LogLevel::info;
    std::string rule;
    std::string message;
};

class SimHost final : public RuleHost {
public:
    SimHost(int64_t start_utc_ms, TimeZone zone);

    ManualClock& manual_clock() noexcept { return clock_; }
    const SeriesRegistry& registry() const noexcept { return registry_; }
    // The alarm table (in memory, as the store keeps it): restart_alarms()
    // makes a new one from the records kept, as gridlet does at a restart.
    alarm::AlarmTable& alarm_table() { return *alarm_table_; }
    void restart_alarms(int64_t now_ms);
    // Series id of `name`, created if new.
    uint32_t intern(const std::string& name, SeriesKind kind = SeriesKind::gauge, const std::string& unit = {});
    // Keep a sample (its series_id set) for last_sample()/query().
    void record(const gl_sample& s);
    void add_reply_rule(ReplyRule rule) { reply_rules_.push_back(std::move(rule)); }
    // Commands to what `plant` models go to it (after the scripted reply
    // rules: a matching rule answers instead, and the plant never sees it).
    void set_plant(Plant* plant) noexcept { plant_ = plant; }
    void set_state(const std::string& rule, const std::string& key, const std::string& json) { state_[rule][key] = json; }
    // The site's devices (gridlet.devices), as `gridlet check` knows them;
    // unset (the offline harness): gridlet.devices() is nil.
    void set_site_devices(std::vector<std::string> names) { site_devices_ = std::move(names); }
    // Echo log lines to stderr as they come.
    void set_echo_logs(bool echo) noexcept { echo_logs_ = echo; }

    // Time (UTC ms) of the next scripted reply, or nullopt.
    std::optional<int64_t> next_reply_ms() const;
    // Replies due at or before the clock's now, in time order.
    std::vector<CommandReply> take_due_replies();

    // What rules published (gridlet.publish), in order; and those not yet
    // delivered to the rules (the harness delivers them after the callback).
    const std::vector<std::pair<std::string, gl_sample>>& published() const noexcept { return published_; }
    std::vector<gl_sample> take_undelivered();
    const std::vector<SentCommand>& commands() const noexcept { return commands_; }
    const std::vector<RuleEvent>& events() const noexcept { return events_; }
    const std::vector<LogLine>& logs() const noexcept { return logs_; }
    // What rules exported (gridlet.export), in order: any target is taken
    // (the offline harness has no servers) and each file logged.
    struct ExportedFile {
        std::string rule, target, name, content;
        int64_t ts_ms = 0;
    };
    const std::vector<ExportedFile>& exported() const noexcept { return exported_; }
    // Tests: every state write fails with `error` (a full disk), or succeeds
    // again with nullopt.
    void fail_state_writes(std::optional<std::string> error) { state_write_error_ = std::move(error); }
    const std::map<std::string, std::string>& state_of(const std::string& rule) const;
    size_t samples_recorded() const noexcept { return recorded_; }

    // RuleHost
    const Clock& clock() const override { return clock_; }
    const TimeZone& time_zone() const override { return zone_; }
    std::vector<SeriesRef> resolve(std::string_view pattern) override;
    std::optional<SeriesRef> find_series(std::string_view name) override;
    std::optional<SeriesRef> series_info(uint32_t id) override;
    std::optional<gl_sample> last_sample(uint32_t id) override;
    Expected<std::vector<QueryRow>> query(const QuerySpec& spec) override;
    Status send_command(const CommandRequest& request) override;
    void emit_event(const RuleEvent& event) override;
    Status publish_sample(const PublishedSample& sample) override;
    Expected<std::map<std::string, std::string>> load_state(std::string_view rule) override;
    Status put_state(std::string_view rule, std::string_view key, const std::optional<std::string>& json) override;
    void log(LogLevel level, std::string_view rule, std::string_view message) override;
    alarm::AlarmTable* alarms() override { return alarm_table_.get(); }
    std::optional<std::vector<std::string>> site_devices() const override { return site_devices_; }
    std::string export_refusal(std::string_view) override { return {}; }
    Status export_file(std::string_view rule, const std::string& target, const std::string& name,
                       const std::string& content) override;

private:
    std::vector<ExportedFile> exported_;
    ManualClock clock_;
    TimeZone zone_;
    SeriesRegistry registry_;
    std::unordered_map<uint32_t, std::vector<gl_sample>> history_;
    size_t recorded_ = 0;
    std::vector<ReplyRule> reply_rules_;
    std::multimap<int64_t, CommandReply> due_replies_;
    std::unordered_map<uint64_t, size_t> command_index_;
    std::vector<SentCommand> commands_;
    std::vector<RuleEvent> events_;
    std::vector<std::pair<std::string, gl_sample>> published_;
    std::vector<gl_sample> undelivered_;
    std::vector<LogLine> logs_;
    std::optional<std::string> state_write_error_;
    std::map<std::string, std::map<std::string, std::string>> state_;
    bool echo_logs_ = false;
    std::optional<std::vector<std::string>> site_devices_;
    Plant* plant_ = nullptr;
    alarm::MemoryPersistence alarm_persistence_;
    std::unique_ptr<alarm::AlarmTable> alarm_table_;
};

}  // namespace gridlet::script
