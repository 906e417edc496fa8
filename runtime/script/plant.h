// Plant: the closed loop of an offline rule run (`gridlet test-rule`), so
// that EV charging scenarios can be written as data (issue 13).
//
// Charging stations are the simulator's model (plugins/sim/evse_model.h:
// a vehicle charges at min(setpoint, its maximum) once enabled, follows a new
// setpoint after the station's response time, is full once it has taken the
// Ah it needed). The installation meter reads the other loads plus every
// station's current on its phase(s). Each is polled at its own period: the
// rule sees what a driver would publish, not the model's inside.
//
// Timeline lines (timeline.h):
//   {"t": "+0s", "station": "ev1", "rated": 32, "phases": 3, "phase": 1,
//    "respond": "5s", "poll": "1s"}              define or change a station
//   {"t": "+2s", "station": "ev1", "vehicle": {"max": 32, "need_ah": 40}}
//                                                 a vehicle arrives (null: it leaves);
//                                                 "ignores_setpoint": true, a faulty one that
//                                                 draws its maximum whatever the setpoint
//   {"t": "+0s", "meter": "main/current", "poll": "2s", "others": 180}
//                                                 the meter; "others" may change later
//   {"t": "+0s", "load": "relays/coil1", "kw": 30, "respond": "1s", "on": true}
//                                                 a load switched by a relay coil: a
//                                                 command to that point (>= 0.5 on, else
//                                                 off) switches it `respond` later
//   {"t": "+0s", "power_meter": "main/kw", "poll": "5s", "others": 90}
//                                                 the site's power meter (kW): others +
//                                                 the loads that are on + the stations
//                                                 (230 V a phase); "silent": true, it
//                                                 stops answering (false: again)
// Station series: <name>/state (0 available, 1 connected, 2 charging,
// 3 waiting, 4 error), <name>/current/l1..l3 (A); its commands:
// <name>/current_setpoint (A, 0 or 6..rated) and <name>/enable (0/1), answered
// as the station would (an out-of-range setpoint is an error reply).
// The meter publishes its series (the highest phase) or, with "phases": 3,
// <series>/l1..l3.
//
// The true meter current (not the polled one) is kept as a trace, for
// expectations such as "never above 250 A for more than 5 s"; the true site
// power likewise, for "every 15-minute demand at most 100 kW".
//
// Threads: the harness thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "script/rule_host.h"

namespace gridlet::sim {
class EvseStation;
}

namespace gridlet::script {

// One "station" or "meter" line of a timeline, checked.
struct PlantChange {
    enum class What { station, meter, load, power_meter } what = What::station;
    std::string name;  // station name, the meter's series, the load's coil point
    std::optional<double> rated, others, kw;
    std::optional<bool> on, silent;
    std::optional<int> phases, phase;
    std::optional<int64_t> respond_ms, poll_ms;
    bool vehicle_given = false;  // "vehicle" present (null: it leaves)
    std::optional<std::pair<double, double>> vehicle;  // max A, need Ah
    bool ignores_setpoint = false;                     // "vehicle": {"ignores_setpoint": true}
};

// Parses the JSON of a station, meter, load or power_meter line; errors
// name the key.
Expected<PlantChange> parse_plant_change(const nlohmann::json& line,
                                         const std::function<Expected<int64_t>(const nlohmann::json&, const char*)>& duration);

class Plant {
public:
    // Times are the run's monotonic clock, ms from its start (a wall clock
    // step moves no vehicle).
    Plant();
    ~Plant();
    Plant(const Plant&) = delete;
    Plant& operator=(const Plant&) = delete;

    bool empty() const noexcept { return stations_.empty() && !meter_ && loads_.empty() && !power_meter_; }
    // Applies a timeline line at `now_ms` (the model is first moved there).
    Status apply(const PlantChange& change, int64_t now_ms);
    // Moves the model to `now_ms` (100 ms steps).
    void advance_to(int64_t now_ms);
    // The next time a station or the meter is polled.
    std::optional<int64_t> next_poll_ms() const;
    // Samples of the polls due at `now_ms` (name, value), polls rescheduled.
    std::vector<std::pair<std::string, double>> take_polls(int64_t now_ms);
    // A command to a modelled station point, applied at `now_ms`: its reply.
    // nullopt when the target is not the plant's.
    std::optional<CommandReply> command(const CommandRequest& request, int64_t now_ms);

    // The true meter current (highest phase, A) from each time (ms from the
    // start) on.
    const std::vector<std::pair<int64_t, double>>& meter_trace() const noexcept { return trace_; }
    // The true site power (kW, what the power meter reads) from each time on.
    const std::vector<std::pair<int64_t, double>>& power_trace() const noexcept { return power_trace_; }
    bool has_power_meter() const noexcept { return power_meter_.has_value(); }

private:
    struct Station;
    struct Meter {
        std::string series;
        int phases = 1;
        int64_t poll_ms = 1000;
        int64_t next_poll_ms = 0;
        double others = 0;
    };
    struct Load {
        double kw = 0;
        bool on = true;
        int64_t respond_ms = 1000;
        std::optional<std::pair<int64_t, bool>> switching;  // when, to what
    };
    struct PowerMeter {
        std::string series;
        int64_t poll_ms = 1000;
        int64_t next_poll_ms = 0;
        double others = 0;
        bool silent = false;
    };
    double phase_current(int phase) const;
    double site_power() const;
    void record_meter();

    int64_t now_ms_ = 0;
    std::map<std::string, std::unique_ptr<Station>> stations_;
    std::optional<Meter> meter_;
    std::map<std::string, Load> loads_;
    std::optional<PowerMeter> power_meter_;
    std::vector<std::pair<int64_t, double>> trace_;
    std::vector<std::pair<int64_t, double>> power_trace_;
};

}  // namespace gridlet::script
