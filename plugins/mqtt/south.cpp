#include "south.h"

#include "topic.h"

#include <mosquitto.h>

#include <fstream>
#include <map>

namespace gridlet::mqtt {

namespace {
constexpr int64_t kLogEveryMs = 10'000;

bool plausible_tags(const std::string& tags) {
    if (tags.empty()) return true;
    size_t start = 0;
    while (start <= tags.size()) {
        const size_t end = std::min(tags.find(',', start), tags.size());
        const std::string pair = tags.substr(start, end - start);
        const size_t eq = pair.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) return false;
        start = end + 1;
        if (end == tags.size()) break;
    }
    return true;
}
}  // namespace

std::vector<SouthDevice> build_devices(const nlohmann::json& devices, const std::vector<std::string>& profile_dirs,
                                       const std::function<void(const std::string&, const std::string&)>& problem,
                                       const std::function<void(const std::string&)>& warn) {
    std::vector<SouthDevice> out;
    std::map<std::string, std::shared_ptr<const SensorProfile>> loaded;
    std::map<std::string, std::string> failed;
    if (!devices.is_array()) return out;
    for (const auto& j : devices) {
        SouthDevice d;
        d.name = j.value("name", "");
        const std::string profile = j.value("profile", "");
        d.topic = j.value("topic", "");
        d.gateway = j.value("gateway", "");
        d.tags = j.value("tags", "");
        bool ok = true;
        auto bad = [&](const std::string& what) {
            problem(d.name, what);
            ok = false;
        };
        if (!valid_topic_filter(d.topic))
            bad("topic '" + d.topic + "' is not a valid MQTT topic filter ('+' for one level, '#' last for the rest)");
        if (!plausible_tags(d.tags)) bad("tags '" + d.tags + "' must be \"key=value,key=value\"");
        if (profile.empty()) bad("'profile' is required (a sensor profile's name or a .toml path)");
        if (!profile.empty()) {
            auto it = loaded.find(profile);
            if (it == loaded.end() && !failed.count(profile)) {
                std::vector<std::string> tried;
                std::string path;
                if (profile.find('/') != std::string::npos || (profile.size() > 5 && profile.substr(profile.size() - 5) == ".toml")) {
                    path = profile;
                } else {
                    for (const std::string& dir : profile_dirs) {
                        const std::string p = dir + "/" + profile + ".toml";
                        tried.push_back(dir);
                        if (std::ifstream(p).good()) {
                            path = p;
                            break;
                        }
                    }
                }
                if (path.empty()) {
                    std::string list;
                    for (const std::string& t : tried) list += (list.empty() ? "" : ", ") + t;
                    failed[profile] = "sensor profile '" + profile + "' not found (looked in " + list + ")";
                } else {
                    try {
                        loaded[profile] = std::make_shared<const SensorProfile>(load_sensor_profile(path));
                    } catch (const std::exception& e) {
                        failed[profile] = e.what();
                    }
                }
                it = loaded.find(profile);
            }
            if (failed.count(profile)) bad(failed[profile]);
            else d.profile = it->second;
        }
        d.offline_after_s = d.profile ? d.profile->offline_after_s : 0;
        if (j.contains("offline_after_s")) {
            const int64_t s = j["offline_after_s"].get<int64_t>();
            if (s < 1 || s > 30 * 86400) bad("offline_after_s must be 1..2592000");
            d.offline_after_s = s;
        }
        if (ok) out.push_back(std::move(d));
    }
    for (const SouthDevice& d : out)
        if (!d.gateway.empty()) {
            bool found = false;
            for (const SouthDevice& g : out) found = found || g.name == d.gateway;
            if (!found || d.gateway == d.name)
                problem(d.name, "gateway '" + d.gateway + "' is not another device of this plugin");
        }
    if (warn) {
        size_t overlaps = 0;
        for (size_t i = 0; i < out.size(); ++i)
            for (size_t k = i + 1; k < out.size(); ++k)
                if (topic_filters_overlap(out[i].topic, out[k].topic) && ++overlaps <= 10)
                    warn("devices '" + out[i].name + "' ('" + out[i].topic + "') and '" + out[k].name + "' ('" +
                         out[k].topic + "') have overlapping topics: a message on both is stored under both");
        if (overlaps > 10) warn(std::to_string(overlaps - 10) + " more pairs of devices have overlapping topics");
    }
    return out;
}

South::South(gridlet::Host host, std::vector<SouthDevice> devices, int qos)
    : host_(host), devices_(std::move(devices)), qos_(qos) {}

void South::register_series() {
    for (SouthDevice& d : devices_) {
        const std::string tags = d.tags.empty() ? "profile=" + d.profile->name : d.tags + ",profile=" + d.profile->name;
        for (const SensorPoint& p : d.profile->points) {
            gridlet::SeriesSpec s(d.name + "/" + p.name, p.unit, p.kind);
            s.description = p.description;
            s.tags = tags;
            s.states = p.states;
            d.series.push_back(host_.register_series(s));
        }
        gridlet::SeriesSpec st(d.name + "/status", "", GL_SERIES_STATE);
        st.states = "0=unknown,1=online,2=offline";
        st.tags = tags;
        st.description = "unknown: not heard since gridlet started; offline: silent for " +
                         std::to_string(d.offline_after_s) + " s, or its gateway is offline";
        d.status_series = host_.register_series(st);
    }
    const std::string me = host_.name();
    messages_series_ = host_.register_series({me + "/south/messages", "", GL_SERIES_COUNTER});
    invalid_series_ = host_.register_series({me + "/south/invalid", "", GL_SERIES_COUNTER});
    unknown_series_ = host_.register_series({me + "/south/unknown_topic", "", GL_SERIES_COUNTER});
    const int64_t now = host_.now_ms();
    batch_.clear();
    for (SouthDevice& d : devices_) {
        d.last_heard_ms = host_.monotonic_ms();
        batch_.push_back(gl_sample{now, 0, d.status_series, GL_QUALITY_GOOD, {0, 0, 0}});
    }
    if (!batch_.empty()) host_.publish(batch_.data(), batch_.size());
}

std::vector<std::string> South::filters() const {
    std::vector<std::string> out;
    for (const SouthDevice& d : devices_)
        if (std::find(out.begin(), out.end(), d.topic) == out.end()) out.push_back(d.topic);
    return out;
}

void South::say_invalid(const std::string& topic, const std::string& why) {
    ++invalid_;
    ++unlogged_invalid_;
    const int64_t now = host_.monotonic_ms();
    if (now - last_invalid_log_ms_ < kLogEveryMs) {
        last_invalid_ = "'" + topic + "': " + why;
        return;
    }
    host_.warn("south: invalid payload on '" + topic + "': " + why + "; nothing wrong stored from it");
    unlogged_invalid_ = 0;
    last_invalid_log_ms_ = now;
}

void South::set_state(SouthDevice& d, int state, int64_t now_ms) {
    if (d.state == state) return;
    d.state = state;
    gl_sample s{now_ms, static_cast<double>(state), d.status_series, GL_QUALITY_GOOD, {0, 0, 0}};
    host_.publish(&s, 1);
    if (state == 2) host_.info("south: sensor '" + d.name + "' is offline");
}

void South::on_message(const char* topic, const void* payload, size_t len) {
    ++messages_;
    const int64_t now = host_.now_ms();
    const std::string_view text(static_cast<const char*>(payload), len);
    bool matched = false;
    batch_.clear();
    for (SouthDevice& d : devices_) {
        bool m = false;
        if (mosquitto_topic_matches_sub(d.topic.c_str(), topic, &m) != MOSQ_ERR_SUCCESS || !m) continue;
        matched = true;
        const Decoded got = decode(*d.profile, text, now);
        if (!got.refused.empty()) {
            say_invalid(topic, got.refused);
            continue;
        }
        for (const std::string& why : got.invalid) say_invalid(topic, why);
        for (const DecodedValue& v : got.values)
            batch_.push_back(gl_sample{v.ts_ms, v.value, d.series[v.point], v.quality, {0, 0, 0}});
        d.last_heard_ms = host_.monotonic_ms();
        // Heard, but behind an offline gateway: it stays offline (no
        // online/offline flapping at each message).
        set_state(d, gateway_offline(d) ? 2 : 1, now);
    }
    if (!batch_.empty()) host_.publish(batch_.data(), batch_.size());
    if (!matched) {
        ++unknown_;
        ++unlogged_unknown_;
        const int64_t mono = host_.monotonic_ms();
        if (mono - last_unknown_log_ms_ >= kLogEveryMs) {
            host_.warn(std::string("south: a message on '") + topic + "' matches no device");
            unlogged_unknown_ = 0;
            last_unknown_log_ms_ = mono;
        } else {
            last_unknown_ = topic;
        }
    }
}

bool South::gateway_offline(const SouthDevice& d) const {
    if (d.gateway.empty()) return false;
    for (const SouthDevice& g : devices_)
        if (g.name == d.gateway) return g.state == 2;
    return false;
}

void South::tick() {
    const int64_t mono = host_.monotonic_ms();
    // What was held back in the last window is said once it closes, with
    // the last one; the next one after it is said in full again.
    if (unlogged_invalid_ > 0 && mono - last_invalid_log_ms_ >= kLogEveryMs) {
        host_.warn("south: " + std::to_string(unlogged_invalid_) +
                   " more invalid payloads or points in the last 10 s, the last on " + last_invalid_ + " (the counter " +
                   host_.name() + "/south/invalid has them all)");
        unlogged_invalid_ = 0;
        last_invalid_log_ms_ = INT64_MIN / 2;
    }
    if (unlogged_unknown_ > 0 && mono - last_unknown_log_ms_ >= kLogEveryMs) {
        host_.warn("south: " + std::to_string(unlogged_unknown_) + " more messages matched no device in the last 10 s, the "
                   "last on '" + last_unknown_ + "'");
        unlogged_unknown_ = 0;
        last_unknown_log_ms_ = INT64_MIN / 2;
    }
    const int64_t now = host_.now_ms();
    for (SouthDevice& d : devices_)
        if (d.state != 2 && mono - d.last_heard_ms > d.offline_after_s * 1000) set_state(d, 2, now);
    // A sensor whose gateway is offline is offline too (manual line 1867: "If the
    // gateway is disconnected, all its sensors show Offline").
    for (SouthDevice& d : devices_)
        if (d.state != 2 && gateway_offline(d)) set_state(d, 2, now);
    // Its gateway back: a sensor heard within its timeout is online again.
    for (SouthDevice& d : devices_)
        if (d.state == 2 && !d.gateway.empty() && !gateway_offline(d) && d.last_heard_ms > 0 &&
            mono - d.last_heard_ms <= d.offline_after_s * 1000)
            set_state(d, 1, now);
    if (mono - last_counters_ms_ >= 10'000) {
        last_counters_ms_ = mono;
        const gl_sample c[] = {{now, static_cast<double>(messages_), messages_series_, GL_QUALITY_GOOD, {0, 0, 0}},
                               {now, static_cast<double>(invalid_), invalid_series_, GL_QUALITY_GOOD, {0, 0, 0}},
                               {now, static_cast<double>(unknown_), unknown_series_, GL_QUALITY_GOOD, {0, 0, 0}}};
        host_.publish(c, 3);
    }
}

}  // namespace gridlet::mqtt
