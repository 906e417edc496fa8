#include "script/rule_host.h"

#include "script/engine_core.h"

namespace gridlet::script {

Status publish_conflict(const SeriesMeta& meta, const PublishedSample& sample) {
    if (sample.kind && *sample.kind != meta.kind)
        return Status::invalid("the series exists as a " + std::string(series_kind_name(meta.kind)));
    if (sample.unit && *sample.unit != meta.unit) return Status::invalid("the series exists with unit '" + meta.unit + "'");
    return Status::ok();
}

const char* log_level_name(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
    }
    return "?";
}

const char* severity_name(Severity s) noexcept {
    switch (s) {
        case Severity::debug: return "debug";
        case Severity::info: return "info";
        case Severity::warning: return "warning";
        case Severity::error: return "error";
        case Severity::critical: return "critical";
    }
    return "?";
}

std::optional<Severity> parse_severity(std::string_view name) noexcept {
    if (name == "debug") return Severity::debug;
    if (name == "info") return Severity::info;
    if (name == "warning" || name == "warn") return Severity::warning;
    if (name == "error") return Severity::error;
    if (name == "critical") return Severity::critical;
    return std::nullopt;
}

std::optional<SeriesRef> EngineCore::find_series(std::string_view name) {
    std::string key(name);
    if (auto it = by_name_.find(key); it != by_name_.end()) return it->second;
    auto ref = host.find_series(name);
    if (ref) {
        by_name_[key] = *ref;
        by_id_[ref->id] = *ref;
    }
    return ref;
}

std::optional<SeriesRef> EngineCore::series_info(uint32_t id) {
    if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
    auto ref = host.series_info(id);
    if (ref) {
        by_id_[id] = *ref;
        by_name_[ref->name] = *ref;
    }
    return ref;
}

}  // namespace gridlet::script
