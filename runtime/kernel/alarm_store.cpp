#include "kernel/alarm_store.h"

#include <gridlet/plugin.h>

#include <cstdio>

namespace gridlet::kernel {

namespace {
std::string id_key(uint64_t id) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
    return buf;
}
}  // namespace

Expected<std::vector<std::string>> StoreAlarmPersistence::load_all() {
    auto items = state_.list(kAlarmNamespace);
    if (!items) return items.status();
    std::vector<std::string> out;
    out.reserve(items->size());
    for (auto& [k, v] : *items) out.push_back(std::move(v));
    return out;
}

Status StoreAlarmPersistence::put(uint64_t id, const std::string& json) {
    return state_.put(kAlarmNamespace, id_key(id), json);
}

Status StoreAlarmPersistence::erase(uint64_t id) { return state_.erase(kAlarmNamespace, id_key(id)); }

int32_t alarm_event_severity(const alarm::AlarmChange& change) {
    // Raised, or active again: as its criticality. The rest is news, not a fault.
    if (change.transition != alarm::Transition::raised && change.transition != alarm::Transition::reactivated)
        return GL_SEV_INFO;
    switch (change.alarm.criticality) {
        case alarm::Criticality::information: return GL_SEV_INFO;
        case alarm::Criticality::non_critical: return GL_SEV_WARNING;
        case alarm::Criticality::critical: return GL_SEV_CRITICAL;
    }
    return GL_SEV_INFO;
}

}  // namespace gridlet::kernel
