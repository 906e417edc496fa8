#pragma once
// A subscriber for tests, on libmosquitto: a persistent session (clean
// session off, QoS 1 or 2) so that what the broker queued while the
// subscriber was away, or kept across a broker restart, still arrives. Its
// own network thread reconnects by itself. Messages are kept in arrival
// order.
//
// Threads: messages() and count() from any thread (a mutex).
#include <mosquitto.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gridlet::testing {

struct MqttMessage {
    std::string topic, payload;
    bool retain = false;
};

class MqttSubscriber {
public:
    MqttSubscriber(int port, std::string topic, std::string client_id, int qos = 1, std::string tls_ca = {},
                   std::string cert = {}, std::string key = {})
        : topic_(std::move(topic)), qos_(qos) {
        mosquitto_lib_init();
        m_ = mosquitto_new(client_id.c_str(), false, this);
        mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_reconnect_delay_set(m_, 1, 2, false);
        if (!tls_ca.empty())
            mosquitto_tls_set(m_, tls_ca.c_str(), nullptr, cert.empty() ? nullptr : cert.c_str(),
                              key.empty() ? nullptr : key.c_str(), nullptr);
        mosquitto_connect_callback_set(m_, [](mosquitto* m, void* self, int rc) {
            auto* s = static_cast<MqttSubscriber*>(self);
            if (rc == 0) {
                mosquitto_subscribe(m, nullptr, s->topic_.c_str(), s->qos_);
                std::lock_guard lock(s->mu_);
                ++s->connects_;
            }
        });
        mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int, int, const int*) {
            auto* s = static_cast<MqttSubscriber*>(self);
            std::lock_guard lock(s->mu_);
            ++s->subscribed_;
        });
        mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
            auto* s = static_cast<MqttSubscriber*>(self);
            std::lock_guard lock(s->mu_);
            s->messages_.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload),
                                                            static_cast<size_t>(msg->payloadlen)),
                                    msg->retain});
        });
        mosquitto_connect_async(m_, "127.0.0.1", port, 30);
        mosquitto_loop_start(m_);
    }
    ~MqttSubscriber() {
        mosquitto_disconnect(m_);
        mosquitto_loop_stop(m_, true);
        mosquitto_destroy(m_);
    }
    MqttSubscriber(const MqttSubscriber&) = delete;
    MqttSubscriber& operator=(const MqttSubscriber&) = delete;

    // Waits until the subscription is in place.
    bool ready(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait([&] { return subscribed_ > 0; }, timeout);
    }
    // Waits until `pred(messages)` holds.
    template <class P>
    bool wait_until(P pred, std::chrono::milliseconds timeout) {
        return wait([&] { return pred(messages_); }, timeout);
    }
    std::vector<MqttMessage> messages() {
        std::lock_guard lock(mu_);
        return messages_;
    }
    size_t count() {
        std::lock_guard lock(mu_);
        return messages_.size();
    }

private:
    template <class P>
    bool wait(P pred, std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            {
                std::lock_guard lock(mu_);
                if (pred()) return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::lock_guard lock(mu_);
        return pred();
    }
    mosquitto* m_ = nullptr;
    std::string topic_;
    int qos_;
    std::mutex mu_;
    int connects_ = 0, subscribed_ = 0;
    std::vector<MqttMessage> messages_;
};

// Publishes one message (QoS 1) and waits until the broker took it.
inline bool mqtt_publish_once(int port, const std::string& topic, const std::string& payload) {
    mosquitto_lib_init();
    mosquitto* m = mosquitto_new(nullptr, true, nullptr);
    bool ok = mosquitto_connect(m, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS;
    int mid = 0;
    ok = ok && mosquitto_publish(m, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false) ==
                   MOSQ_ERR_SUCCESS;
    for (int i = 0; ok && i < 20; ++i) mosquitto_loop(m, 20, 1);
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    return ok;
}

}  // namespace gridlet::testing
