// AlarmEvaluator: runs the site's [[alarms]] rules (alarm_rules.h) on the
// samples of the bus and raises and ends their alarms in an AlarmTable.
//
// One instance per (rule, matching series): series known at start() and
// series that appear later (checked once, at their first sample). Per
// sample the cost is an array lookup by series id and, for the series that
// have instances, a comparison; no allocation unless an alarm changes.
//
// Times: on-delay, off-delay and rates use the samples' timestamps; tick()
// uses the caller's clock (wall, UTC ms) for delays that expire between
// samples and for stale data. The offline harness calls it with the
// simulated clock, so scenarios are deterministic.
//
// Device alarms: a series whose registry tags hold alarm=<criticality> (a
// driver's profile marks a device's own alarm bit, e.g. the BCPM's latched
// high-high bit) gets an instance of a rule made for it: active while the
// value is non-zero (origin "device", key "device|<series>", category
// "device", name = the point, e.g. "branch07/alarm/high_high").
//
// After a restart, the active alarms of the table (the store's) are bound
// to their instances: the instance starts as active, so the first fresh
// sample is judged against the return level (and the off-delay). Alarms of
// rules no longer configured end at start() ("its [[alarms]] rule is no
// longer in the site file").
//
// Threads: one owner thread (the alarms component's, or the harness's); the
// table may be used by others at the same time.
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alarm/alarm_rules.h"
#include "alarm/alarm_table.h"
#include "core/series_registry.h"

namespace gridlet::alarm {

struct EvaluatorCounters {
    uint64_t samples = 0;             // samples looked at
    uint64_t evaluations = 0;         // instance evaluations
    size_t instances = 0;
    size_t waiting_for_reference = 0; // instances whose threshold_of value is not known yet
    uint64_t raise_failures = 0;      // raises the table refused (flood control, persistence)
};

class AlarmEvaluator {
public:
    AlarmEvaluator(std::vector<AlarmRule> rules, AlarmTable& table, const SeriesRegistry& registry);

    // Makes the instances of the series known now, binds active alarms,
    // ends those of removed rules. Call once, first.
    void start(int64_t now_ms);
    void on_samples(const gl_sample* samples, size_t n);
    // Delays that expired and stale series, at now_ms (UTC). Call often
    // (every 100-1000 ms); the resolution of delays is this period.
    void tick(int64_t now_ms);

    // The earliest time (UTC ms) at which tick() would change something
    // (a delay that expires, a series that turns stale), or nullopt. For
    // simulated clocks (the offline harness).
    std::optional<int64_t> next_due_ms() const;

    EvaluatorCounters counters() const;
    // The key of the alarm of `rule` on `series` ("site/<rule>|<series>";
    // a device alarm's: "device|<series>").
    static std::string instance_key(const std::string& rule, const std::string& series);
    static std::string device_key(const std::string& series);

private:
    struct Instance {
        uint32_t rule = 0;
        uint32_t series = 0;
        std::string key;
        std::string series_name, unit;
        uint32_t ref_series = 0;      // threshold_of: the sibling point's id (0: a tag, or none yet)
        double ref = std::numeric_limits<double>::quiet_NaN();  // the reference value
        double target = std::numeric_limits<double>::quiet_NaN();  // equals: the state value
        bool on = false;              // the alarm's condition is held as true (raised)
        bool pending = false;         // a change of `on` is waiting for its delay
        int64_t pending_since = 0;
        double pending_value = 0;
        double last_value = std::numeric_limits<double>::quiet_NaN();
        int64_t last_ts = 0;          // of the last good sample
        int64_t last_good_ms = 0;     // stale: the last good sample, or the start
        bool tag_missing_said = false;
    };
    struct Slot {
        bool checked = false;
        std::vector<uint32_t> instances;  // indexes into instances_
        std::vector<uint32_t> references; // instances whose reference this series is
    };
    Slot& slot(uint32_t series_id);
    void check_series(uint32_t series_id, Slot& s);
    void add_instance(uint32_t rule_index, const SeriesMeta& meta);
    void evaluate(Instance& in, double v, int64_t ts);
    void apply(Instance& in, bool on, double value, int64_t ts);
    static RaiseRequest request_of(const AlarmRule& rule, const std::string& series, const std::string& key);
    bool levels(const Instance& in, double& t, double& r) const;

    std::vector<AlarmRule> rules_;
    AlarmTable& table_;
    const SeriesRegistry& registry_;
    std::vector<Slot> slots_;
    std::vector<Instance> instances_;
    std::unordered_multimap<std::string, uint32_t> waiting_ref_;  // reference point name -> instance
    // stale rules naming one series the registry does not know yet: raised
    // stale_s after the start ("never heard"); dropped when it appears.
    struct NeverHeard {
        uint32_t rule = 0;
        std::string series;
        bool raised = false;
    };
    std::vector<NeverHeard> never_heard_;
    std::vector<uint32_t> timed_;  // instances with a delay or stale: looked at by tick()
    EvaluatorCounters counters_;
    int64_t started_ms_ = 0;
};

}  // namespace gridlet::alarm
