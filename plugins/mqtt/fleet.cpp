#include "fleet.h"

#include <mosquitto.h>

#include <cmath>

#include <nlohmann/json.hpp>

namespace gridlet::mqtt {

namespace {
bool valid_segment_path(const std::string& s) {
    if (s.empty() || s.size() > 200 || s.front() == '/' || s.back() == '/' || s.find("//") != std::string::npos)
        return false;
    if (s == "." || s == ".." || s.rfind("./", 0) == 0 || s.rfind("../", 0) == 0 || s.find("/./") != std::string::npos ||
        s.find("/../") != std::string::npos || (s.size() >= 2 && s.compare(s.size() - 2, 2, "/.") == 0) ||
        (s.size() >= 3 && s.compare(s.size() - 3, 3, "/..") == 0))
        return false;
    return s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") == std::string::npos;
}
}  // namespace

Fleet::Fleet(gridlet::Host host, FleetSettings settings, std::string own_site)
    : host_(host), settings_(std::move(settings)), own_site_(std::move(own_site)) {
    const std::string me = host_.name();
    messages_series_ = host_.register_series({me + "/fleet/messages", "", GL_SERIES_COUNTER});
    invalid_series_ = host_.register_series({me + "/fleet/invalid", "", GL_SERIES_COUNTER});
}

bool Fleet::split(const std::string& topic, int site_level, std::string* site, std::string* rest) {
    size_t start = 0;
    for (int level = 1; level < site_level; ++level) {
        start = topic.find('/', start);
        if (start == std::string::npos) return false;
        ++start;
    }
    const size_t end = topic.find('/', start);
    *site = topic.substr(start, end == std::string::npos ? std::string::npos : end - start);
    *rest = end == std::string::npos ? std::string() : topic.substr(end + 1);
    return !site->empty();
}

uint32_t Fleet::series(const std::string& name, const std::string& unit, const std::string& kind,
                       const std::string& states, const std::string& site) {
    const std::string key = name + '\0' + unit + '\0' + kind + '\0' + states;
    auto it = ids_.find(key);
    if (it != ids_.end()) return it->second;
    gridlet::SeriesSpec s(name, unit,
                          kind == "counter" ? GL_SERIES_COUNTER : kind == "state" ? GL_SERIES_STATE : GL_SERIES_GAUGE);
    s.tags = "gateway=" + site;
    if (kind == "state") s.states = states;
    const uint32_t id = host_.register_series(s);
    ids_.emplace(key, id);
    return id;
}

void Fleet::invalid(const std::string& topic, const std::string& why) {
    ++invalid_;
    ++unlogged_;
    const int64_t now = host_.monotonic_ms();
    if (now - last_log_ms_ < 10'000) return;
    host_.warn("fleet: cannot read the message on '" + topic + "': " + why + "; nothing stored from it");
    unlogged_ = 0;
    last_log_ms_ = now;
}

bool Fleet::on_message(const char* topic_c, const void* payload, size_t len) {
    bool mine = false;
    for (const std::string& f : settings_.topics) {
        bool m = false;
        if (mosquitto_topic_matches_sub(f.c_str(), topic_c, &m) == MOSQ_ERR_SUCCESS && m) mine = true;
    }
    if (!mine) return false;
    ++messages_;
    const std::string topic(topic_c);
    std::string site, rest;
    if (!split(topic, settings_.site_level, &site, &rest) || !valid_segment_path(site) ||
        site.find('/') != std::string::npos)
        return invalid(topic, "no gateway name at topic level " + std::to_string(settings_.site_level)), true;
    if (site == own_site_) return true;  // what this gridlet publishes itself
    const std::string_view text(static_cast<const char*>(payload), len);
    if (rest == "status") {
        const double online = text == "online" ? 1 : text == "offline" ? 0 : -1;
        if (online < 0) return invalid(topic, "a status is online or offline"), true;
        gl_sample s{host_.now_ms(), online, series(site + "/gateway/online", "", "state", "0=offline,1=online", site), GL_QUALITY_GOOD, {0, 0, 0}};
        host_.publish(&s, 1);
        return true;
    }
    if (rest.rfind("event/", 0) == 0) return true;  // events stay with their gateway
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid(topic, "not a JSON object"), true;
    // Every sample is read first; series are registered only for a message
    // that reads whole (a refused one leaves nothing behind).
    struct Read {
        std::string name, unit, kind, states;
        int64_t ts;
        double value;
        uint8_t quality;
    };
    std::vector<Read> read;
    auto add = [&](const std::string& name, const nlohmann::json& s) -> bool {
        if (!valid_segment_path(name) || name.find('/') == std::string::npos) {
            invalid(topic, "'" + name + "' is not a device/point name");
            return false;
        }
        if (!s.contains("ts") || !s["ts"].is_number_integer() || s["ts"].get<int64_t>() <= 0) {
            invalid(topic, "a sample of '" + name + "' without a positive integer \"ts\"");
            return false;
        }
        const auto& v = s.contains("value") ? s["value"] : nlohmann::json();
        double value = std::nan("");
        uint8_t quality = GL_QUALITY_GOOD;
        if (s.contains("quality")) {
            if (!s["quality"].is_number_unsigned() || s["quality"].get<uint64_t>() > 255) {
                invalid(topic, "\"quality\" of '" + name + "' is not 0..255");
                return false;
            }
            quality = static_cast<uint8_t>(s["quality"].get<uint64_t>());
        }
        if (v.is_number()) value = v.get<double>();
        else if (!v.is_null()) {
            invalid(topic, "\"value\" of '" + name + "' is not a number");
            return false;
        } else quality = GL_QUALITY_BAD;
        const std::string unit = s.contains("unit") && s["unit"].is_string() ? s["unit"].get<std::string>() : "";
        const std::string kind = s.contains("kind") && s["kind"].is_string() ? s["kind"].get<std::string>() : "";
        if (!kind.empty() && kind != "counter" && kind != "state" && kind != "gauge") {
            invalid(topic, "\"kind\" of '" + name + "' is '" + kind + "' (gauge, counter or state)");
            return false;
        }
        std::string states;
        if (s.contains("states")) {
            if (!s["states"].is_string() || kind != "state") {
                invalid(topic, "\"states\" of '" + name + "' must be a text such as \"0=off,1=on\", on a state series");
                return false;
            }
            states = s["states"].get<std::string>();
        }
        read.push_back({site + "/" + name, unit, kind, std::move(states), s["ts"].get<int64_t>(), value, quality});
        return true;
    };
    try {
        if (j.contains("samples")) {  // json_batch: of one device, or of every device
            const std::string device = j.contains("device") && j["device"].is_string() ? j["device"].get<std::string>() : "";
            if (!j["samples"].is_array()) return invalid(topic, "\"samples\" is not an array"), true;
            for (const auto& s : j["samples"]) {
                if (!s.is_object()) return invalid(topic, "a sample is not an object"), true;
                std::string name;
                if (!device.empty() && s.contains("point") && s["point"].is_string())
                    name = device + "/" + s["point"].get<std::string>();
                else if (s.contains("series") && s["series"].is_string())
                    name = s["series"].get<std::string>();
                if (!add(name, s)) return true;
            }
        } else {  // json: one sample, the series in the topic
            if (!add(rest, j)) return true;
        }
    } catch (const std::exception& e) {
        return invalid(topic, e.what()), true;
    }
    batch_.clear();
    try {
        for (const Read& r : read)
            batch_.push_back(gl_sample{r.ts, r.value, series(r.name, r.unit, r.kind, r.states, site), r.quality, {0, 0, 0}});
    } catch (const std::exception& e) {  // e.g. labels that do not read as "0=off,1=on"
        return invalid(topic, e.what()), true;
    }
    if (!batch_.empty()) host_.publish(batch_.data(), batch_.size());
    return true;
}

void Fleet::tick() {
    const int64_t mono = host_.monotonic_ms();
    if (unlogged_ > 0 && mono - last_log_ms_ >= 10'000) {
        host_.warn("fleet: " + std::to_string(unlogged_) + " more messages could not be read in the last 10 s (the counter " +
                   host_.name() + "/fleet/invalid has them all)");
        unlogged_ = 0;
        last_log_ms_ = mono;
    }
    if (mono - last_counters_ms_ < 10'000) return;
    last_counters_ms_ = mono;
    const int64_t now = host_.now_ms();
    const gl_sample c[] = {{now, static_cast<double>(messages_), messages_series_, GL_QUALITY_GOOD, {0, 0, 0}},
                           {now, static_cast<double>(invalid_), invalid_series_, GL_QUALITY_GOOD, {0, 0, 0}}};
    host_.publish(c, 2);
}

}  // namespace gridlet::mqtt
