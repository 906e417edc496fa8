// The gl_host_api table: C functions that forward to the PluginInstance
// behind each gl_host_ctx. Nothing here throws: every C++ exception is
// turned into a status before it can reach the plugin.
#include <cstring>

#include "plugin/plugin_instance.h"

namespace gridlet::plugin {

namespace {

PluginInstance* self(gl_host_ctx* ctx) { return ctx ? ctx->instance : nullptr; }
ConfigCheck* checking(gl_host_ctx* ctx) { return ctx ? ctx->check : nullptr; }

// A config value for an instance or for a configuration check.
gl_status config_value(gl_host_ctx* ctx, const char* key, const nlohmann::json** out) {
    if (ConfigCheck* c = checking(ctx)) {
        if (!key) return GL_ERR_INVALID;
        auto it = c->config.find(key);
        if (it == c->config.end()) return GL_ERR_NOT_FOUND;
        *out = &*it;
        return GL_OK;
    }
    PluginInstance* p = self(ctx);
    return p ? p->api_config_value(key, out) : GL_ERR_INVALID;
}

template <class F>
gl_status config_guard(gl_host_ctx* /*ctx*/, F&& f) noexcept {
    try {
        return f();
    } catch (...) {
        return GL_ERR;
    }
}

template <class F>
gl_status guard(gl_host_ctx* ctx, F&& f) noexcept {
    PluginInstance* p = self(ctx);
    if (!p) return GL_ERR_INVALID;
    try {
        return f(*p);
    } catch (const std::exception& e) {
        p->api_set_error(e.what());
        return GL_ERR;
    } catch (...) {
        return GL_ERR;
    }
}

void h_log(gl_host_ctx* ctx, gl_log_level level, const char* msg, size_t len) {
    if (ConfigCheck* c = checking(ctx)) {
        try {
            if (level >= GL_LOG_ERROR && msg) c->problems.push_back({"", std::string(msg, len)});
            if (level == GL_LOG_WARN && msg) c->warnings.push_back({"", std::string(msg, len)});
        } catch (...) {
        }
        return;
    }
    (void)guard(ctx, [&](PluginInstance& p) {
        p.api_log(level, msg ? std::string_view(msg, len) : std::string_view());
        return GL_OK;
    });
}
void h_set_error(gl_host_ctx* ctx, const char* msg) {
    if (ConfigCheck* c = checking(ctx)) {
        try {
            if (msg) c->problems.push_back({"", msg});
        } catch (...) {
        }
        return;
    }
    (void)guard(ctx, [&](PluginInstance& p) {
        p.api_set_error(msg);
        return GL_OK;
    });
}
const char* h_config_json(gl_host_ctx* ctx, size_t* len) {
    if (ConfigCheck* c = checking(ctx)) {
        if (len) *len = c->config_text.size();
        return c->config_text.c_str();
    }
    PluginInstance* p = self(ctx);
    if (!p) return "";
    if (len) *len = p->api_config_json().size();
    return p->api_config_json().data();
}
const char* h_devices_json(gl_host_ctx* ctx, size_t* len) {
    if (ConfigCheck* c = checking(ctx)) {
        if (len) *len = c->devices_text.size();
        return c->devices_text.c_str();
    }
    PluginInstance* p = self(ctx);
    if (!p) return "";
    if (len) *len = p->api_devices_json().size();
    return p->api_devices_json().data();
}
gl_status h_config_string(gl_host_ctx* ctx, const char* key, const char** out) {
    return config_guard(ctx, [&] {
        const nlohmann::json* v = nullptr;
        gl_status st = config_value(ctx, key, &v);
        if (st != GL_OK) return st;
        if (!v->is_string()) return GL_ERR_TYPE;
        *out = v->get_ref<const std::string&>().c_str();
        return GL_OK;
    });
}
gl_status h_config_int(gl_host_ctx* ctx, const char* key, int64_t* out) {
    return config_guard(ctx, [&] {
        const nlohmann::json* v = nullptr;
        gl_status st = config_value(ctx, key, &v);
        if (st != GL_OK) return st;
        if (!v->is_number_integer()) return GL_ERR_TYPE;
        *out = v->get<int64_t>();
        return GL_OK;
    });
}
gl_status h_config_double(gl_host_ctx* ctx, const char* key, double* out) {
    return config_guard(ctx, [&] {
        const nlohmann::json* v = nullptr;
        gl_status st = config_value(ctx, key, &v);
        if (st != GL_OK) return st;
        if (!v->is_number()) return GL_ERR_TYPE;
        *out = v->get<double>();
        return GL_OK;
    });
}
gl_status h_config_bool(gl_host_ctx* ctx, const char* key, int* out) {
    return config_guard(ctx, [&] {
        const nlohmann::json* v = nullptr;
        gl_status st = config_value(ctx, key, &v);
        if (st != GL_OK) return st;
        if (!v->is_boolean()) return GL_ERR_TYPE;
        *out = v->get<bool>() ? 1 : 0;
        return GL_OK;
    });
}
gl_status h_register_series(gl_host_ctx* ctx, const gl_series_info* info, uint32_t* out) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_register_series(info, out); });
}
gl_status h_series_id(gl_host_ctx* ctx, const char* name, uint32_t* out) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_series_id(name, out); });
}
gl_status h_series_name(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_series_name(id, buf, cap); });
}
gl_status h_publish(gl_host_ctx* ctx, const gl_sample* s, size_t n) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_publish(s, n); });
}
gl_status h_subscribe(gl_host_ctx* ctx, const char* pattern) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_subscribe(pattern); });
}
gl_status h_add_timer(gl_host_ctx* ctx, uint64_t interval_ms, int repeat, uint64_t* out) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_add_timer(interval_ms, repeat, out); });
}
gl_status h_cancel_timer(gl_host_ctx* ctx, uint64_t id) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_cancel_timer(id); });
}
gl_status h_send_command(gl_host_ctx* ctx, const char* target, double value, const char* text, uint32_t timeout_ms,
                         gl_reply_fn reply, void* user, uint64_t* out) {
    return guard(ctx, [&](PluginInstance& p) {
        return p.api_send_command(target, value, text, timeout_ms, reply, user, out);
    });
}
gl_status h_reply_command(gl_host_ctx* ctx, uint64_t id, gl_status status, const char* error) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_reply_command(id, status, error); });
}
gl_status h_emit_event(gl_host_ctx* ctx, const char* source, const char* type, int32_t severity, const char* body,
                       size_t len) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_emit_event(source, type, severity, body, len); });
}
int64_t h_now_ms(gl_host_ctx* ctx) {
    PluginInstance* p = self(ctx);
    return p ? p->api_now_ms() : 0;
}
int64_t h_monotonic_ms(gl_host_ctx* ctx) {
    PluginInstance* p = self(ctx);
    return p ? p->api_monotonic_ms() : 0;
}
gl_status h_feed_open(gl_host_ctx* ctx, const gl_feed_spec* spec) {
    // In validate(): whether the site can keep a feed, with no effect.
    if (ConfigCheck* c = checking(ctx)) return c->has_store ? GL_OK : GL_ERR_UNSUPPORTED;
    return guard(ctx, [&](PluginInstance& p) { return p.api_feed_open(spec); });
}
gl_status h_feed_read(gl_host_ctx* ctx, uint64_t after, size_t max, gl_feed_item_fn fn, void* user) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_feed_read(after, max, fn, user); });
}
gl_status h_feed_done(gl_host_ctx* ctx, const uint64_t* seqs, size_t n) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_feed_done(seqs, n); });
}
gl_status h_feed_stats(gl_host_ctx* ctx, gl_feed_stats* out) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_feed_stats(out); });
}
gl_status h_series_unit(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_series_unit(id, buf, cap); });
}
gl_status h_series_kind(gl_host_ctx* ctx, uint32_t id, int32_t* out) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_series_kind(id, out); });
}
gl_status h_series_states(gl_host_ctx* ctx, uint32_t id, char* buf, size_t cap) {
    return guard(ctx, [&](PluginInstance& p) { return p.api_series_states(id, buf, cap); });
}
const char* h_site_name(gl_host_ctx* ctx) {
    PluginInstance* p = self(ctx);
    return p ? p->api_site_name() : "";
}
void h_config_problem(gl_host_ctx* ctx, const char* device, const char* msg) {
    try {
        if (ConfigCheck* c = checking(ctx)) {
            c->problems.push_back({device ? device : "", msg ? msg : "(no message)"});
            return;
        }
        // During create(): an instance reports it as an error of the plugin.
        if (PluginInstance* p = self(ctx))
            p->api_log(GL_LOG_ERROR, (device ? "device '" + std::string(device) + "': " : std::string()) + (msg ? msg : ""));
    } catch (...) {
    }
}
const char* h_instance_name(gl_host_ctx* ctx) {
    if (ConfigCheck* c = checking(ctx)) return c->name.c_str();
    PluginInstance* p = self(ctx);
    return p ? p->api_instance_name() : "";
}
int h_stopping(gl_host_ctx* ctx) {
    PluginInstance* p = self(ctx);
    return p ? (p->api_stopping() ? 1 : 0) : 1;
}

const gl_host_api kTable = [] {
    gl_host_api t{};
    t.struct_size = sizeof t;
    t.abi_major = GL_ABI_MAJOR;
    t.abi_minor = GL_ABI_MINOR;
    t.log = h_log;
    t.set_error = h_set_error;
    t.config_json = h_config_json;
    t.config_string = h_config_string;
    t.config_int = h_config_int;
    t.config_double = h_config_double;
    t.config_bool = h_config_bool;
    t.devices_json = h_devices_json;
    t.register_series = h_register_series;
    t.series_id = h_series_id;
    t.series_name = h_series_name;
    t.publish = h_publish;
    t.subscribe = h_subscribe;
    t.add_timer = h_add_timer;
    t.cancel_timer = h_cancel_timer;
    t.send_command = h_send_command;
    t.reply_command = h_reply_command;
    t.emit_event = h_emit_event;
    t.now_ms = h_now_ms;
    t.monotonic_ms = h_monotonic_ms;
    t.instance_name = h_instance_name;
    t.stopping = h_stopping;
    t.config_problem = h_config_problem;
    t.feed_open = h_feed_open;
    t.feed_read = h_feed_read;
    t.feed_done = h_feed_done;
    t.feed_stats = h_feed_stats;
    t.series_unit = h_series_unit;
    t.site_name = h_site_name;
    t.series_kind = h_series_kind;
    t.series_states = h_series_states;
    return t;
}();

}  // namespace

const gl_host_api* host_api_table() { return &kTable; }

}  // namespace gridlet::plugin
