// The bus: one ZeroMQ context owned by the kernel, and the endpoints that
// plugins and kernel components use on it.
//
// Topics
//   data/<device>/            sample batches (publisher groups by device)
//   event/<source>/<type>     events
//   cmd/<device>/<point>      commands, sent point-to-point to the handler's inbox
//   reply/<instance>/         command replies, to the sender's inbox
//
// Data and events travel PUB -> SUB: every Publisher binds its own inproc
// endpoint and every Subscriber connects to all of them (no proxy thread:
// one hop, publisher-side filtering). Commands and replies travel PUSH ->
// PULL to a named Inbox, so that none is lost to a subscription that has not
// propagated yet: each gets exactly one reply.
//
// Bounds: every pipe holds at most BusOptions::queue_depth messages. A
// publisher whose subscriber queue is full waits at most send_timeout_ms,
// then drops the message and counts it (EndpointMetrics::drops_out).
//
// Threads: Bus methods are safe from any thread. Each Publisher, Subscriber,
// Inbox and Outbox is used by one thread at a time.
#pragma once

#include <gridlet/plugin.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bus/codec.h"
#include "bus/metrics.h"
#include "bus/socket.h"
#include "core/series_registry.h"
#include "core/status.h"

namespace gridlet::bus {

struct BusOptions {
    int queue_depth = 10000;     // messages per pipe
    int send_timeout_ms = 200;   // wait on a full queue before dropping
};

class Publisher;
class Subscriber;
class Inbox;
class Outbox;

class Bus {
public:
    Bus(BusOptions options, const SeriesRegistry& registry);
    ~Bus();  // every endpoint must be destroyed first
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;

    const BusOptions& options() const noexcept { return options_; }
    const SeriesRegistry& registry() const noexcept { return registry_; }
    void* context() const noexcept { return ctx_; }

    // `metrics` (may be null) must outlive the endpoint.
    Expected<std::unique_ptr<Publisher>> make_publisher(EndpointMetrics* metrics);
    Expected<std::unique_ptr<Subscriber>> make_subscriber(EndpointMetrics* metrics);
    // A named inbox ("plugin:<instance>", "kernel"); names are unique.
    Expected<std::unique_ptr<Inbox>> make_inbox(const std::string& name, EndpointMetrics* metrics);
    std::unique_ptr<Outbox> make_outbox(EndpointMetrics* metrics);

    // Publisher endpoints so far and a counter that grows with each new one.
    std::vector<std::string> publisher_endpoints() const;
    uint64_t publisher_generation() const noexcept { return pub_generation_.load(std::memory_order_acquire); }

    static std::string inbox_endpoint(const std::string& name) { return "inproc://gl.inbox." + name; }

private:
    BusOptions options_;
    const SeriesRegistry& registry_;
    void* ctx_ = nullptr;
    mutable std::mutex mu_;
    std::vector<std::string> pub_endpoints_;
    std::atomic<uint64_t> pub_generation_{0};
    uint64_t next_id_ = 0;
};

class Publisher {
public:
    // Publishes n samples, one message per device (data/<device>/).
    // invalid_argument: an unknown series id (nothing is sent);
    // unavailable: a queue stayed full, `*dropped` samples were dropped.
    Status publish_samples(const gl_sample* samples, size_t n, size_t* dropped = nullptr);
    // Publishes an already encoded event frame.
    Status publish_frame(std::string_view frame);

private:
    friend class Bus;
    Publisher(Bus& bus, ZmqSocket socket, EndpointMetrics* metrics)
        : bus_(bus), socket_(std::move(socket)), metrics_(metrics) {}
    const std::string* topic_for(uint32_t series_id);
    bool send(const std::string& topic, const gl_sample* s, size_t n);

    Bus& bus_;
    ZmqSocket socket_;
    EndpointMetrics* metrics_;
    std::vector<std::string> topic_by_id_;  // index id: "data/<device>/"; "" unknown yet
    std::vector<gl_sample> scratch_;
};

// What a receive() hands over. Views borrow the received frame and stay
// valid until the next receive() on the same endpoint.
struct Delivery {
    MessageType type = MessageType::samples;
    std::string_view topic;            // NUL-terminated in the frame
    std::vector<gl_sample> samples;    // samples: those the subscriptions select
    EventView event;
    CommandView command;
    ReplyView reply;
};

class Subscriber {
public:
    // Prefix or glob (core/pattern.h) over topics; for data, matched against
    // "data/" + series name, sample by sample.
    Status subscribe(std::string_view pattern);
    // Non-blocking: true with a delivery, false when nothing is queued.
    // Malformed frames and batches with no selected sample are skipped.
    bool receive(Delivery& out);
    // For zmq_poll.
    void* socket() const noexcept { return socket_.get(); }
    // Connects to publishers created since the last call (cheap when none).
    void sync_endpoints();
    // Drops every subscription and what is queued: nothing more arrives
    // until subscribe() (a failed plugin must not fill its queue, which would
    // hold up the publishers).
    void unsubscribe_all();

private:
    friend class Bus;
    Subscriber(Bus& bus, ZmqSocket socket, EndpointMetrics* metrics)
        : bus_(bus), socket_(std::move(socket)), metrics_(metrics) {}
    bool select_samples(std::string_view topic, std::string_view body, size_t n, std::vector<gl_sample>& out);
    bool matches_series(uint32_t id);

    struct Pattern {
        std::string text;
        bool data_whole;  // selects whole data batches whose topic it prefixes
        std::string zmq_prefix;  // what was subscribed on the socket
    };
    Bus& bus_;
    ZmqSocket socket_;
    EndpointMetrics* metrics_;
    std::vector<Pattern> patterns_;
    std::vector<uint8_t> series_match_;  // by id: 0 unknown, 1 yes, 2 no
    std::vector<std::string> connected_;
    uint64_t generation_ = 0;
    ZmqMessage msg_;
};

class Inbox {
public:
    bool receive(Delivery& out);  // commands and replies; non-blocking
    void* socket() const noexcept { return socket_.get(); }
    const std::string& name() const noexcept { return name_; }

private:
    friend class Bus;
    Inbox(std::string name, ZmqSocket socket, EndpointMetrics* metrics)
        : name_(std::move(name)), socket_(std::move(socket)), metrics_(metrics) {}
    std::string name_;
    ZmqSocket socket_;
    EndpointMetrics* metrics_;
    ZmqMessage msg_;
};

class Outbox {
public:
    // Sends a frame to the inbox `name`. unavailable: the inbox's queue
    // stayed full for the send timeout (dropped, counted).
    Status send(const std::string& inbox_name, std::string_view frame);

private:
    friend class Bus;
    Outbox(Bus& bus, EndpointMetrics* metrics) : bus_(bus), metrics_(metrics) {}
    Bus& bus_;
    EndpointMetrics* metrics_;
    std::unordered_map<std::string, ZmqSocket> pushes_;
};

// Decodes a received frame into `out`; false (counted) when malformed.
bool decode_delivery(std::string_view frame, Delivery& out, EndpointMetrics* metrics);

}  // namespace gridlet::bus
