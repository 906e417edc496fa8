// A Sink that records what the poller produces, for tests and the benchmark.
#pragma once

#include "sink.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace gridlet::modbus::test {

class CaptureSink : public Sink {
public:
    struct Event {
        std::string device, type, body;
    };

    uint32_t register_series(const SeriesDef& d) override {
        std::lock_guard lk(mu_);
        auto it = ids_.find(d.name);
        if (it != ids_.end()) return it->second;
        uint32_t id = static_cast<uint32_t>(defs_.size() + 1);
        ids_[d.name] = id;
        defs_.push_back(d);
        return id;
    }
    void publish(const gl_sample* s, size_t n) override {
        std::lock_guard lk(mu_);
        for (size_t i = 0; i < n; ++i) {
            last_[s[i].series_id] = s[i];
            counts_[s[i].series_id]++;
        }
        samples_ += n;
        cv_.notify_all();
    }
    void event(const std::string& device, const std::string& type, gl_severity, const std::string& body) override {
        std::lock_guard lk(mu_);
        events_.push_back({device, type, body});
        cv_.notify_all();
    }
    void log(gl_log_level, const std::string& line) override {
        std::lock_guard lk(mu_);
        logs_.push_back(line);
    }
    // Log lines containing `needle`.
    size_t count_logs(const std::string& needle) {
        std::lock_guard lk(mu_);
        size_t n = 0;
        for (const auto& l : logs_) n += l.find(needle) != std::string::npos;
        return n;
    }
    int64_t now_ms() override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    void poll_done(const std::string& device, int64_t start_us, bool good) override {
        std::lock_guard lk(mu_);
        polls_[device].push_back({start_us, good});
        cv_.notify_all();
    }

    // Last sample of a series; nullopt-like: quality 255 when none.
    gl_sample last(const std::string& name) {
        std::lock_guard lk(mu_);
        gl_sample none{};
        none.quality = 255;
        auto it = ids_.find(name);
        if (it == ids_.end()) return none;
        auto s = last_.find(it->second);
        return s == last_.end() ? none : s->second;
    }
    bool has_series(const std::string& name) {
        std::lock_guard lk(mu_);
        return ids_.count(name) > 0;
    }
    SeriesDef def(const std::string& name) {
        std::lock_guard lk(mu_);
        return defs_.at(ids_.at(name) - 1);
    }
    std::vector<Event> events() {
        std::lock_guard lk(mu_);
        return events_;
    }
    std::vector<std::pair<int64_t, bool>> polls(const std::string& device) {
        std::lock_guard lk(mu_);
        return polls_[device];
    }
    size_t sample_count() {
        std::lock_guard lk(mu_);
        return samples_;
    }
    // Waits until pred() (checked under no lock) holds, up to timeout.
    template <class P>
    bool wait_for(P pred, std::chrono::milliseconds timeout) {
        auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (pred()) return true;
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, std::chrono::milliseconds(20));
        }
        return pred();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, uint32_t> ids_;
    std::vector<SeriesDef> defs_;
    std::map<uint32_t, gl_sample> last_;
    std::map<uint32_t, uint64_t> counts_;
    std::vector<Event> events_;
    std::vector<std::string> logs_;
    std::map<std::string, std::vector<std::pair<int64_t, bool>>> polls_;
    size_t samples_ = 0;
};

}  // namespace gridlet::modbus::test
