// MQTT north benchmark (issue 18's targets), with the real binary, the hello
// plugin as a source, and a real mosquitto on a loopback port:
//
//  1. backlog: a 100-device site (10 points each, every second: 1,000
//     samples/s) during a 10-minute broker outage leaves 600,000 samples in
//     the feed. They are produced here at 100,000 samples/s (1,000 devices
//     every 10 ms for 6 s) while no broker listens; then the broker starts
//     and the time until the subscriber has them all is measured, with the
//     default drain_rate (20,000 samples/s) and with no limit.
//  2. live: 100,000 samples/s published in batches (json_batch of every
//     device on one topic, up to 500 samples a message, QoS 1) for
//     10 s; the forwarder thread's CPU time ("mqtt-north", from
//     /proc/<pid>/task) over the samples it sent gives the share of one core
//     at 100,000 samples/s (target: at most 50 %).
//
// Prints one JSON object. --quick: a tenth of the sizes (CTest runs it so
// that a broken benchmark is noticed; the figures come from full runs).
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/process.h"
#include "support/mosquitto_broker.h"
#include "support/mqtt_subscriber.h"

using namespace gridlet::testing;
using Clock = std::chrono::steady_clock;

namespace {

// CPU seconds of the thread named `name` in process `pid`, or -1.
double thread_cpu_s(pid_t pid, const std::string& name) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    double out = -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::string comm;
        std::ifstream(dir + "/" + e->d_name + "/comm") >> comm;
        if (comm != name) continue;
        std::ifstream st(dir + "/" + e->d_name + "/stat");
        std::string text((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
        const size_t close = text.rfind(')');
        std::istringstream rest(text.substr(close + 2));
        std::string f;
        long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> f; ++i) {
            if (i == 14) utime = std::stol(f);
            if (i == 15) stime = std::stol(f);
        }
        out = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    closedir(d);
    return out;
}

size_t samples_in(const std::vector<MqttMessage>& m, size_t from, size_t* scanned) {
    size_t n = 0;
    for (size_t i = from; i < m.size(); ++i)
        for (size_t p = m[i].payload.find("\"ts\":"); p != std::string::npos; p = m[i].payload.find("\"ts\":", p + 5))
            ++n;
    *scanned = m.size();
    return n;
}

std::string site_text(const std::string& dir, int port, int devices, int interval_ms, const std::string& north) {
    std::string s = "[site]\nname = \"mqtt-bench\"\n[store]\npath = \"" + dir +
                    "/store\"\n[[plugins]]\nname = \"hello\"\nfile = \"" HELLO_PLUGIN "\"\n[plugins.config]\ninterval_ms = " +
                    std::to_string(interval_ms) + "\n";
    for (int i = 1; i <= devices; ++i) s += "[[devices]]\nname = \"d" + std::to_string(i) + "\"\nplugin = \"hello\"\n";
    s += "[[plugins]]\nname = \"north\"\nfile = \"" MQTT_PLUGIN "\"\n[plugins.config]\nbroker = \"mqtt://127.0.0.1:" +
         std::to_string(port) + "\"\nreconnect_min_ms = 100\nreconnect_max_ms = 200\nnorth = { events = [], topic = \"gridlet/{site}\", " + north +
         " }\n";
    return s;
}

struct Subscribed {
    size_t samples = 0, scanned = 0;
    void update(MqttSubscriber& s) {
        auto m = s.messages();
        samples += samples_in(m, scanned, &scanned);
    }
};

// Phase 1: the backlog of an outage, then the time to send it.
nlohmann::json backlog(const std::string& base, bool quick, const std::string& drain) {
    const std::string dir = base + "/backlog-" + drain;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    MosquittoBroker broker(dir + "/broker");
    broker.stop();
    std::ofstream(dir + "/site.toml") << site_text(dir, broker.port, 1000, 10, "drain_rate = " + drain);
    Process gw({GRIDLET_BINARY, "run", dir + "/site.toml"});
    // The outage starts once the source runs (a loaded machine starts slowly).
    if (!gw.wait_for_err("plugin 'hello' started", std::chrono::seconds(60)))
        return {{"error", "gridlet did not start: " + gw.err().substr(0, 2000)}};
    const int produce_s = quick ? 1 : 6;
    std::this_thread::sleep_for(std::chrono::seconds(produce_s));
    gw.signal(SIGTERM);
    gw.wait(std::chrono::seconds(30));
    broker.start();
    MqttSubscriber sub(broker.port, "gridlet/#", "bench-backlog", 1);
    sub.ready();
    // Restart without the source: only the backlog goes.
    std::ofstream(dir + "/site.toml") << site_text(dir, broker.port, 0, 10, "drain_rate = " + drain);
    const auto t0 = Clock::now();
    Process again({GRIDLET_BINARY, "run", dir + "/site.toml"});
    if (!again.wait_for_err("backlog sent:", std::chrono::seconds(120)))
        return {{"error", "the backlog was not sent within 120 s: " + again.err().substr(0, 2000)}};
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = thread_cpu_s(again.pid(), "mqtt-north");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Subscribed got;
    got.update(sub);
    again.signal(SIGTERM);
    again.wait(std::chrono::seconds(30));
    const std::string err = again.err();
    const size_t at = err.find("backlog sent: ");
    const size_t sent = at == std::string::npos ? 0 : std::stoull(err.substr(at + 14));
    return {{"drain_rate", drain},
            {"backlog_samples", sent},
            {"received_samples", got.samples},
            {"seconds_to_empty_incl_start", seconds},
            {"forwarder_cpu_s", cpu},
            {"samples_per_s", seconds > 0 ? static_cast<double>(sent) / seconds : 0}};
}

// Phase 2: live data at 100,000 samples/s.
nlohmann::json live(const std::string& base, bool quick) {
    const std::string dir = base + "/live";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    MosquittoBroker broker(dir + "/broker");
    MqttSubscriber sub(broker.port, "gridlet/#", "bench-live", 1);
    sub.ready();
    std::ofstream(dir + "/site.toml") << site_text(dir, broker.port, 1000, 10, "drain_rate = 10000000");
    Process gw({GRIDLET_BINARY, "run", dir + "/site.toml"});
    gw.wait_for_err("connected to broker", std::chrono::seconds(20));
    std::this_thread::sleep_for(std::chrono::seconds(2));  // warm up
    Subscribed got;
    got.update(sub);
    const size_t before = got.samples;
    const double cpu0 = thread_cpu_s(gw.pid(), "mqtt-north");
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(quick ? 2 : 10));
    const double cpu1 = thread_cpu_s(gw.pid(), "mqtt-north");
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    got.update(sub);
    const size_t n = got.samples - before;
    gw.signal(SIGTERM);
    gw.wait(std::chrono::seconds(30));
    const double rate = static_cast<double>(n) / wall;
    const double cpu_share = (cpu1 - cpu0) / wall;
    return {{"samples", n},
            {"seconds", wall},
            {"samples_per_s", rate},
            {"forwarder_core_share", cpu_share},
            {"core_share_at_100k_per_s", rate > 0 ? cpu_share * 100'000.0 / rate : 0}};
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    const std::string base = "/tmp/gridlet-mqtt-bench-" + std::to_string(getpid());
    nlohmann::json out;
    out["live"] = live(base, quick);
    out["backlog_default_rate"] = backlog(base, quick, "20000");
    out["backlog_unlimited"] = backlog(base, quick, "10000000");
    std::filesystem::remove_all(base);
    std::printf("%s\n", out.dump(2).c_str());
    for (const char* part : {"backlog_default_rate", "backlog_unlimited"})
        if (out[part].contains("error")) return 1;
    return 0;
}
