// Building-IoT sensor simulator: publishes the JSON payloads of the
// gridlet sensor profiles (config/profiles/iot_*.toml) to an MQTT broker for
// a building of floors and spaces, as `gridlet sim sensors` does.
//
// Each floor has `spaces` spaces; space n holds one sensor, of type desk
// occupancy, room occupancy (PIR), Well-Being, desk, desk, room, Well-Being,
// ... and every fifth an Advanced Well-Being; the building has one gateway.
// Behaviour, in the simulated local time of the host:
//   desks      occupied with probability 0.7 in office hours (Mon-Fri
//              08:30-12:00, 13:00-17:30), drawn again every 15 minutes;
//   rooms      PIR motion in office hours; unoccupied 5 minutes (the
//              sensor's default) after the last motion;
//   IAQ        every 5 minutes: CO2 420 ppm outdoors plus what occupants
//              add, VOC and noise with it; PM for Advanced Well-Being;
//   all        a payload on every change; RSSI and output power at start
//              and once a day; tamper opened then closed, `tamper_per_day`
//              times a day per sensor on average;
//   silent     a `silent` share of the sensors stops publishing after
//              `silent_after_s` (to show the offline state);
//   gateway    a status announcement every 20 minutes (manual line 1805).
// Topics: <prefix>/<site>/<building>/<floor>/<space>/<type>. The time scale
// speeds the behaviour; payloads carry the wall-clock time ("ts", ms).
//
// Threads: run() blocks on the caller's thread until `stop` or `duration_s`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace gridlet::sim {

struct SensorSimOptions {
    std::string host = "127.0.0.1";
    int port = 1883;
    std::string site = "hq", building = "b1", prefix = "biot";
    int floors = 2, spaces = 10;
    double time_scale = 1.0;       // simulated seconds per real second
    double silent = 0.0;           // share of sensors that go silent
    double silent_after_s = 600;   // simulated seconds
    double tamper_per_day = 0.2;
    uint32_t seed = 1;
    double duration_s = 0;         // real seconds; 0: until stopped
    std::string plugin = "mqtt";   // the mqtt plugin instance the site entries name
    double offline_after_s = 0;    // > 0: written into the sensors' site entries (else the profiles' 25 h)
};

// The [[devices]] entries of a gridlet site for this building (one per
// sensor, and the gateway), with their tags and profiles.
std::string sensor_site_devices(const SensorSimOptions& o);

// Publishes until stop or duration_s; returns 0, or 1 after `log`ging why
// it could not connect. `log` gets one line per event worth saying.
int run_sensor_sim(const SensorSimOptions& o, const std::atomic<bool>& stop,
                   const std::function<void(const std::string&)>& log);

}  // namespace gridlet::sim
