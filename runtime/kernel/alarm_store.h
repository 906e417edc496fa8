// StoreAlarmPersistence: the alarm table's records in the store's "state"
// family, under the namespace "#alarms" (no rule can have that name: rule
// names are letters, digits, '_', '-', '.'), key = the id as 16 hex digits,
// so records list in id order. Used by the running kernel (read-write) and
// by `gridlet alarms` (read-only, or read-write on a stopped site).
// Threads: any (the store is thread-safe).
#pragma once

#include "alarm/alarm_table.h"
#include "store/state_store.h"

namespace gridlet::kernel {

inline constexpr const char* kAlarmNamespace = "#alarms";

class StoreAlarmPersistence final : public alarm::AlarmPersistence {
public:
    explicit StoreAlarmPersistence(store::StateStore& state) : state_(state) {}
    Expected<std::vector<std::string>> load_all() override;
    Status put(uint64_t id, const std::string& json) override;
    Status erase(uint64_t id) override;

private:
    store::StateStore& state_;
};

// gl_severity of an alarm transition's event: raised and reactivated as its criticality
// (information: info, non_critical: warning, critical: critical); the other
// transitions: info.
int32_t alarm_event_severity(const alarm::AlarmChange& change);

}  // namespace gridlet::kernel
