#include "sensor_sim.h"

#include <mosquitto.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>
#include <vector>

namespace gridlet::sim {

namespace {

enum class Kind { desk, room, iaq, iaq_plus, gateway };

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::desk: return "desk";
        case Kind::room: return "room";
        case Kind::iaq: return "iaq";
        case Kind::iaq_plus: return "iaqplus";
        default: return "gateway";
    }
}
const char* profile_of(Kind k) {
    switch (k) {
        case Kind::desk: return "iot_desk_occupancy";
        case Kind::room: return "iot_room_occupancy";
        case Kind::iaq: return "iot_well_being";
        case Kind::iaq_plus: return "iot_advanced_well_being";
        default: return "iot_gateway";
    }
}

struct Sensor {
    Kind kind;
    std::string floor, space, device, topic, tags;
    bool occupied = false;
    double next_draw = 0, last_motion = -1e18, next_iaq = 0, next_link = 0;
    double co2 = 420;
    bool tampered = false;
    double tamper_until = 0;
    bool silent = false;
    int rssi = -70, power = 0;
};

std::vector<Sensor> building(const SensorSimOptions& o) {
    std::vector<Sensor> out;
    const std::string base = o.prefix + "/" + o.site + "/" + o.building + "/";
    int n = 0;
    for (int f = 1; f <= o.floors; ++f)
        for (int s = 1; s <= o.spaces; ++s, ++n) {
            Sensor x;
            static const Kind cycle[] = {Kind::desk, Kind::room, Kind::iaq, Kind::desk};
            x.kind = (s % 5 == 0) ? Kind::iaq_plus : cycle[(s - 1) % 4];
            x.floor = "f" + std::to_string(f);
            char space[16];
            std::snprintf(space, sizeof space, "s%02d", s);
            x.space = space;
            x.device = x.floor + "-" + x.space + "-" + kind_name(x.kind);
            x.topic = base + x.floor + "/" + x.space + "/" + kind_name(x.kind);
            x.tags = "site=" + o.site + ",building=" + o.building + ",floor=" + x.floor + ",space=" + x.space;
            out.push_back(x);
        }
    Sensor g;
    g.kind = Kind::gateway;
    g.device = o.building + "-gateway";
    g.topic = base + "gateway";
    g.tags = "site=" + o.site + ",building=" + o.building;
    out.push_back(g);
    return out;
}

bool office_hours(double sim_s) {
    const std::time_t t = static_cast<std::time_t>(sim_s);
    std::tm tm{};
    localtime_r(&t, &tm);
    if (tm.tm_wday == 0 || tm.tm_wday == 6) return false;
    const int m = tm.tm_hour * 60 + tm.tm_min;
    return (m >= 510 && m < 720) || (m >= 780 && m < 1050);
}

}  // namespace

std::string sensor_site_devices(const SensorSimOptions& o) {
    std::string out;
    const std::string gateway = o.building + "-gateway";
    for (const Sensor& s : building(o)) {
        out += "[[devices]]\nname = \"" + s.device + "\"\nplugin = \"" + o.plugin + "\"\nprofile = \"" +
               profile_of(s.kind) + "\"\ntopic = \"" + s.topic + "\"\ntags = \"" + s.tags + "\"\n";
        if (s.kind != Kind::gateway) out += "gateway = \"" + gateway + "\"\n";
        if (o.offline_after_s > 0 && s.kind != Kind::gateway)
            out += "offline_after_s = " + std::to_string(static_cast<int64_t>(std::ceil(o.offline_after_s))) + "\n";
        out += "\n";
    }
    return out;
}

int run_sensor_sim(const SensorSimOptions& o, const std::atomic<bool>& stop,
                   const std::function<void(const std::string&)>& log) {
    mosquitto_lib_init();
    mosquitto* m = mosquitto_new(("gridlet-sim-sensors-" + o.site + "-" + o.building).c_str(), true, nullptr);
    if (!m) {
        log("cannot create an MQTT client");
        return 1;
    }
    int rc = mosquitto_connect(m, o.host.c_str(), o.port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        log("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " +
            (rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : std::string(mosquitto_strerror(rc))));
        mosquitto_destroy(m);
        return 1;
    }
    mosquitto_loop_start(m);
    std::mt19937 rng(o.seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<Sensor> sensors = building(o);
    const auto real0 = std::chrono::steady_clock::now();
    const double sim0 = static_cast<double>(std::time(nullptr));
    uint64_t published = 0;
    // Payloads carry the wall-clock time: --time-scale speeds the behaviour
    // (the time of day it follows), not the time stamps, so that the data
    // lands now and not in the future.
    auto publish = [&](const Sensor& s, const std::string& body, double) {
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        const std::string payload = "{\"ts\":" + std::to_string(now_ms) + body + "}";
        mosquitto_publish(m, nullptr, s.topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
        ++published;
    };
    auto link = [&](Sensor& s) {
        s.rssi = -60 - static_cast<int>(u(rng) * 35);
        s.power = s.rssi > -75 ? static_cast<int>(u(rng) * 3) - 2 : 8;
        return ",\"rssi\":" + std::to_string(s.rssi) + ",\"outputPower\":" + std::to_string(s.power) +
               ",\"battery\":" + std::to_string(60 + static_cast<int>(u(rng) * 40)) +
               ",\"tamperDetection\":" + (s.tampered ? "true" : "false");
    };
    for (Sensor& s : sensors) s.silent = s.kind != Kind::gateway && u(rng) < o.silent;
    log("publishing " + std::to_string(sensors.size() - 1) + " sensors and a gateway to " + o.host + ":" +
        std::to_string(o.port) + " under " + o.prefix + "/" + o.site + "/" + o.building + "/");
    double next_gateway = 0;
    while (!stop.load()) {
        const double real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - real0).count();
        if (o.duration_s > 0 && real_s >= o.duration_s) break;
        const double sim_s = sim0 + real_s * o.time_scale;
        const double since = sim_s - sim0;
        const bool office = office_hours(sim_s);
        for (Sensor& s : sensors) {
            if (s.kind == Kind::gateway) {
                if (since >= next_gateway) {
                    publish(s, ",\"sensors\":" + std::to_string(sensors.size() - 1) + ",\"uptime_s\":" +
                                   std::to_string(static_cast<int64_t>(since)),
                            sim_s);
                    next_gateway = since + 1200;
                }
                continue;
            }
            if (s.silent && since >= o.silent_after_s) continue;
            std::string body;
            if (since >= s.next_link) {  // at start and once a day
                body += link(s);
                s.next_link = since + 86400;
            }
            // Tamper: the lid off for 10 minutes now and then.
            if (!s.tampered && u(rng) < o.tamper_per_day / 86400.0 * o.time_scale * 0.1) {
                s.tampered = true;
                s.tamper_until = since + 600;
                body += ",\"tamperDetection\":true";
            } else if (s.tampered && since >= s.tamper_until) {
                s.tampered = false;
                body += ",\"tamperDetection\":false";
            }
            if (s.kind == Kind::desk && since >= s.next_draw) {
                const bool occ = office && u(rng) < 0.7;
                if (occ != s.occupied || s.next_draw == 0) body += std::string(",\"occupancy\":\"") + (occ ? "occupied" : "unoccupied") + "\"";
                s.occupied = occ;
                s.next_draw = since + 900;
            }
            if (s.kind == Kind::room) {
                if (office && u(rng) < 0.02 * o.time_scale * 0.1) s.last_motion = since;
                const bool occ = since - s.last_motion < 300;  // the sensor's 5-minute default
                if (occ != s.occupied || s.next_draw == 0)
                    body += std::string(",\"occupancy\":\"") + (occ ? "occupied" : "unoccupied") + "\"";
                s.occupied = occ;
                s.next_draw = 1;
            }
            if ((s.kind == Kind::iaq || s.kind == Kind::iaq_plus) && since >= s.next_iaq) {
                const double target = office ? 420 + 500 * u(rng) + 150 : 420 + 30 * u(rng);
                s.co2 += (target - s.co2) * 0.3;
                char buf[160];
                std::snprintf(buf, sizeof buf, ",\"co2\":%.0f,\"voc\":%.0f,\"noise\":%.1f", s.co2,
                              50 + (s.co2 - 420) * 0.4, office ? 38 + 12 * u(rng) : 25 + 5 * u(rng));
                body += buf;
                if (s.kind == Kind::iaq_plus) {
                    std::snprintf(buf, sizeof buf, ",\"pm2_5\":%.1f,\"pm10\":%.1f", 4 + 8 * u(rng), 8 + 12 * u(rng));
                    body += buf;
                }
                s.next_iaq = since + 300;
            }
            if (!body.empty()) publish(s, body, sim_s);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    log("published " + std::to_string(published) + " messages");
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}

}  // namespace gridlet::sim
