#include "answers/device_answer.h"

#include <algorithm>
#include <optional>

#include "store/store.h"

namespace gridlet::answers {

namespace {

constexpr int64_t kErrorLookbackMs = 7 * 86'400'000LL;  // the last error shown: within a week

struct DeviceErrors {
    std::string text;
    int64_t ts = 0;
};

// The latest offline event of each device within the lookback (one scan).
std::map<std::string, DeviceErrors> last_errors(store::Store& st, int64_t now) {
    std::map<std::string, DeviceErrors> out;
    store::EventFilter f;
    f.from = now - kErrorLookbackMs;
    f.type = "offline";
    auto events = st.events().query(f);
    if (!events) return out;
    for (const store::Event& e : *events) {
        auto body = nlohmann::json::parse(e.body, nullptr, false);
        const std::string device =
            body.is_object() && body.contains("device") && body["device"].is_string() ? body["device"].get<std::string>()
                                                                                       : e.source;
        std::string text = body.is_object() && body.contains("error") && body["error"].is_string()
                               ? body["error"].get<std::string>()
                               : "offline";
        out[device] = {std::move(text), e.ts};
    }
    return out;
}

std::optional<store::Sample> last_of(store::Store& st, const std::string& name) {
    auto id = st.registry().find(name);
    if (!id) return std::nullopt;
    auto last = st.query().last(*id);
    if (!last || !*last) return std::nullopt;
    return **last;
}

}  // namespace

nlohmann::json devices_status(store::Store* store, const std::vector<DeviceEntry>& devices,
                              const std::map<std::string, std::string>& refused, const nlohmann::json& plugins,
                              int64_t now_ms, const std::string& only, bool with_newest) {
    auto device_json = [&refused, store](const DeviceEntry& d, const nlohmann::json& plugins,
                              const std::map<std::string, DeviceErrors>& errors, bool with_newest) {
        nlohmann::json j = {{"name", d.name}, {"plugin", d.plugin}};
        const nlohmann::json* p = plugins.contains(d.plugin) ? &plugins[d.plugin] : nullptr;
        // A plugin the metrics do not name is not running (disabled).
        j["plugin_state"] = p && p->contains("state") ? (*p)["state"]
                            : plugins.empty()         ? nlohmann::json("unknown")
                                                      : nlohmann::json("not_running");
        if (auto it = refused.find(d.name); it != refused.end()) {
            j["state"] = "left_out";
            j["last_error"] = it->second;
            return j;
        }
        std::string state = "unknown";
        int64_t last_poll = 0;
        nlohmann::json comm = nlohmann::json::object();
        if (store) {
            store::Store& st = *store;
            if (auto online = last_of(st, d.name + "/online")) state = online->value >= 0.5 ? "online" : "offline";
            else if (auto status = last_of(st, d.name + "/status"))
                state = status->value == 1 ? "online" : status->value == 2 ? "offline" : "unknown";
            for (const char* c : {"requests", "timeouts", "exceptions", "malformed", "failed_polls", "reconnects",
                                  "wrong_unit", "failing_points", "stale_replies"}) {
                auto v = last_of(st, d.name + "/comm/" + c);
                if (!v) continue;
                comm[c] = static_cast<uint64_t>(std::max(0.0, v->value));
                if (std::string_view(c) == "requests") last_poll = v->ts;
            }
            if (with_newest) {
                int64_t newest = 0;
                if (auto sel = st.registry().select(d.name + "/"); sel)
                    for (const SeriesMeta& m : *sel)
                        if (auto last = st.query().last(m.id); last && *last) newest = std::max(newest, (*last)->ts);
                j["last_data_ms"] = newest ? nlohmann::json(newest) : nlohmann::json();
            }
        }
        if ((p && p->value("state", "") != "running") || (!p && !plugins.empty())) state = "stopped";
        j["state"] = state;
        j["last_poll_ms"] = last_poll ? nlohmann::json(last_poll) : nlohmann::json();
        uint64_t errs = 0;
        for (const char* c : {"timeouts", "exceptions", "malformed", "wrong_unit"})
            if (comm.contains(c)) errs += comm[c].get<uint64_t>();
        j["errors"] = comm.empty() ? nlohmann::json() : nlohmann::json(errs);
        j["comm"] = comm;
        if (auto it = errors.find(d.name); it != errors.end()) {
            j["last_error"] = it->second.text;
            j["last_error_ms"] = it->second.ts;
        } else {
            j["last_error"] = nullptr;
            j["last_error_ms"] = nullptr;
        }
        return j;
    };

    const auto errors = store ? last_errors(*store, now_ms) : std::map<std::string, DeviceErrors>{};
    nlohmann::json out = nlohmann::json::array();
    for (const DeviceEntry& d : devices)
        if (only.empty() || d.name == only) out.push_back(device_json(d, plugins, errors, with_newest));
    return out;
}

}  // namespace gridlet::answers
