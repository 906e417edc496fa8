// LiveHub: the server-sent events of GET /api/v1/live. The http component's
// plugin thread hands it every sample and event of the bus (on_samples,
// on_event); each live client has its patterns and a bounded queue of
// ready SSE text, which its HTTP thread sends. A client that does not read
// fast enough is dropped when its queue is full (counted; it gets a last
// "dropped" event if it is still there): the bus, the kernel and the other
// clients never wait for it.
//
// SSE events (text/event-stream, one JSON object each):
//   event: sample   data: {"series":"d1/count","ts":1764680400000,"value":12.5,"quality":192}
//   event: event    data: {"ts":...,"source":"kernel","type":"alarm_raised","severity":"warning","body":{...}}
//   event: dropped  data: {"reason":"..."}
// and a comment line (": keepalive") every 15 s of silence.
//
// Threads: on_samples/on_event from the plugin thread; add/remove/next from
// the HTTP pool threads; counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gridlet/plugin.h>

namespace gridlet::http {

class LiveClient {
public:
    LiveClient(std::vector<std::string> series, std::vector<std::string> events, size_t max_bytes, bool audit = true)
        : series_(std::move(series)), events_(std::move(events)), max_bytes_(max_bytes), audit_(audit) {}

    // The text waiting, at most `wait_ms` from now; "" on a timeout. false:
    // the client is over (dropped or the hub closed): stop sending.
    bool next(std::string& out, int64_t wait_ms);
    bool dropped() const { return dropped_.load(); }
    std::string drop_reason() const;

private:
    friend class LiveHub;
    // The plugin thread adds text; false when it did not fit (dropped).
    bool push(const std::string& text);
    void close();

    const std::vector<std::string> series_, events_;
    const size_t max_bytes_;
    const bool audit_;  // gets the audit events (admin, security officer)
    std::vector<uint8_t> matches_;  // by series id: 0 unknown, 1 no, 2 yes (plugin thread only)
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::string queued_;
    bool closed_ = false;
    std::atomic<bool> dropped_{false};
    std::string reason_;
};

class LiveHub {
public:
    // `series_name(id)`: a series' name ("" when unknown); any thread.
    explicit LiveHub(std::function<std::string(uint32_t)> series_name) : series_name_(std::move(series_name)) {}

    // A client of these patterns; `audit`: it may get the audit events.
    std::shared_ptr<LiveClient> add(std::vector<std::string> series, std::vector<std::string> events, size_t max_bytes,
                                    bool audit = true);
    void remove(const std::shared_ptr<LiveClient>& c);
    // Wakes and ends every client (the server stops).
    void close_all();

    // Whether any client ever came (the plugin thread then subscribes).
    bool wanted() const { return wanted_.load(); }
    size_t clients() const;
    uint64_t dropped_clients() const { return dropped_clients_.load(); }
    uint64_t sent_items() const { return items_.load(); }

    void on_samples(const gl_sample* samples, size_t n);
    void on_event(const gl_event& e);

private:
    std::function<std::string(uint32_t)> series_name_;
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<LiveClient>> clients_;
    std::atomic<bool> wanted_{false};
    std::atomic<uint64_t> dropped_clients_{0}, items_{0};
    // Plugin thread only: the names of series by id.
    std::vector<std::string> names_;
    const std::string& name_of(uint32_t id);
};

}  // namespace gridlet::http
