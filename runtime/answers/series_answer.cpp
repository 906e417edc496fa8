#include "answers/series_answer.h"

#include "core/timezone.h"

namespace gridlet::answers {

nlohmann::json series_json(const SeriesMeta& m, const std::optional<store::Sample>& last) {
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [v, label] : m.states) states[std::to_string(v)] = label;
    std::string label;
    if (last)
        if (auto it = m.states.find(static_cast<int64_t>(last->value)); it != m.states.end()) label = it->second;
    return {{"id", m.id},
            {"name", m.name},
            {"kind", series_kind_name(m.kind)},
            {"unit", m.unit},
            {"description", m.description},
            {"tags", m.tags},
            {"states", states},
            {"last_time", last ? TimeZone::utc().format_iso(last->ts, true) : std::string()},
            {"last_value", last ? nlohmann::json(last->value) : nlohmann::json()},
            {"last_state", label.empty() ? nlohmann::json() : nlohmann::json(label)}};
}

}  // namespace gridlet::answers
