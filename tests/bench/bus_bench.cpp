// Bus and kernel benchmark. Prints one JSON object.
//
//   samples_per_s.batched_N   publisher plugin -> subscriber plugin, N samples
//                             a message, across the two plugins' threads
//   samples_per_s.single      one sample a message
//   start_ms.ten_plugins      `gridlet run` with 10 plugin instances (hello.so):
//                             from exec to the last "started" log line
//   idle_rss_kb.no_plugins    `gridlet run` with no plugins, after start
//
// Each throughput figure is the median of `runs` runs (5; 3 with --quick).
// Usage: bus_bench [--quick]
#include <gridlet/plugin.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "kernel/kernel.h"
#include "plugin/plugin_instance.h"

using namespace gridlet;
using Steady = std::chrono::steady_clock;

namespace {

std::atomic<uint64_t> g_received{0};
std::atomic<uint64_t> g_dropped{0};
std::atomic<int64_t> g_total{0};
std::atomic<int64_t> g_batch{0};
std::atomic<bool> g_go{false};

class BenchPublisher : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"bench-pub", "1", GL_KIND_DRIVER, "benchmark publisher"};
    explicit BenchPublisher(gridlet::Host h) : Plugin(h) {}
    void start() override {
        for (int i = 0; i < 100; ++i) ids_.push_back(host().register_series({"meter1/p" + std::to_string(i), "W"}));
        host().add_timer(1, true);
    }
    void on_timer(uint64_t) override {
        if (!g_go.exchange(false)) return;
        const int64_t total = g_total, batch = g_batch;
        std::vector<gl_sample> buf(static_cast<size_t>(batch));
        int64_t ts = 1700000000000;
        for (int64_t sent = 0; sent < total; sent += batch) {
            for (int64_t i = 0; i < batch; ++i) {
                gl_sample& s = buf[static_cast<size_t>(i)];
                s.series_id = ids_[static_cast<size_t>((sent + i) % 100)];
                s.ts_ms = ts++;
                s.value = static_cast<double>(sent + i);
                s.quality = GL_QUALITY_GOOD;
            }
            if (host().publish(buf.data(), buf.size()) != GL_OK) g_dropped += static_cast<uint64_t>(batch);
        }
    }
    std::vector<uint32_t> ids_;
};

class BenchSubscriber : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"bench-sub", "1", GL_KIND_LOGIC, "benchmark subscriber"};
    explicit BenchSubscriber(gridlet::Host h) : Plugin(h) {}
    void start() override { host().subscribe("data/meter1/"); }
    void on_samples(const char*, const gl_sample* s, size_t n) override {
        double sum = 0;
        for (size_t i = 0; i < n; ++i) sum += s[i].value;  // touch every sample
        sink_ += sum;
        g_received.fetch_add(n, std::memory_order_relaxed);
    }
    double sink_ = 0;
};

template <class T>
kernel::PlannedPlugin planned(const std::string& name) {
    auto lib = plugin::PluginLibrary::from_entry("builtin:" + name, &gridlet::detail::Adapter<T>::entry,
                                                 plugin::host_api_table());
    return {name, *lib, nlohmann::json::object(), nlohmann::json::array(), {}};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Samples/s through the bus for one batch size; median of `runs`.
double throughput(int64_t batch, int64_t total, int runs) {
    kernel::SitePlan plan;
    plan.site.site_name = "bench";
    plan.site.bus_send_timeout_ms = 10000;  // wait rather than drop: measure the pipe
    plan.plugins = {planned<BenchSubscriber>("sub"), planned<BenchPublisher>("pub")};
    kernel::Kernel k(std::move(plan));
    if (!k.start()) return 0;
    std::vector<double> rates;
    for (int r = 0; r < runs + 1; ++r) {  // the first run warms up
        g_received = 0;
        g_total = total;
        g_batch = batch;
        auto t0 = Steady::now();
        g_go = true;
        while (g_received.load() + g_dropped.load() < static_cast<uint64_t>(total))
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        double s = std::chrono::duration<double>(Steady::now() - t0).count();
        if (r > 0) rates.push_back(static_cast<double>(total) / s);
        g_dropped = 0;
    }
    k.stop();
    return median(rates);
}

struct Child {
    pid_t pid = -1;
    int err_fd = -1;
};

Child spawn_gridlet(const std::string& config) {
    int p[2];
    if (pipe(p) != 0) return {};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execl(GRIDLET_BINARY, GRIDLET_BINARY, "run", config.c_str(), (char*)nullptr);
        _exit(127);
    }
    close(p[1]);
    return {pid, p[0]};
}

// Reads the child's stderr until `needle` has been seen `times` times.
bool wait_for_lines(int fd, const std::string& needle, int times) {
    std::string buf;
    char tmp[4096];
    int seen = 0;
    while (seen < times) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<size_t>(n));
        size_t pos;
        while ((pos = buf.find(needle)) != std::string::npos) {
            ++seen;
            buf.erase(0, pos + needle.size());
        }
    }
    return true;
}

void stop_child(Child& c) {
    kill(c.pid, SIGTERM);
    int st = 0;
    waitpid(c.pid, &st, 0);
    close(c.err_fd);
}

long rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

std::string write_config(const std::string& name, int plugins) {
    std::string path = "/tmp/gridlet-bench-" + std::to_string(getpid()) + "-" + name + ".toml";
    std::ofstream f(path);
    f << "[site]\nname = \"bench-" << getpid() << "-" << name << "\"\n[logging]\nlevel = \"info\"\n";
    for (int i = 0; i < plugins; ++i)
        f << "[[plugins]]\nname = \"h" << i << "\"\nfile = \"" << HELLO_PLUGIN << "\"\n"
          << "[[devices]]\nname = \"c" << i << "\"\nplugin = \"h" << i << "\"\n";
    return path;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    spdlog::set_level(spdlog::level::warn);
    const int runs = quick ? 3 : 5;
    const int64_t total = quick ? 2'000'000 : 20'000'000;

    double b1000 = throughput(1000, total, runs);
    double b100 = throughput(100, total, runs);
    double single = throughput(1, total / 10, runs);

    std::vector<double> starts;
    std::string ten = write_config("ten", 10);
    for (int r = 0; r < runs; ++r) {
        auto t0 = Steady::now();
        Child c = spawn_gridlet(ten);
        bool ok = wait_for_lines(c.err_fd, "started (hello", 10);
        double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
        stop_child(c);
        if (ok) starts.push_back(ms);
    }
    std::string none = write_config("none", 0);
    Child idle = spawn_gridlet(none);
    long rss = -1;
    if (wait_for_lines(idle.err_fd, "control socket", 1)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        rss = rss_kb(idle.pid);
    }
    stop_child(idle);
    std::remove(ten.c_str());
    std::remove(none.c_str());

    std::printf(
        "{\n  \"benchmark\": \"bus\",\n  \"runs\": %d,\n  \"samples_per_s\": {\"batched_1000\": %.0f, \"batched_100\": %.0f, "
        "\"single\": %.0f},\n  \"start_ms\": {\"ten_plugins\": %.1f},\n  \"idle_rss_kb\": {\"no_plugins\": %ld},\n"
        "  \"targets\": {\"batched_min\": 10000000, \"single_min\": 1000000, \"start_ms_max\": 100, \"idle_rss_kb_max\": 10240}\n}\n",
        runs, b1000, b100, single, starts.empty() ? -1.0 : median(starts), rss);
    bool ok = b1000 > 0 && b100 > 0 && single > 0 && !starts.empty() && rss > 0;
    return ok ? 0 : 1;
}
