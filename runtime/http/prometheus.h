// The kernel's metrics (Kernel::metrics_json: bus per plugin, store, alarms,
// notifications, exports, north feeds) and the API's own counters in the
// Prometheus text exposition format 0.0.4, for GET /metrics.
//
// Names: gridlet_<section>_<key>, with `_total` for counters; plugins as
// gridlet_plugin_<key>{instance,plugin,kind} and gridlet_plugin_running;
// north feeds as gridlet_north_feed_<key>{feed}. `site` (optional) adds
// what the API reads of the running site: "devices" (GET /devices: as
// gridlet_device_up{device,plugin}, gridlet_device_comm_<key>_total,
// gridlet_device_last_poll_timestamp_seconds), "rules" (GET /rules:
// gridlet_rule_running{rule}, _callbacks_total, _errors_total, _memory_bytes)
// and "outboxes" (GET /exports: gridlet_outbox_files{target}, _bytes,
// _failures_in_a_row). Texts (paths, errors) are left out; a state becomes a
// 0/1 gauge (gridlet_store_failing). Pure; any thread.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace gridlet::http {

struct ApiCounters;

std::string prometheus_text(const nlohmann::json& kernel_metrics, const ApiCounters* http, size_t sessions,
                            const nlohmann::json& site = nlohmann::json::object());

}  // namespace gridlet::http
