#include "forwarder.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace gridlet::mqtt {

namespace {

constexpr int kLoopTimeoutMs = 10;
constexpr size_t kReadEntries = 64;
constexpr int64_t kRepeatErrorLogMs = 600'000;

Forwarder* self(void* obj) { return static_cast<Forwarder*>(obj); }

void cb_connect(mosquitto*, void* obj, int rc, int, const mosquitto_property*) { self(obj)->on_connect(rc); }
void cb_disconnect(mosquitto*, void* obj, int rc, const mosquitto_property*) { self(obj)->on_disconnect(rc); }
void cb_publish(mosquitto*, void* obj, int mid, int reason, const mosquitto_property*) {
    self(obj)->on_publish(mid, reason);
}
void cb_message(mosquitto*, void* obj, const mosquitto_message* m, const mosquitto_property* props) {
    self(obj)->on_message(m->topic, m->payload, m->payloadlen, props);
}
// libmosquitto says a TLS failure's cause only in its log ("OpenSSL
// Error[0]: error:0A000086:SSL routines::certificate verify failed"): kept to
// say why the connection failed.
void cb_log(mosquitto*, void* obj, int level, const char* text) {
    if ((level & MOSQ_LOG_ERR) && text) self(obj)->note_library_error(text);
}

}  // namespace

Forwarder::Forwarder(gridlet::Host host, const Settings& settings, std::string site, std::string instance,
                     South* south, CommandQueue* commands, Fleet* fleet)
    : host_(host), settings_(settings), site_(std::move(site)), instance_(std::move(instance)), south_(south),
      commands_(commands), fleet_(fleet), north_(settings.north.enabled) {
    client_id_ = settings_.broker.client_id.empty() ? "gridlet-" + site_ + "-" + instance_ : settings_.broker.client_id;
    const bool per_sample = settings_.north.format == Format::json;
    topic_ = per_sample ? TopicTemplate(settings_.north.topic, {"site", "instance", "device", "point", "series"})
                        : TopicTemplate(settings_.north.topic, {"site", "instance", "device"});
    const auto used = topic_placeholders(settings_.north.topic);
    batch_by_device_ = std::find(used.begin(), used.end(), "device") != used.end();
    event_topic_ = TopicTemplate(settings_.north.event_topic, {"site", "instance", "source", "type"});
    if (!settings_.broker.status_topic.empty())
        TopicTemplate(settings_.broker.status_topic, {"site", "instance"}).expand({site_, instance_}, status_topic_);
    mosquitto_lib_init();
}

Forwarder::~Forwarder() {
    stop();
    mosquitto_lib_cleanup();
}

void Forwarder::start() {
    stop_ = false;
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "mqtt-north");  // for top -H and the benchmark
}

void Forwarder::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void Forwarder::say(gl_log_level level, const std::string& what) { host_.log(level, what); }

void Forwarder::note_library_error(const std::string& text) {
    // The first is the cause; OpenSSL's later lines repeat it.
    if (library_error_.empty()) library_error_ = text;
}

void Forwarder::run() {
    while (!stop_.load()) {
        const int64_t now = host_.monotonic_ms();
        if (!mosq_) {
            if (now >= next_attempt_ms_) connect();
            if (!mosq_) {
                tick_subscribers();
                std::this_thread::sleep_for(std::chrono::milliseconds(
                    std::clamp<int64_t>(next_attempt_ms_ - host_.monotonic_ms(), 1, 50)));
                continue;
            }
        }
        const int rc = mosquitto_loop(mosq_, kLoopTimeoutMs, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            // What a callback learnt (a refused CONNACK) says more than the loop's code.
            drop_connection(!drop_pending_.empty() ? std::string(drop_pending_)
                            : rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno))
                                                   : std::string(mosquitto_strerror(rc)));
            continue;
        }
        if (connected_ && north_) pump();
        publish_replies();
        flush_done();
        tick_subscribers();
    }
    // Leaving: say offline (the will covers a crash), give the broker a
    // moment to take it and the last acknowledgements, then disconnect.
    if (mosq_ && connected_) {
        if (!status_topic_.empty())
            mosquitto_publish_v5(mosq_, nullptr, status_topic_.c_str(), 7, "offline", 1, true, nullptr);
        const int64_t until = host_.monotonic_ms() + 1000;
        while (host_.monotonic_ms() < until && !inflight_.empty() &&
               mosquitto_loop(mosq_, kLoopTimeoutMs, 1) == MOSQ_ERR_SUCCESS) {
        }
        for (int i = 0; i < 5; ++i) mosquitto_loop(mosq_, kLoopTimeoutMs, 1);
        flush_done();
        mosquitto_disconnect(mosq_);
        mosquitto_loop(mosq_, kLoopTimeoutMs, 1);
    }
    if (mosq_) mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    counters_.connected = false;
}

void Forwarder::connect() {
    const BrokerSettings& b = settings_.broker;
    const bool persistent = south_ || fleet_;  // what arrives while gridlet is away waits at the broker
    mosq_ = mosquitto_new(client_id_.c_str(), !persistent, this);
    if (!mosq_) {
        drop_connection("cannot create an MQTT client (out of memory)");
        return;
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, b.protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    if (b.protocol == 5) mosquitto_int_option(mosq_, MOSQ_OPT_SEND_MAXIMUM, settings_.north.max_inflight);
    else mosquitto_max_inflight_messages_set(mosq_, static_cast<unsigned>(settings_.north.max_inflight));
    mosquitto_connect_v5_callback_set(mosq_, cb_connect);
    mosquitto_log_callback_set(mosq_, cb_log);
    mosquitto_disconnect_v5_callback_set(mosq_, cb_disconnect);
    mosquitto_publish_v5_callback_set(mosq_, cb_publish);
    if (south_ || commands_ || fleet_) mosquitto_message_v5_callback_set(mosq_, cb_message);
    int rc = MOSQ_ERR_SUCCESS;
    if (!b.username.empty())
        rc = mosquitto_username_pw_set(mosq_, b.username.c_str(), b.password.empty() ? nullptr : b.password.c_str());
    if (rc == MOSQ_ERR_SUCCESS && b.tls) {
        if (b.ca_file.empty()) mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        rc = mosquitto_tls_set(mosq_, b.ca_file.empty() ? nullptr : b.ca_file.c_str(),
                               b.ca_file.empty() ? "/etc/ssl/certs" : nullptr,
                               b.cert_file.empty() ? nullptr : b.cert_file.c_str(),
                               b.key_file.empty() ? nullptr : b.key_file.c_str(), nullptr);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_tls_opts_set(mosq_, 1, b.tls_min_version == "1.3" ? "tlsv1.3" : "tlsv1.2", nullptr);
    }
    if (rc == MOSQ_ERR_SUCCESS && !status_topic_.empty())
        rc = mosquitto_will_set_v5(mosq_, status_topic_.c_str(), 7, "offline", 1, true, nullptr);
    if (rc == MOSQ_ERR_SUCCESS && persistent && b.protocol == 5) {
        // MQTT 5 ends a session at disconnect unless it has an expiry: keep
        // the subscriptions' messages for a day. (No asynchronous connect
        // takes properties: this one waits for the TCP connection.)
        mosquitto_property* props = nullptr;
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 86'400);
        rc = mosquitto_connect_bind_v5(mosq_, b.host.c_str(), b.port, b.keepalive_s, nullptr, props);
        mosquitto_property_free_all(&props);
    } else if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_connect_async(mosq_, b.host.c_str(), b.port, b.keepalive_s);
    }
    if (rc != MOSQ_ERR_SUCCESS)
        drop_connection(rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : mosquitto_strerror(rc));
}

void Forwarder::drop_connection(const std::string& why_text) {
    // libmosquitto's texts end with a period; ours go on after them.
    std::string why = why_text;
    while (!why.empty() && (why.back() == '.' || why.back() == ' ')) why.pop_back();
    if (!library_error_.empty() && why.find(library_error_) == std::string::npos) why += " (" + library_error_ + ")";
    library_error_.clear();
    drop_pending_.clear();
    if (!done_.empty()) {  // acknowledged before the drop: they still leave the feed
        if (host_.api()->feed_done(host_.ctx(), done_.data(), done_.size()) == GL_OK)
            counters_.acked_entries += done_.size();
        done_.clear();
    }
    const bool was = connected_;
    if (mosq_) mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    connected_ = false;
    counters_.connected = false;
    inflight_.clear();
    entry_messages_.clear();
    const BrokerSettings& b = settings_.broker;
    backoff_ms_ = was || backoff_ms_ == 0 ? b.reconnect_min_ms : std::min(backoff_ms_ * 2, b.reconnect_max_ms);
    next_attempt_ms_ = host_.monotonic_ms() + backoff_ms_;
    const std::string where = "broker " + b.host + ":" + std::to_string(b.port);
    if (was) {
        offline_said_ = true;
        ++counters_.disconnects;
        say(GL_LOG_WARN, "lost the connection to " + where + ": " + why +
                             "; what cannot be sent waits in the store (reconnecting in " +
                             std::to_string(backoff_ms_) + " ms)");
        const std::string body = std::string("{\"broker\":\"") + b.host + ":" + std::to_string(b.port) + "\"}";
        host_.api()->emit_event(host_.ctx(), nullptr, "broker_offline", GL_SEV_WARNING, body.data(), body.size());
        last_error_ = why;
        last_error_log_ms_ = host_.monotonic_ms();
        return;
    }
    const int64_t now = host_.monotonic_ms();
    if (!offline_said_) {  // also when gridlet starts with the broker away
        offline_said_ = true;
        const std::string body = std::string("{\"broker\":\"") + b.host + ":" + std::to_string(b.port) + "\"}";
        host_.api()->emit_event(host_.ctx(), nullptr, "broker_offline", GL_SEV_WARNING, body.data(), body.size());
    }
    if (why != last_error_ || now - last_error_log_ms_ >= kRepeatErrorLogMs) {
        char next[32];
        std::snprintf(next, sizeof next, "%.1f", backoff_ms_ / 1000.0);
        say(GL_LOG_WARN, "cannot connect to " + where + ": " + why + " (next try in " + next +
                             " s, the wait doubling up to " + std::to_string(b.reconnect_max_ms / 1000) +
                             " s; what must leave waits in the store)");
        last_error_ = why;
        last_error_log_ms_ = now;
    }
}

void Forwarder::on_connect(int rc) {
    if (rc != 0) {
        const std::string why = settings_.broker.protocol == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc);
        // Destroying the client inside its own callback is not allowed:
        // mark it and let run() see the failed loop.
        connected_ = false;
        drop_pending_ = "the broker refused the connection: " + why;
        return;
    }
    connected_ = true;
    offline_said_ = false;
    counters_.connected = true;
    ++counters_.connects;
    backoff_ms_ = 0;
    if (!status_topic_.empty())
        mosquitto_publish_v5(mosq_, nullptr, status_topic_.c_str(), 6, "online", 1, true, nullptr);
    if (south_)
        for (const std::string& f : south_->filters())
            mosquitto_subscribe_v5(mosq_, nullptr, f.c_str(), south_->qos(), 0, nullptr);
    if (commands_) mosquitto_subscribe_v5(mosq_, nullptr, commands_->topic().c_str(), 1, 0, nullptr);
    if (fleet_)
        for (const std::string& f : fleet_->settings().topics)
            mosquitto_subscribe_v5(mosq_, nullptr, f.c_str(), fleet_->settings().qos, 0, nullptr);
    gl_feed_stats st{};
    st.struct_size = sizeof st;
    if (north_) host_.api()->feed_stats(host_.ctx(), &st);
    backlog_ = Lane{0, st.last_seq};
    live_ = Lane{st.last_seq, 0};
    backlog_samples_ = 0;
    backlog_started_ms_ = host_.monotonic_ms();
    tokens_ = 0;
    tokens_ms_ = backlog_started_ms_;
    const BrokerSettings& b = settings_.broker;
    say(GL_LOG_INFO, "connected to broker " + b.host + ":" + std::to_string(b.port) + (b.tls ? " (TLS)" : "") +
                         " as '" + client_id_ + "'" +
                         (st.entries ? "; " + std::to_string(st.entries) + " entries of backlog to send" : ""));
    const std::string body = std::string("{\"broker\":\"") + b.host + ":" + std::to_string(b.port) + "\"}";
    host_.api()->emit_event(host_.ctx(), nullptr, "broker_online", GL_SEV_INFO, body.data(), body.size());
    last_error_.clear();
}

void Forwarder::on_message(const char* topic, const void* payload, int len, const mosquitto_property* props) {
    if (!topic || len < 0) return;
    if (commands_ && commands_->topic() == topic) {
        // MQTT 5: reply where the requester asked, with its correlation data.
        char* response = nullptr;
        void* correlation = nullptr;
        uint16_t correlation_len = 0;
        mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response, false);
        mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &correlation, &correlation_len, false);
        commands_->submit(std::string_view(static_cast<const char*>(payload), static_cast<size_t>(len)),
                          response ? std::string(response) : std::string(),
                          correlation ? std::string(static_cast<const char*>(correlation), correlation_len) : std::string());
        std::free(response);
        std::free(correlation);
        return;
    }
    if (fleet_ && fleet_->on_message(topic, payload, static_cast<size_t>(len))) return;
    if (south_) south_->on_message(topic, payload, static_cast<size_t>(len));
}

void Forwarder::publish_replies() {
    if (!commands_) return;
    for (const MqttReply& r : commands_->take_replies()) {
        if (!connected_) continue;  // the requester times out; nothing to keep
        mosquitto_property* props = nullptr;
        if (!r.correlation.empty())
            mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, r.correlation.data(),
                                          static_cast<uint16_t>(r.correlation.size()));
        mosquitto_publish_v5(mosq_, nullptr, r.topic.c_str(), static_cast<int>(r.payload.size()), r.payload.data(), 1,
                             false, props);
        mosquitto_property_free_all(&props);
    }
}

void Forwarder::tick_subscribers() {
    if (!south_ && !fleet_) return;
    const int64_t now = host_.monotonic_ms();
    if (now - last_tick_ms_ < 1000) return;
    last_tick_ms_ = now;
    if (south_) south_->tick();
    if (fleet_) fleet_->tick();
}

void Forwarder::on_disconnect(int rc) {
    if (drop_pending_.empty())
        drop_pending_ = rc == 0 ? std::string("disconnected") : std::string(mosquitto_strerror(rc));
}

void Forwarder::on_publish(int mid, int reason_code) {
    if (publishing_ && mid == current_mid_) {
        // QoS 0 written at once, inside mosquitto_publish_v5: publish_one
        // counts it as done.
        early_ack_ = true;
        return;
    }
    auto it = inflight_.find(mid);
    if (it == inflight_.end()) return;  // the status message
    const uint64_t seq = it->second.first;
    if (reason_code >= 0x80 && ++counters_.refused && host_.monotonic_ms() - last_refusal_log_ms_ >= 60'000) {
        // The first of a minute is said; the counter has them all.
        last_refusal_log_ms_ = host_.monotonic_ms();
        say(GL_LOG_ERROR, std::string("the broker refused a message to '") + it->second.second + "' (" +
                              mosquitto_reason_string(reason_code) +
                              "): it is dropped, as it would be refused again; check the broker's ACL for this "
                              "client's topics (counted in " + instance_ + "/north/refused; said once a minute)");
    }
    inflight_.erase(it);
    auto e = entry_messages_.find(seq);
    if (e != entry_messages_.end() && --e->second == 0) {
        entry_messages_.erase(e);
        done_.push_back(seq);
    }
}

void Forwarder::flush_done() {
    if (!drop_pending_.empty()) {
        drop_connection(std::string(drop_pending_));
        return;
    }
    if (done_.empty()) return;
    if (host_.api()->feed_done(host_.ctx(), done_.data(), done_.size()) != GL_OK) {
        say(GL_LOG_ERROR, "could not remove acknowledged entries from the store's outbox (they will be sent again)");
    } else {
        counters_.acked_entries += done_.size();
    }
    done_.clear();
}

void Forwarder::pump() {
    // Live data first, then the backlog with what the window and the rate leave.
    while (inflight_.size() < static_cast<size_t>(settings_.north.max_inflight) && pump_lane(live_, false, kReadEntries)) {
    }
    if (backlog_.end == 0) return;
    const int64_t now = host_.monotonic_ms();
    const double rate = static_cast<double>(settings_.north.drain_rate);
    tokens_ = std::min(rate, tokens_ + rate * static_cast<double>(now - tokens_ms_) / 1000.0);
    tokens_ms_ = now;
    while (backlog_.end != 0 && tokens_ > 0 && inflight_.size() < static_cast<size_t>(settings_.north.max_inflight)) {
        if (!pump_lane(backlog_, true, 1)) {
            if (backlog_.after >= backlog_.end || backlog_.end == 0) {
                const double s = static_cast<double>(host_.monotonic_ms() - backlog_started_ms_) / 1000.0;
                if (backlog_samples_ > 0)
                    say(GL_LOG_INFO, "backlog sent: " + std::to_string(backlog_samples_) + " samples in " +
                                         std::to_string(s).substr(0, 6) + " s");
                backlog_.end = 0;
            }
            break;
        }
    }
}

bool Forwarder::pump_lane(Lane& lane, bool resent, size_t max_entries) {
    struct Ctx {
        Forwarder* f;
        Lane* lane;
        bool resent;
        size_t n = 0;
        bool ok = true;
    } c{this, &lane, resent};
    const gl_status st = host_.api()->feed_read(
        host_.ctx(), lane.after, max_entries,
        [](void* user, const gl_feed_item* item) -> int {
            Ctx& c = *static_cast<Ctx*>(user);
            if (c.lane->end != 0 && item->seq > c.lane->end) return 0;  // past the backlog
            if (!c.f->publish_entry(*item, c.resent)) {
                c.ok = false;
                return 0;
            }
            c.lane->after = item->seq;
            ++c.n;
            return 1;
        },
        &c);
    if (st != GL_OK) {
        say(GL_LOG_ERROR, "cannot read the feed from the store's outbox (status " + std::to_string(st) + ")");
        return false;
    }
    if (resent && c.n == 0) lane.after = std::max(lane.after, lane.end);
    return c.ok && c.n > 0;
}

const Forwarder::SeriesInfo& Forwarder::series(uint32_t id) {
    SeriesInfo& s = series_[id];
    if (s.known) return s;
    char buf[512];
    std::string name = host_.api()->series_name(host_.ctx(), id, buf, sizeof buf) == GL_OK ? buf : "unknown/" + std::to_string(id);
    const size_t slash = name.find('/');
    s.name = name;
    s.device = slash == std::string::npos ? name : name.substr(0, slash);
    s.point = slash == std::string::npos ? std::string() : name.substr(slash + 1);
    if (host_.api()->series_unit && host_.api()->series_unit(host_.ctx(), id, buf, sizeof buf) == GL_OK) s.unit = buf;
    int32_t kind = GL_SERIES_GAUGE;
    if (GL_HAS_FIELD(host_.api(), gl_host_api, series_kind) && host_.api()->series_kind &&
        host_.api()->series_kind(host_.ctx(), id, &kind) == GL_OK)
        s.kind = kind == GL_SERIES_COUNTER ? "counter" : kind == GL_SERIES_STATE ? "state" : nullptr;
    if (kind == GL_SERIES_STATE && GL_HAS_FIELD(host_.api(), gl_host_api, series_states) && host_.api()->series_states &&
        host_.api()->series_states(host_.ctx(), id, buf, sizeof buf) == GL_OK)
        s.states = buf;
    s.known = true;
    return s;
}

bool Forwarder::publish_one(const std::string& topic, const std::string& payload, bool retain, uint64_t seq) {
    publishing_ = true;
    early_ack_ = false;
    current_mid_ = -1;
    const int rc = mosquitto_publish_v5(mosq_, &current_mid_, topic.c_str(), static_cast<int>(payload.size()),
                                        payload.data(), settings_.north.qos, retain, nullptr);
    publishing_ = false;
    if (rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_PAYLOAD_SIZE) {
        ++counters_.refused;
        say(GL_LOG_ERROR, "a message of " + std::to_string(payload.size()) + " bytes to '" + topic +
                              "' is larger than the broker takes: dropped (lower max_batch)");
        return true;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        if (drop_pending_.empty()) drop_pending_ = std::string("publish failed: ") + mosquitto_strerror(rc);
        return false;
    }
    ++counters_.messages;
    if (!early_ack_) {
        inflight_[current_mid_] = {seq, topic};
        ++entry_messages_[seq];
    }
    return true;
}

bool Forwarder::publish_entry(const gl_feed_item& item, bool resent) {
    const NorthSettings& n = settings_.north;
    const bool retain = n.retain && !resent;  // an old value must not replace a retained newer one
    entry_messages_[item.seq];  // the entry exists while it has messages in flight
    bool ok = true;
    if (item.event) {
        const gl_event& e = *item.event;
        event_topic_.expand({site_, instance_, e.source ? e.source : "", e.type ? e.type : ""}, topic_buf_);
        payload_buf_.clear();
        append_json_event(payload_buf_, e, resent);
        ok = publish_one(topic_buf_, payload_buf_, retain, item.seq);
        if (ok) ++counters_.events;
    } else if (n.format == Format::json) {
        for (size_t i = 0; i < item.sample_count && ok; ++i) {
            const gl_sample& s = item.samples[i];
            const SeriesInfo& info = series(s.series_id);
            topic_.expand({site_, instance_, info.device, info.point, info.name}, topic_buf_);
            payload_buf_.clear();
            append_json_sample(payload_buf_, SampleView{info.point, info.unit, s.ts_ms, s.value, s.quality, info.kind, info.states},
                               resent);
            ok = publish_one(topic_buf_, payload_buf_, retain, item.seq);
        }
    } else {
        // One message per device (and per max_batch samples), in the
        // entry's order within each device.
        std::vector<std::pair<const SeriesInfo*, const gl_sample*>> order;
        order.reserve(item.sample_count);
        for (size_t i = 0; i < item.sample_count; ++i) order.emplace_back(&series(item.samples[i].series_id), &item.samples[i]);
        if (batch_by_device_)
            std::stable_sort(order.begin(), order.end(),
                             [](const auto& a, const auto& b) { return a.first->device < b.first->device; });
        for (size_t i = 0; i < order.size() && ok;) {
            const std::string& device = order[i].first->device;
            views_.clear();
            size_t j = i;
            for (; j < order.size() && (!batch_by_device_ || order[j].first->device == device) &&
                   views_.size() < static_cast<size_t>(n.max_batch);
                 ++j) {
                const SeriesInfo& info = *order[j].first;
                const gl_sample& s = *order[j].second;
                views_.push_back(SampleView{batch_by_device_ || n.format == Format::line ? std::string_view(info.point)
                                                                                         : std::string_view(info.name),
                                            info.unit, s.ts_ms, s.value, s.quality, info.kind, info.states});
            }
            topic_.expand({site_, instance_, device}, topic_buf_);
            payload_buf_.clear();
            if (n.format == Format::json_batch) {
                append_json_batch(payload_buf_, batch_by_device_ ? std::string_view(device) : std::string_view(),
                                  views_, resent);
            } else if (batch_by_device_) {
                append_line_protocol(payload_buf_, n.measurement, site_, device, views_, resent);
            } else {
                // Lines carry their own device tag: one call per run of a device.
                for (size_t k = i, v = 0; k < j;) {
                    size_t e = k;
                    while (e < j && order[e].first->device == order[k].first->device) ++e;
                    append_line_protocol(payload_buf_, n.measurement, site_, order[k].first->device,
                                         std::span<const SampleView>(views_.data() + v, e - k), resent);
                    v += e - k;
                    k = e;
                }
            }
            ok = publish_one(topic_buf_, payload_buf_, retain, item.seq);
            i = j;
        }
    }
    if (ok) {
        counters_.samples += item.sample_count;
        if (resent) {
            counters_.resent_samples += item.sample_count;
            backlog_samples_ += item.sample_count;
            tokens_ -= static_cast<double>(std::max<size_t>(item.sample_count, 1));
        }
    }
    auto it = entry_messages_.find(item.seq);
    if (it != entry_messages_.end() && it->second == 0) {  // nothing in flight (all refused, or none)
        entry_messages_.erase(it);
        if (ok) done_.push_back(item.seq);
    }
    return ok;
}

}  // namespace gridlet::mqtt
