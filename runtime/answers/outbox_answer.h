// The files waiting in the export targets' outboxes, as `gridlet export
// --outbox` prints them and the HTTP API sends them (GET /api/v1/exports):
// per target, its files oldest first and its last error. Any thread (the
// store's outbox and state are thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/timezone.h"
#include "export/export_target.h"
#include "store/store.h"

namespace gridlet::answers {

struct OutboxFile {
    std::string file_name, export_name;
    int64_t queued_ms = 0;  // UTC ms
    uint64_t bytes = 0;
};

struct OutboxTarget {
    std::string name, url;
    bool configured = true;  // false: no [[export_targets]] of this name (its files are kept)
    std::vector<OutboxFile> files;
    uint64_t bytes = 0;
    std::string last_error;  // empty: the last try succeeded (or none yet)
    int64_t last_try_ms = 0;
    uint64_t failures_in_a_row = 0;
};

// The configured targets (only `only` when not empty), then, without
// `only`, the queues of targets the site no longer names.
Expected<std::vector<OutboxTarget>> read_outboxes(store::Store& st, const std::vector<exporter::TargetConfig>& targets,
                                                  const std::string& only);

// [{target, url, configured, files: [{file, export, queued, queued_ms,
// bytes}], bytes, last_error, last_try, failures_in_a_row}]; times ISO 8601
// in `zone`.
nlohmann::json outbox_json(const std::vector<OutboxTarget>& targets, const TimeZone& zone);

}  // namespace gridlet::answers
