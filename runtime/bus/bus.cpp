#include "bus/bus.h"

#include <algorithm>
#include <cerrno>

#include "core/pattern.h"

namespace gridlet::bus {

namespace {
void count(EndpointMetrics* m, std::atomic<uint64_t> EndpointMetrics::*field, uint64_t n = 1) {
    if (m) EndpointMetrics::add(m->*field, n);
}
}  // namespace

// ------------------------------------------------------------------ Bus

Bus::Bus(BusOptions options, const SeriesRegistry& registry) : options_(options), registry_(registry) {
    ctx_ = zmq_ctx_new();
    // inproc needs no I/O thread; one serves the ipc control socket.
    zmq_ctx_set(ctx_, ZMQ_IO_THREADS, 1);
}

Bus::~Bus() {
    if (ctx_) zmq_ctx_term(ctx_);
}

Expected<std::unique_ptr<Publisher>> Bus::make_publisher(EndpointMetrics* metrics) {
    ZmqSocket s(ctx_, ZMQ_PUB);
    if (!s) return ZmqSocket::error("socket");
    Status st = s.set_int(ZMQ_SNDHWM, options_.queue_depth);
    if (st) st = s.set_int(ZMQ_XPUB_NODROP, 1);
    if (st) st = s.set_int(ZMQ_SNDTIMEO, options_.send_timeout_ms);
    std::string ep;
    {
        std::lock_guard lock(mu_);
        ep = "inproc://gl.pub." + std::to_string(next_id_++);
    }
    if (st) st = s.bind(ep);
    if (!st) return st.with_context("bus publisher");
    {
        std::lock_guard lock(mu_);
        pub_endpoints_.push_back(ep);
        pub_generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    return std::unique_ptr<Publisher>(new Publisher(*this, std::move(s), metrics));
}

Expected<std::unique_ptr<Subscriber>> Bus::make_subscriber(EndpointMetrics* metrics) {
    ZmqSocket s(ctx_, ZMQ_SUB);
    if (!s) return ZmqSocket::error("socket");
    Status st = s.set_int(ZMQ_RCVHWM, options_.queue_depth);
    if (!st) return st.with_context("bus subscriber");
    auto sub = std::unique_ptr<Subscriber>(new Subscriber(*this, std::move(s), metrics));
    sub->sync_endpoints();
    return sub;
}

Expected<std::unique_ptr<Inbox>> Bus::make_inbox(const std::string& name, EndpointMetrics* metrics) {
    ZmqSocket s(ctx_, ZMQ_PULL);
    if (!s) return ZmqSocket::error("socket");
    Status st = s.set_int(ZMQ_RCVHWM, options_.queue_depth);
    if (st) st = s.bind(inbox_endpoint(name));
    if (!st) return st.with_context("bus inbox '" + name + "'");
    return std::unique_ptr<Inbox>(new Inbox(name, std::move(s), metrics));
}

std::unique_ptr<Outbox> Bus::make_outbox(EndpointMetrics* metrics) {
    return std::unique_ptr<Outbox>(new Outbox(*this, metrics));
}

std::vector<std::string> Bus::publisher_endpoints() const {
    std::lock_guard lock(mu_);
    return pub_endpoints_;
}

// ------------------------------------------------------------ Publisher

const std::string* Publisher::topic_for(uint32_t id) {
    if (id < topic_by_id_.size() && !topic_by_id_[id].empty()) return &topic_by_id_[id];
    auto meta = bus_.registry().get(id);
    if (!meta) return nullptr;
    if (topic_by_id_.size() <= id) topic_by_id_.resize(std::max<size_t>(id + 1, topic_by_id_.size() * 2));
    topic_by_id_[id] = "data/" + std::string(meta->device()) + "/";
    return &topic_by_id_[id];
}

bool Publisher::send(const std::string& topic, const gl_sample* s, size_t n) {
    zmq_msg_t msg;
    const size_t size = samples_frame_size(topic, n);
    zmq_msg_init_size(&msg, size);
    encode_samples(topic, s, n, static_cast<char*>(zmq_msg_data(&msg)));
    if (zmq_msg_send(&msg, socket_.get(), 0) < 0) {
        zmq_msg_close(&msg);
        count(metrics_, &EndpointMetrics::drops_out);
        count(metrics_, &EndpointMetrics::samples_dropped, n);
        return false;
    }
    count(metrics_, &EndpointMetrics::messages_out);
    count(metrics_, &EndpointMetrics::bytes_out, size);
    count(metrics_, &EndpointMetrics::samples_out, n);
    return true;
}

Status Publisher::publish_samples(const gl_sample* samples, size_t n, size_t* dropped) {
    if (dropped) *dropped = 0;
    if (n == 0) return Status::ok();
    // Resolve every topic first: an unknown id refuses the whole batch.
    const std::string* first = nullptr;
    bool one_device = true;
    for (size_t i = 0; i < n; ++i) {
        const std::string* t = topic_for(samples[i].series_id);
        if (!t) return Status::invalid("publish: unknown series id " + std::to_string(samples[i].series_id));
        if (!first) first = t;
        else if (t != first && *t != *first) one_device = false;
    }
    size_t lost = 0;
    if (one_device) {
        if (!send(*first, samples, n)) lost = n;
    } else {
        // Several devices: one message each, samples kept in order per device.
        scratch_.assign(samples, samples + n);
        std::stable_sort(scratch_.begin(), scratch_.end(), [&](const gl_sample& a, const gl_sample& b) {
            return *topic_for(a.series_id) < *topic_for(b.series_id);
        });
        size_t start = 0;
        for (size_t i = 1; i <= n; ++i) {
            if (i == n || *topic_for(scratch_[i].series_id) != *topic_for(scratch_[start].series_id)) {
                if (!send(*topic_for(scratch_[start].series_id), scratch_.data() + start, i - start)) lost += i - start;
                start = i;
            }
        }
    }
    if (dropped) *dropped = lost;
    if (lost)
        return Status::unavailable("bus: a subscriber queue stayed full for " +
                                   std::to_string(bus_.options().send_timeout_ms) + " ms; dropped " +
                                   std::to_string(lost) + " samples");
    return Status::ok();
}

Status Publisher::publish_frame(std::string_view frame) {
    if (zmq_send(socket_.get(), frame.data(), frame.size(), 0) < 0) {
        count(metrics_, &EndpointMetrics::drops_out);
        return Status::unavailable("bus: a subscriber queue stayed full; message dropped");
    }
    count(metrics_, &EndpointMetrics::messages_out);
    count(metrics_, &EndpointMetrics::bytes_out, frame.size());
    return Status::ok();
}

// ------------------------------------------------------------ decoding

bool decode_delivery(std::string_view frame, Delivery& out, EndpointMetrics* metrics) {
    auto f = decode_frame(frame);
    if (!f) {
        count(metrics, &EndpointMetrics::malformed_in);
        return false;
    }
    out.type = f->type;
    out.topic = f->topic;
    switch (f->type) {
        case MessageType::samples: {
            auto n = sample_count(f->body);
            if (!n) break;
            copy_samples(f->body, *n, out.samples);
            return true;
        }
        case MessageType::event: {
            auto e = decode_event(f->body);
            if (!e) break;
            out.event = *e;
            return true;
        }
        case MessageType::command: {
            auto c = decode_command(f->body);
            if (!c) break;
            out.command = *c;
            return true;
        }
        case MessageType::reply: {
            auto r = decode_reply(f->body);
            if (!r) break;
            out.reply = *r;
            return true;
        }
    }
    count(metrics, &EndpointMetrics::malformed_in);
    return false;
}

// ----------------------------------------------------------- Subscriber

void Subscriber::sync_endpoints() {
    uint64_t g = bus_.publisher_generation();
    if (g == generation_) return;
    for (const std::string& ep : bus_.publisher_endpoints()) {
        if (std::find(connected_.begin(), connected_.end(), ep) != connected_.end()) continue;
        if (socket_.connect(ep)) connected_.push_back(ep);
    }
    generation_ = g;
}

Status Subscriber::subscribe(std::string_view pattern) {
    std::string zmq_prefix = literal_prefix(pattern);
    // Data frames carry "data/<device>/" as their topic: a deeper prefix is
    // cut there and the rest is checked sample by sample.
    if (zmq_prefix.rfind("data/", 0) == 0) {
        size_t slash = zmq_prefix.find('/', 5);
        if (slash != std::string::npos) zmq_prefix.resize(slash + 1);
    }
    if (zmq_setsockopt(socket_.get(), ZMQ_SUBSCRIBE, zmq_prefix.data(), zmq_prefix.size()) != 0)
        return ZmqSocket::error("subscribe '" + std::string(pattern) + "'");
    // A plain pattern that matches a batch's topic ("data/", "data/panel1")
    // selects every sample of that device: no per-sample check (see select_samples).
    bool whole = !has_wildcard(pattern);
    patterns_.push_back({std::string(pattern), whole, zmq_prefix});
    std::fill(series_match_.begin(), series_match_.end(), 0);
    return Status::ok();
}

void Subscriber::unsubscribe_all() {
    for (const Pattern& p : patterns_)
        (void)zmq_setsockopt(socket_.get(), ZMQ_UNSUBSCRIBE, p.zmq_prefix.data(), p.zmq_prefix.size());
    patterns_.clear();
    std::fill(series_match_.begin(), series_match_.end(), 0);
    while (zmq_msg_recv(msg_.get(), socket_.get(), ZMQ_DONTWAIT) >= 0) {
    }
}

bool Subscriber::matches_series(uint32_t id) {
    if (id >= series_match_.size()) series_match_.resize(std::max<size_t>(id + 1, series_match_.size() * 2), 0);
    uint8_t& m = series_match_[id];
    if (m == 0) {
        std::string topic = "data/" + bus_.registry().name(id);
        m = 2;
        for (const Pattern& p : patterns_)
            if (pattern_match(p.text, topic)) {
                m = 1;
                break;
            }
    }
    return m == 1;
}

bool Subscriber::select_samples(std::string_view topic, std::string_view body, size_t n, std::vector<gl_sample>& out) {
    for (const Pattern& p : patterns_)
        if (p.data_whole && pattern_match(p.text, topic)) {
            copy_samples(body, n, out);
            return true;
        }
    copy_samples(body, n, out);
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        if (matches_series(out[i].series_id)) out[k++] = out[i];
    out.resize(k);
    return k > 0;
}

bool Subscriber::receive(Delivery& out) {
    for (;;) {
        if (zmq_msg_recv(msg_.get(), socket_.get(), ZMQ_DONTWAIT) < 0) return false;
        std::string_view frame = msg_.view();
        count(metrics_, &EndpointMetrics::messages_in);
        count(metrics_, &EndpointMetrics::bytes_in, frame.size());
        auto f = decode_frame(frame);
        if (!f) {
            count(metrics_, &EndpointMetrics::malformed_in);
            continue;
        }
        if (f->type == MessageType::samples) {
            auto n = sample_count(f->body);
            if (!n) {
                count(metrics_, &EndpointMetrics::malformed_in);
                continue;
            }
            if (!select_samples(f->topic, f->body, *n, out.samples)) continue;
            out.type = MessageType::samples;
            out.topic = f->topic;
            count(metrics_, &EndpointMetrics::samples_in, out.samples.size());
            return true;
        }
        if (!decode_delivery(frame, out, metrics_)) continue;
        bool wanted = false;
        for (const Pattern& p : patterns_) wanted |= pattern_match(p.text, out.topic);
        if (wanted) return true;
    }
}

// ---------------------------------------------------------------- Inbox

bool Inbox::receive(Delivery& out) {
    for (;;) {
        if (zmq_msg_recv(msg_.get(), socket_.get(), ZMQ_DONTWAIT) < 0) return false;
        std::string_view frame = msg_.view();
        count(metrics_, &EndpointMetrics::messages_in);
        count(metrics_, &EndpointMetrics::bytes_in, frame.size());
        if (!decode_delivery(frame, out, metrics_)) continue;
        if (out.type == MessageType::command || out.type == MessageType::reply) return true;
        count(metrics_, &EndpointMetrics::malformed_in);
    }
}

// --------------------------------------------------------------- Outbox

Status Outbox::send(const std::string& inbox_name, std::string_view frame) {
    auto it = pushes_.find(inbox_name);
    if (it == pushes_.end()) {
        ZmqSocket s(bus_.context(), ZMQ_PUSH);
        if (!s) return ZmqSocket::error("socket");
        Status st = s.set_int(ZMQ_SNDHWM, bus_.options().queue_depth);
        if (st) st = s.set_int(ZMQ_SNDTIMEO, bus_.options().send_timeout_ms);
        if (st) st = s.connect(Bus::inbox_endpoint(inbox_name));
        if (!st) return st.with_context("bus outbox");
        it = pushes_.emplace(inbox_name, std::move(s)).first;
    }
    if (zmq_send(it->second.get(), frame.data(), frame.size(), 0) < 0) {
        count(metrics_, &EndpointMetrics::drops_out);
        return Status::unavailable("bus: inbox '" + inbox_name + "' stayed full; message dropped");
    }
    count(metrics_, &EndpointMetrics::messages_out);
    count(metrics_, &EndpointMetrics::bytes_out, frame.size());
    return Status::ok();
}

}  // namespace gridlet::bus

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "bus/socket.h"

namespace gridlet::bus {

bool ipc_endpoint_live(const std::string& endpoint) {
    if (endpoint.rfind("ipc://", 0) != 0) return false;
    const std::string path = endpoint.substr(6);
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return live;
}

}  // namespace gridlet::bus
