// PluginInstance's host services: the methods behind the gl_host_api table
// (host_api.cpp forwards to them). Which thread may call each is in plugin.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/pattern.h"
#include "plugin/plugin_instance.h"

namespace gridlet::plugin {

void PluginInstance::api_log(gl_log_level level, std::string_view msg) {
    static constexpr spdlog::level::level_enum map[] = {spdlog::level::trace, spdlog::level::debug,
                                                        spdlog::level::info,  spdlog::level::warn,
                                                        spdlog::level::err,   spdlog::level::critical};
    int l = std::clamp<int>(level, GL_LOG_TRACE, GL_LOG_CRITICAL);
    log_->log(map[l], "{}", msg);
}

void PluginInstance::api_set_error(const char* msg) {
    std::lock_guard lock(error_mu_);
    std::string text = msg ? msg : "";
    // The C++ SDK turns a failed host call into "subscribe 'x' failed (status
    // -2)"; the host said why just before: keep both.
    if (!error_text_.empty() && text.find("failed (status ") != std::string::npos &&
        text.find(error_text_) == std::string::npos)
        text += ": " + error_text_;
    error_text_ = std::move(text);
}

gl_status PluginInstance::api_config_value(const char* key, const nlohmann::json** out) const {
    if (!key) return GL_ERR_INVALID;
    auto it = config_.find(key);
    if (it == config_.end()) return GL_ERR_NOT_FOUND;
    *out = &*it;
    return GL_OK;
}

gl_status PluginInstance::api_register_series(const gl_series_info* info, uint32_t* out_id) {
    if (!info || !out_id || info->struct_size < offsetof(gl_series_info, states) || !info->name) {
        api_set_error("register_series: bad gl_series_info");
        return GL_ERR_INVALID;
    }
    SeriesMeta m;
    m.name = info->name;
    m.unit = info->unit ? info->unit : "";
    switch (info->kind) {
        case GL_SERIES_GAUGE: m.kind = SeriesKind::gauge; break;
        case GL_SERIES_COUNTER: m.kind = SeriesKind::counter; break;
        case GL_SERIES_STATE: m.kind = SeriesKind::state; break;
        default:
            api_set_error(("register_series '" + m.name + "': unknown kind " + std::to_string(info->kind)).c_str());
            return GL_ERR_INVALID;
    }
    m.description = info->description ? info->description : "";
    if (info->tags) {
        auto t = parse_tags(info->tags);
        if (!t) {
            api_set_error(("register_series '" + m.name + "': " + t.status().message()).c_str());
            return GL_ERR_INVALID;
        }
        m.tags = std::move(*t);
    }
    if (GL_HAS_FIELD(info, gl_series_info, states) && info->states) {
        auto s = parse_states(info->states);
        if (!s) {
            api_set_error(("register_series '" + m.name + "': " + s.status().message()).c_str());
            return GL_ERR_INVALID;
        }
        m.states = std::move(*s);
    }
    if (!m.tags.count("device")) m.tags["device"] = std::string(m.device());
    auto id = services_.registry.intern(m);
    if (!id) {
        api_set_error(id.status().message().c_str());
        return GL_ERR_INVALID;
    }
    *out_id = *id;
    return GL_OK;
}

gl_status PluginInstance::api_series_id(const char* name, uint32_t* out) {
    if (!name || !out) return GL_ERR_INVALID;
    auto id = services_.registry.find(name);
    if (!id) return GL_ERR_NOT_FOUND;
    *out = *id;
    return GL_OK;
}

gl_status PluginInstance::api_series_name(uint32_t id, char* buf, size_t cap) {
    std::string n = services_.registry.name(id);
    if (n.empty()) return GL_ERR_NOT_FOUND;
    if (!buf || cap < n.size() + 1) return GL_ERR_INVALID;
    std::memcpy(buf, n.c_str(), n.size() + 1);
    return GL_OK;
}

gl_status PluginInstance::api_series_unit(uint32_t id, char* buf, size_t cap) {
    auto meta = services_.registry.get(id);
    if (!meta) return GL_ERR_NOT_FOUND;
    if (!buf || cap < meta->unit.size() + 1) return GL_ERR_INVALID;
    std::memcpy(buf, meta->unit.c_str(), meta->unit.size() + 1);
    return GL_OK;
}

gl_status PluginInstance::api_series_kind(uint32_t id, int32_t* out) {
    auto meta = services_.registry.get(id);
    if (!meta) return GL_ERR_NOT_FOUND;
    if (!out) return GL_ERR_INVALID;
    *out = static_cast<int32_t>(meta->kind);
    return GL_OK;
}

gl_status PluginInstance::api_series_states(uint32_t id, char* buf, size_t cap) {
    auto meta = services_.registry.get(id);
    if (!meta) return GL_ERR_NOT_FOUND;
    std::string text;
    for (const auto& [value, label] : meta->states)
        text += (text.empty() ? "" : ",") + std::to_string(value) + "=" + label;
    if (!buf || cap < text.size() + 1) return GL_ERR_INVALID;
    std::memcpy(buf, text.c_str(), text.size() + 1);
    return GL_OK;
}

namespace {
gl_status feed_status(const Status& st, PluginInstance& p) {
    if (st) return GL_OK;
    p.api_set_error(st.message().c_str());
    switch (st.code()) {
        case StatusCode::invalid_argument: return GL_ERR_INVALID;
        case StatusCode::not_found: return GL_ERR_NOT_FOUND;
        case StatusCode::unsupported: return GL_ERR_UNSUPPORTED;
        default: return GL_ERR;
    }
}
}  // namespace

gl_status PluginInstance::api_feed_open(const gl_feed_spec* spec) {
    if (!services_.feeds) {
        api_set_error("this gridlet has no [store]: a feed keeps what waits in the store's outbox");
        return GL_ERR_UNSUPPORTED;
    }
    if (!spec || spec->struct_size < offsetof(gl_feed_spec, max_bytes) + sizeof(spec->max_bytes)) return GL_ERR_INVALID;
    if ((spec->series_count && !spec->series) || (spec->events_count && !spec->events)) return GL_ERR_INVALID;
    FeedSpec f;
    for (size_t i = 0; i < spec->series_count; ++i) {
        if (!spec->series[i]) return GL_ERR_INVALID;
        f.series.emplace_back(spec->series[i]);
    }
    for (size_t i = 0; i < spec->events_count; ++i) {
        if (!spec->events[i]) return GL_ERR_INVALID;
        f.events.emplace_back(spec->events[i]);
    }
    f.max_bytes = spec->max_bytes;
    return feed_status(services_.feeds->open(name_, f), *this);
}

gl_status PluginInstance::api_feed_read(uint64_t after, size_t max, gl_feed_item_fn fn, void* user) {
    if (!services_.feeds) return GL_ERR_UNSUPPORTED;
    if (!fn) return GL_ERR_INVALID;
    return feed_status(
        services_.feeds->read(name_, after, max, [&](const gl_feed_item& item) { return fn(user, &item) != 0; }), *this);
}

gl_status PluginInstance::api_feed_done(const uint64_t* seqs, size_t n) {
    if (!services_.feeds) return GL_ERR_UNSUPPORTED;
    if (n && !seqs) return GL_ERR_INVALID;
    return feed_status(services_.feeds->done(name_, std::vector<uint64_t>(seqs, seqs + n)), *this);
}

gl_status PluginInstance::api_feed_stats(gl_feed_stats* out) {
    if (!services_.feeds) return GL_ERR_UNSUPPORTED;
    if (!out || out->struct_size < sizeof(uint32_t)) return GL_ERR_INVALID;
    gl_feed_stats s{};
    s.struct_size = sizeof s;
    Status st = services_.feeds->stats(name_, &s);
    if (!st) return feed_status(st, *this);
    // Copy no more than the caller's struct holds (an older plugin's is smaller).
    const uint32_t size = std::min<uint32_t>(out->struct_size, sizeof s);
    std::memcpy(reinterpret_cast<char*>(out) + sizeof(uint32_t), reinterpret_cast<const char*>(&s) + sizeof(uint32_t),
                size - sizeof(uint32_t));
    return GL_OK;
}

gl_status PluginInstance::api_publish(const gl_sample* samples, size_t n) {
    if (n && !samples) return GL_ERR_INVALID;
    Status st;
    if (on_plugin_thread()) {
        st = publisher_->publish_samples(samples, n);
    } else {
        std::lock_guard lock(foreign_mu_);
        st = foreign_publisher_->publish_samples(samples, n);
    }
    if (st) return GL_OK;
    api_set_error(st.message().c_str());
    if (st.code() == StatusCode::unavailable) {
        log_->warn("{}", st.message());
        return GL_ERR_FULL;
    }
    return GL_ERR_INVALID;
}

gl_status PluginInstance::api_subscribe(const char* pattern) {
    if (!pattern) return GL_ERR_INVALID;
    if (!on_plugin_thread()) {
        api_set_error("subscribe must be called on the plugin's thread (in create, start or a callback)");
        return GL_ERR_INVALID;
    }
    std::string p = pattern;
    if (p.rfind("cmd/", 0) == 0) {
        std::string device = p.substr(4);
        if (!device.empty() && device.back() == '/') device.pop_back();
        if (!valid_series_name(device, 1)) {
            api_set_error(("subscribe '" + p + "': command subscriptions name one device: cmd/<device>/").c_str());
            return GL_ERR_INVALID;
        }
        Status st = services_.router.claim(device, name_);
        if (!st) {
            api_set_error(st.message().c_str());
            return GL_ERR_INVALID;
        }
        return GL_OK;
    }
    Status st = subscriber_->subscribe(p);
    if (!st) {
        api_set_error(st.message().c_str());
        return GL_ERR;
    }
    return GL_OK;
}

gl_status PluginInstance::api_add_timer(uint64_t interval_ms, int repeat, uint64_t* out_id) {
    if (!on_plugin_thread()) {
        api_set_error("add_timer must be called on the plugin's thread");
        return GL_ERR_INVALID;
    }
    if (interval_ms == 0 || interval_ms > static_cast<uint64_t>(INT64_MAX / 4)) {
        api_set_error("add_timer: interval must be at least 1 ms");
        return GL_ERR_INVALID;
    }
    uint64_t id = next_timer_id_++;
    timers_[id] = {interval_ms, services_.clock.monotonic_ms() + static_cast<int64_t>(interval_ms), repeat != 0};
    if (out_id) *out_id = id;
    return GL_OK;
}

gl_status PluginInstance::api_cancel_timer(uint64_t id) {
    if (!on_plugin_thread()) return GL_ERR_INVALID;
    return timers_.erase(id) ? GL_OK : GL_ERR_NOT_FOUND;
}

gl_status PluginInstance::api_send_command(const char* target, double value, const char* text, uint32_t timeout_ms,
                                           gl_reply_fn reply, void* user, uint64_t* out_id) {
    if (!on_plugin_thread()) {
        api_set_error("send_command must be called on the plugin's thread");
        return GL_ERR_INVALID;
    }
    if (!target || !reply || !valid_series_name(target, 2)) {
        api_set_error(("send_command: target '" + std::string(target ? target : "") + "' is not device/point").c_str());
        return GL_ERR_INVALID;
    }
    std::string t = target;
    std::string device = t.substr(0, t.find('/'));
    uint64_t id = (static_cast<uint64_t>(index_ + 1) << 40) | ++next_request_;
    if (out_id) *out_id = id;
    bus::EndpointMetrics::add(metrics_.commands_sent);
    auto owner = services_.router.owner(device);
    if (!owner) {
        ready_replies_.push_back({id, GL_ERR_NOT_FOUND,
                                  "no plugin handles commands for device '" + device + "' (none subscribed to cmd/" + device + "/)",
                                  reply, user, t});
        return GL_OK;
    }
    bus::CommandView c;
    c.request_id = id;
    c.value = value;
    c.timeout_ms = timeout_ms;
    c.target = t;
    c.sender = name_;
    c.has_text = text != nullptr;
    if (text) c.text = text;
    Status st = outbox_->send("plugin." + *owner, bus::encode_command("cmd/" + t, c));
    if (!st) {
        ready_replies_.push_back({id, GL_ERR_FULL, st.message(), reply, user, t});
        return GL_OK;
    }
    pending_[id] = {services_.clock.monotonic_ms() + static_cast<int64_t>(timeout_ms), reply, user, t};
    return GL_OK;
}

gl_status PluginInstance::api_reply_command(uint64_t request_id, gl_status status, const char* error) {
    Received r;
    {
        std::lock_guard lock(received_mu_);
        auto it = received_.find(request_id);
        if (it == received_.end()) return GL_ERR_NOT_FOUND;
        r = std::move(it->second);
        received_.erase(it);
    }
    std::string err = status == GL_OK ? "" : (error && *error ? error : status_text(status));
    bus::ReplyView rv{request_id, status, r.target, err};
    Status st = send_to_inbox("plugin." + r.sender, bus::encode_reply("reply/" + r.sender + "/", rv));
    if (!st) {
        api_set_error(st.message().c_str());
        return GL_ERR_FULL;
    }
    return GL_OK;
}

gl_status PluginInstance::api_emit_event(const char* source, const char* type, int32_t severity, const char* body,
                                         size_t len) {
    std::string src = source ? source : name_;
    if (!type || !valid_series_name(type, 1) || !valid_series_name(src, 1)) {
        api_set_error("emit_event: source and type must be names of letters, digits, '_', '-', '.'");
        return GL_ERR_INVALID;
    }
    std::string_view b = body ? std::string_view(body, len) : std::string_view("{}");
    if (!nlohmann::json::accept(b)) {
        api_set_error(("emit_event '" + std::string(type) + "': body is not JSON").c_str());
        return GL_ERR_INVALID;
    }
    bus::EventView ev{services_.clock.now_ms(), severity, src, type, b};
    Status st = publish_frame(bus::encode_event("event/" + src + "/" + type, ev));
    bus::EndpointMetrics::add(metrics_.events_out);
    if (!st) {
        api_set_error(st.message().c_str());
        return GL_ERR_FULL;
    }
    return GL_OK;
}

}  // namespace gridlet::plugin
