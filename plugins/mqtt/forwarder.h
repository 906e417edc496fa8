// Forwarder: the mqtt plugin's one connection to the broker. Owns one
// libmosquitto client on its own thread; forwards the instance's feed (the
// store's outbox queue "north/<instance>", filled by the kernel's store
// writer) to the broker when north is enabled, and hands what arrives on the
// subscribed topics to South (sensors), CommandQueue (commands) or Fleet
// (other gateways). With south or fleet, the session is persistent.
//
// Two lanes share the connection:
//   live     entries appended after the connection came up, sent at once;
//   backlog  what waited in the feed when it came up (stored while the
//            broker was away, or sent and not acknowledged before a
//            disconnect or a crash), oldest first, at most drain_rate
//            samples a second, never ahead of live data; marked resent.
// Each lane keeps the feed's order, so each series arrives in order within
// a lane. An entry leaves the feed only when the broker acknowledged every
// message built from it (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: handed to
// the socket). A disconnect forgets what was in flight: it goes again, from
// the backlog, after the next connect (a duplicate when the broker had it).
//
// Threads: start()/stop() from the plugin thread; everything else runs on
// the forwarder's thread (South, Fleet and the CommandQueue's MQTT side are
// called there); counters() from any thread.
#pragma once

#include <gridlet/plugin.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "payload.h"
#include "commands.h"
#include "fleet.h"
#include "south.h"
#include "settings.h"
#include "topic.h"

struct mosquitto;
struct mqtt5__property;
typedef struct mqtt5__property mosquitto_property;

namespace gridlet::mqtt {

struct ForwarderCounters {
    std::atomic<uint64_t> messages{0}, samples{0}, events{0}, resent_samples{0}, acked_entries{0}, refused{0},
        connects{0}, disconnects{0};
    std::atomic<bool> connected{false};
};

class Forwarder {
public:
    // `south` (may be null) gets the messages of its topic filters; the
    // session is then persistent (clean start off), so that what sensors
    // publish while gridlet is away waits at the broker.
    Forwarder(gridlet::Host host, const Settings& settings, std::string site, std::string instance,
              South* south = nullptr, CommandQueue* commands = nullptr, Fleet* fleet = nullptr);
    ~Forwarder();
    Forwarder(const Forwarder&) = delete;
    Forwarder& operator=(const Forwarder&) = delete;

    void start();
    // Publishes the offline status (when connected), disconnects, joins.
    void stop();
    const ForwarderCounters& counters() const noexcept { return counters_; }

    // libmosquitto callbacks (forwarder thread, inside mosquitto_loop).
    void on_connect(int rc);
    void on_disconnect(int rc);
    void on_publish(int mid, int reason_code);
    void on_message(const char* topic, const void* payload, int len, const mosquitto_property* props);

    // libmosquitto's error log line (called on the forwarder's thread, in
    // its loop): kept to say why a connection failed.
    void note_library_error(const std::string& text);

private:
    struct SeriesInfo {
        std::string name, device, point, unit;
        const char* kind = nullptr;  // "counter", "state", or null (gauge)
        std::string states;          // a state series' labels ("" when none)
        bool known = false;
    };
    struct Lane {
        uint64_t after = 0;  // last entry read
        uint64_t end = 0;    // backlog: last entry it covers (0: none)
    };

    void run();
    void connect();
    void drop_connection(const std::string& why);
    void pump();
    // Reads entries of a lane and publishes them; returns false when the
    // lane had nothing (more) to send now.
    bool pump_lane(Lane& lane, bool resent, size_t max_entries);
    bool publish_entry(const gl_feed_item& item, bool resent);
    bool publish_one(const std::string& topic, const std::string& payload, bool retain, uint64_t seq);
    void flush_done();
    void tick_subscribers();  // south and fleet: counters, offline states (once a second)
    const SeriesInfo& series(uint32_t id);
    void say(gl_log_level level, const std::string& what);

    gridlet::Host host_;
    Settings settings_;
    std::string site_, instance_, client_id_;
    TopicTemplate topic_, event_topic_;
    bool batch_by_device_ = true;  // the topic names {device}: a batch per device
    std::string status_topic_;
    South* south_ = nullptr;
    CommandQueue* commands_ = nullptr;
    Fleet* fleet_ = nullptr;
    void publish_replies();
    bool north_ = false;
    int64_t last_tick_ms_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    ForwarderCounters counters_;

    mosquitto* mosq_ = nullptr;
    bool connected_ = false;
    int64_t next_attempt_ms_ = 0;  // monotonic
    int backoff_ms_ = 0;
    std::string last_error_;
    bool offline_said_ = false;  // broker_offline emitted since the last connect
    std::string drop_pending_;  // set in a callback: run() drops the connection
    bool publishing_ = false;   // inside mosquitto_publish_v5
    bool early_ack_ = false;    // ... and it completed there (QoS 0)
    int current_mid_ = -1;
    int64_t last_error_log_ms_ = 0;

    Lane live_, backlog_;
    int64_t backlog_started_ms_ = 0;
    uint64_t backlog_samples_ = 0;
    double tokens_ = 0;  // backlog samples that may go now
    int64_t tokens_ms_ = 0;

    std::unordered_map<int, std::pair<uint64_t, std::string>> inflight_;  // mid -> entry seq, topic
    std::string library_error_;                      // libmosquitto's first error line since the last drop
    int64_t last_refusal_log_ms_ = INT64_MIN / 2;
    std::map<uint64_t, uint32_t> entry_messages_;    // entry seq -> messages not yet acknowledged
    std::vector<uint64_t> done_;                     // entries acknowledged, for feed_done

    std::unordered_map<uint32_t, SeriesInfo> series_;
    std::string topic_buf_, payload_buf_;
    std::vector<SampleView> views_;
};

}  // namespace gridlet::mqtt
