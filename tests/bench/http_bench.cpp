// HTTP API benchmark (issue 19's targets), with the real binary running the
// demo site (config/demo.toml: simulated panels, EV site, building, rules)
// and an [http] table added, over HTTPS with the generated certificate and
// an API token:
//
//  1. last values: GET /api/v1/series?pattern=panel1/mains/kw (metadata and
//     last value of one series) at 1,000 requests/s, paced, from 4
//     keep-alive connections, for 10 s; the latencies' median and p99
//     (target: p99 at most 20 ms).
//  3. live: 100 server-sent-event clients, each subscribed to one series
//     of 100 samples/s (a hello device every 10 ms, in a site of its own);
//     the gridlet process's CPU over 10 s with the clients, minus the same
//     without them, as a share of one core (target: at most 10 %).
//  2. one day of one series at 1-second resolution (86,400 samples,
//     imported before the site starts) as CSV: GET /api/v1/query, the time
//     from sending the request to the last byte; median of 5 (target: at
//     most 150 ms).
//
// Prints one JSON object. --quick: 2 s of requests and one query (CTest runs
// it so that a broken benchmark is noticed; the figures come from full runs).
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/process.h"

using namespace gridlet::testing;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size())) s.replace(i, from.size(), to);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    const std::string dir = "/tmp/gridlet-http-bench-" + std::to_string(getpid());
    fs::remove_all(dir);
    fs::create_directories(dir + "/var");
    const int port = free_port();
    const std::string src = GRIDLET_TEST_SOURCE_DIR;
    const std::string bin = gridlet_bin();

    // The demo with its store, exports and scripts moved, and [http].
    std::ifstream in(src + "/config/demo.toml");
    std::string demo((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    demo = replace_all(demo, "\"../var/", "\"" + dir + "/var/");
    demo = replace_all(demo, "\"../scripts/", "\"" + src + "/scripts/");
    demo = replace_all(demo, "name = \"demo\"", "name = \"http-bench-" + std::to_string(getpid()) + "\"");
    demo = replace_all(demo, "[http]\nport = 8443\n",
                       "[http]\nport = " + std::to_string(port) + "\ndata_dir = \"" + dir + "/http\"\n");
    const std::string site = dir + "/site.toml";
    std::ofstream(site) << demo;

    // One day of one series at 1 s, imported before the site starts.
    // The UTC day before yesterday (inside the demo's raw retention).
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    const int64_t day_start = (now_ms / 86'400'000 - 2) * 86'400'000;
    {
        std::ofstream csv(dir + "/day.csv");
        csv << "time,series,value\n";
        for (int i = 0; i < 86'400; ++i) csv << "@" << day_start + int64_t{i} * 1000 << ",bench/day," << (i % 977) * 0.25 << "\n";
    }
    Result r = run({bin, "store", "init", "--config", site});
    if (r.code != 0) return std::fprintf(stderr, "store init: %s\n", r.err.c_str()), 1;
    r = run({bin, "import", dir + "/day.csv", "--config", site});
    if (r.code != 0) return std::fprintf(stderr, "import: %s\n", r.err.c_str()), 1;
    r = run({"/bin/sh", "-c", "printf 'bench password 42\\n' | " + bin + " user add bench --role viewer --password-stdin --config " + site});
    if (r.code != 0) return std::fprintf(stderr, "user add: %s\n", r.err.c_str()), 1;
    r = run({bin, "token", "add", "bench", "--user", "bench", "--config", site});
    if (r.code != 0) return std::fprintf(stderr, "token add: %s\n", r.err.c_str()), 1;
    const std::string token = r.out.substr(0, r.out.find('\n'));

    Process gw({bin, "run", site});
    if (!gw.wait_for_err("http: API on", std::chrono::seconds(30))) return std::fprintf(stderr, "%s\n", gw.err().c_str()), 1;
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the demo polls its devices
    const std::string cert = dir + "/http/tls/cert.pem";
    auto client = [&] {
        auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
        c->set_ca_cert_path(cert.c_str());
        c->enable_server_certificate_verification(true);
        c->set_keep_alive(true);
        c->set_read_timeout(30, 0);
        c->set_default_headers({{"Authorization", "Bearer " + token}});
        return c;
    };

    // 1. Last values at 1,000 requests/s.
    const int connections = 4, rate = 1000;
    const double seconds = quick ? 2 : 10;
    std::vector<std::vector<double>> lat(connections);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int k = 0; k < connections; ++k)
        threads.emplace_back([&, k] {
            auto c = client();
            const auto every = std::chrono::nanoseconds(1'000'000'000LL * connections / rate);
            auto next = t0 + every * k / connections;
            const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
            while (next < end) {
                std::this_thread::sleep_until(next);
                // Latency from the planned start: a late start counts (no
                // coordinated omission).
                auto res = c->Get("/api/v1/series?pattern=panel1/mains/kw");
                const auto done = Clock::now();
                if (!res || res->status != 200 || res->body.find("last_value") == std::string::npos) ++failures;
                lat[k].push_back(std::chrono::duration<double, std::milli>(done - next).count());
                next += every;
            }
        });
    for (auto& t : threads) t.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());

    // 2. One day at 1 s as CSV.
    std::vector<double> query_ms;
    size_t rows = 0;
    auto c = client();
    const std::string path = "/api/v1/query?pattern=bench/day&from=@" + std::to_string(day_start) +
                             "&to=@" + std::to_string(day_start + 86'400'000) + "&quality=false";
    for (int i = 0; i < (quick ? 1 : 5); ++i) {
        const auto q0 = Clock::now();
        auto res = c->Get(path.c_str());
        query_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - q0).count());
        if (!res || res->status != 200) return std::fprintf(stderr, "query failed: %s\n", res ? res->body.c_str() : "no answer"), 1;
        rows = static_cast<size_t>(std::count(res->body.begin(), res->body.end(), '\n')) - 1;
    }
    gw.signal(SIGTERM);
    gw.wait(std::chrono::seconds(30));

    // 3. Live clients.
    const int live_port = free_port();
    const std::string live_site = dir + "/live.toml";
    std::ofstream(live_site) << "[site]\nname = \"http-bench-live-" << getpid() << "\"\n[store]\npath = \"" << dir
                             << "/live-store\"\n[http]\nport = " << live_port << "\ndata_dir = \"" << dir
                             << "/http\"\n[[plugins]]\nname = \"hello\"\nfile = \"" << build_dir()
                             << "/plugins/hello.so\"\n[plugins.config]\ninterval_ms = 10\n[[devices]]\nname = \"d1\"\n"
                                "plugin = \"hello\"\n";
    Process lg({bin, "run", live_site});
    if (!lg.wait_for_err("http: API on", std::chrono::seconds(30))) return std::fprintf(stderr, "%s\n", lg.err().c_str()), 1;
    auto cpu_s = [&] {
        std::ifstream st("/proc/" + std::to_string(lg.pid()) + "/stat");
        std::string text((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
        std::istringstream rest(text.substr(text.rfind(')') + 2));
        std::string f;
        long ut = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> f; ++i) {
            if (i == 14) ut = std::stol(f);
            if (i == 15) stime = std::stol(f);
        }
        return static_cast<double>(ut + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    };
    const double window = quick ? 2 : 10;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double c0 = cpu_s();
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    const double idle = (cpu_s() - c0) / window;
    const int live_clients = quick ? 10 : 100;
    std::atomic<bool> stop_live{false};
    std::atomic<uint64_t> received{0};
    std::vector<std::thread> readers;
    for (int k = 0; k < live_clients; ++k)
        readers.emplace_back([&] {
            httplib::SSLClient c("127.0.0.1", live_port);
            c.set_ca_cert_path(cert.c_str());
            c.enable_server_certificate_verification(true);
            c.set_read_timeout(30, 0);
            c.set_default_headers({{"Authorization", "Bearer " + token}});
            c.Get("/api/v1/live?series=d1/count", [&](const char* data, size_t n) {
                for (size_t i = 0; i + 5 < n; ++i)
                    if (data[i] == 'e' && std::string_view(data + i, 6) == "event:") ++received;
                return !stop_live.load();
            });
        });
    std::this_thread::sleep_for(std::chrono::seconds(2));  // every client connected
    const uint64_t r0 = received.load();
    c0 = cpu_s();
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    const double busy = (cpu_s() - c0) / window;
    const double per_client_rate = static_cast<double>(received.load() - r0) / window / live_clients;
    stop_live = true;
    lg.signal(SIGTERM);
    for (auto& t : readers) t.join();
    lg.wait(std::chrono::seconds(30));
    fs::remove_all(dir);

    nlohmann::json out = {
        {"benchmark", "http"},
        {"quick", quick},
        {"last_values",
         {{"target_requests_per_s", rate},
          {"requests", all.size()},
          {"achieved_requests_per_s", static_cast<double>(all.size()) / elapsed},
          {"failures", failures.load()},
          {"p50_ms", percentile(all, 0.50)},
          {"p99_ms", percentile(all, 0.99)},
          {"max_ms", percentile(all, 1.0)},
          {"target_p99_ms", 20}}},
        {"live",
         {{"clients", live_clients},
          {"samples_per_s_each", per_client_rate},
          {"process_cpu_without_clients_pct", idle * 100},
          {"process_cpu_with_clients_pct", busy * 100},
          {"cost_pct_of_one_core", (busy - idle) * 100},
          {"target_pct", 10}}},
        {"day_query_csv",
         {{"rows", rows},
          {"runs_ms", query_ms},
          {"median_ms", percentile(query_ms, 0.5)},
          {"target_ms", 150}}}};
    std::printf("%s\n", out.dump(2).c_str());
    return failures.load() == 0 && rows == 86'400 ? 0 : 1;
}
