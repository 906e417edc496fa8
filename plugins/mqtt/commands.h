// Commands over MQTT: a request on the commands topic writes a device point
// through the kernel's command path (the driver that owns the device answers)
// and the result goes back to the requester.
//
// Request (JSON): {"target":"bldg/relay1","value":1,"id":"r-42"}; "text"
// instead of (or with) "value" for drivers that take a text argument; "id"
// (string or number) is echoed. Only targets matching one of the `allow`
// patterns are written (none by default).
// Reply (JSON): {"id":"r-42","target":"bldg/relay1","status":"ok","error":""};
// status is ok, error (the driver's text), timeout, not_found (no driver
// owns the device), refused (not allowed), or invalid (the request does not
// parse; "error" says why). It goes to the request's MQTT 5 response topic
// with its correlation data when given (a response topic with a wildcard is
// said and replaced), else to "<commands topic>/reply".
//
// Threads: parse_request() anywhere; submit() on the forwarder's thread;
// drain() on the plugin thread (it calls send_command); take_replies() on
// the forwarder's thread. The two queues have their own mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gridlet/plugin.hpp>

namespace gridlet::mqtt {

struct CommandSettings {
    bool enabled = false;
    std::string topic = "gridlet/{site}/command";
    std::vector<std::string> allow;  // globs over "device/point"
    int timeout_ms = 5000;
};

struct CommandRequest {
    std::string id_json = "null";  // the request's id, as JSON
    std::string target, text;
    double value = 0;
    std::string reply_topic, correlation;  // where the reply goes
};

struct MqttReply {
    std::string topic, correlation, payload;
};

// Parses a request payload; on failure returns nullopt with `why`, and the id
// and target (when readable) in `id_json` and `target` (may be null).
std::optional<CommandRequest> parse_request(std::string_view payload, std::string* why, std::string* id_json,
                                            std::string* target = nullptr);

// The reply payload.
std::string reply_payload(const std::string& id_json, const std::string& target, const char* status,
                          const std::string& error);

bool command_allowed(const std::vector<std::string>& allow, const std::string& target);

class CommandQueue {
public:
    CommandQueue(gridlet::Host host, CommandSettings settings, std::string topic)
        : host_(host), settings_(std::move(settings)), topic_(std::move(topic)) {}
    const std::string& topic() const noexcept { return topic_; }
    // Forwarder thread: a request arrived on topic(); refused ones are
    // answered at once.
    void submit(std::string_view payload, std::string response_topic, std::string correlation);
    // Plugin thread: sends what waits.
    void drain();
    // Forwarder thread: the replies to publish.
    std::vector<MqttReply> take_replies();

private:
    void reply(const CommandRequest& r, const char* status, const std::string& error);
    void send(const std::shared_ptr<CommandRequest>& r);

    gridlet::Host host_;
    CommandSettings settings_;
    std::string topic_;
    std::mutex mu_;
    std::deque<CommandRequest> waiting_;
    std::vector<MqttReply> replies_;
};

}  // namespace gridlet::mqtt
