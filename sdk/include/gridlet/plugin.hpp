// gridlet C++ plugin wrapper: header-only, C++17, on top of plugin.h.
//
// Write a class derived from gridlet::Plugin and end the file with
// GRIDLET_PLUGIN(MyPlugin). The class declares, as static members:
//
//   static constexpr gridlet::PluginInfo info{"name", "1.0.0", GL_KIND_DRIVER, "one line"};
//   static constexpr gl_config_key config_schema[] = {...};   // optional
//   static constexpr gl_config_key device_schema[] = {...};   // optional
//
// and a constructor taking gridlet::Host. Every exception thrown by the
// class is caught at the ABI boundary, reported through host.set_error and
// turned into GL_ERR (the kernel then stops this plugin, and only it).
//
// Threads: the constructor, start, stop and the on_* methods run on the
// plugin's own thread; the destructor runs on the kernel's thread. Host
// methods follow plugin.h: [any thread] or [plugin thread].
#ifndef GRIDLET_PLUGIN_HPP
#define GRIDLET_PLUGIN_HPP

#include <gridlet/plugin.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace gridlet {

// An error with a gl_status, thrown by Host methods and by plugin code.
class Error : public std::runtime_error {
public:
    Error(gl_status status, const std::string& what) : std::runtime_error(what), status_(status) {}
    gl_status status() const noexcept { return status_; }

private:
    gl_status status_;
};

struct PluginInfo {
    const char* name;
    const char* version;
    gl_plugin_kind kind;
    const char* description;
};

struct SeriesSpec {
    SeriesSpec() = default;
    SeriesSpec(std::string name_, std::string unit_ = {}, gl_series_kind kind_ = GL_SERIES_GAUGE)
        : name(std::move(name_)), unit(std::move(unit_)), kind(kind_) {}

    std::string name;              // "device/point"
    std::string unit;              // may be empty
    gl_series_kind kind = GL_SERIES_GAUGE;
    std::string description;
    std::string tags;              // "k=v,k=v"
    std::string states;            // "0=off,1=on" for GL_SERIES_STATE
};

struct CommandReply {
    uint64_t request_id;
    gl_status status;
    std::string error;
    std::string target;
};

// The host's services for one plugin instance. Cheap to copy (two pointers).
class Host {
public:
    Host(const gl_host_api* api, gl_host_ctx* ctx) : api_(api), ctx_(ctx) {}

    const gl_host_api* api() const noexcept { return api_; }
    gl_host_ctx* ctx() const noexcept { return ctx_; }

    void log(gl_log_level level, std::string_view msg) const { api_->log(ctx_, level, msg.data(), msg.size()); }
    void debug(std::string_view m) const { log(GL_LOG_DEBUG, m); }
    void info(std::string_view m) const { log(GL_LOG_INFO, m); }
    void warn(std::string_view m) const { log(GL_LOG_WARN, m); }
    void error(std::string_view m) const { log(GL_LOG_ERROR, m); }

    std::string name() const { return api_->instance_name(ctx_); }
    bool stopping() const { return api_->stopping(ctx_) != 0; }
    int64_t now_ms() const { return api_->now_ms(ctx_); }
    int64_t monotonic_ms() const { return api_->monotonic_ms(ctx_); }

    // Reports a configuration problem (validate and create): about device
    // `device`, or the plugin's own config when it is empty. ABI 1.1 hosts;
    // on an older host it is logged as an error.
    void config_problem(std::string_view device, std::string_view msg) const {
        std::string d(device), m(msg);
        if (GL_HAS_FIELD(api_, gl_host_api, config_problem) && api_->config_problem)
            api_->config_problem(ctx_, d.empty() ? nullptr : d.c_str(), m.c_str());
        else
            error((d.empty() ? "" : "device '" + d + "': ") + m);
    }

    std::string config_json() const {
        size_t len = 0;
        const char* p = api_->config_json(ctx_, &len);
        return std::string(p, len);
    }
    std::string devices_json() const {
        size_t len = 0;
        const char* p = api_->devices_json(ctx_, &len);
        return std::string(p, len);
    }
    std::string config_string(const char* key) const {
        const char* s = nullptr;
        check(api_->config_string(ctx_, key, &s), "config key", key);
        return s;
    }
    int64_t config_int(const char* key) const {
        int64_t v = 0;
        check(api_->config_int(ctx_, key, &v), "config key", key);
        return v;
    }
    double config_double(const char* key) const {
        double v = 0;
        check(api_->config_double(ctx_, key, &v), "config key", key);
        return v;
    }
    bool config_bool(const char* key) const {
        int v = 0;
        check(api_->config_bool(ctx_, key, &v), "config key", key);
        return v != 0;
    }

    uint32_t register_series(const SeriesSpec& s) const {
        gl_series_info info{};
        info.struct_size = sizeof info;
        info.name = s.name.c_str();
        info.unit = s.unit.empty() ? nullptr : s.unit.c_str();
        info.kind = s.kind;
        info.description = s.description.empty() ? nullptr : s.description.c_str();
        info.tags = s.tags.empty() ? nullptr : s.tags.c_str();
        info.states = s.states.empty() ? nullptr : s.states.c_str();
        uint32_t id = 0;
        check(api_->register_series(ctx_, &info, &id), "register series", s.name.c_str());
        return id;
    }

    // Returns GL_OK or GL_ERR_FULL (counted drop); never throws for a full bus.
    gl_status publish(const gl_sample* samples, size_t n) const { return api_->publish(ctx_, samples, n); }

    void subscribe(const char* pattern) const { check(api_->subscribe(ctx_, pattern), "subscribe", pattern); }

    uint64_t add_timer(uint64_t interval_ms, bool repeat) const {
        uint64_t id = 0;
        check(api_->add_timer(ctx_, interval_ms, repeat ? 1 : 0, &id), "add timer", "");
        return id;
    }
    void cancel_timer(uint64_t id) const { api_->cancel_timer(ctx_, id); }

    // `done` runs on this plugin's thread exactly once.
    uint64_t send_command(const std::string& target, double value, uint32_t timeout_ms,
                          std::function<void(const CommandReply&)> done, const char* text = nullptr) const {
        auto* fn = new std::function<void(const CommandReply&)>(std::move(done));
        uint64_t id = 0;
        gl_status st = api_->send_command(ctx_, target.c_str(), value, text, timeout_ms, &Host::reply_trampoline, fn, &id);
        if (st != GL_OK) {
            delete fn;
            check(st, "send command to", target.c_str());
        }
        return id;
    }

    gl_status reply_command(uint64_t request_id, gl_status status, const std::string& error = {}) const {
        return api_->reply_command(ctx_, request_id, status, error.c_str());
    }

    gl_status emit_event(const std::string& type, gl_severity severity, const std::string& body_json = "{}",
                         const char* source = nullptr) const {
        return api_->emit_event(ctx_, source, type.c_str(), severity, body_json.data(), body_json.size());
    }

private:
    void check(gl_status st, const char* what, const char* arg) const {
        if (st == GL_OK) return;
        throw Error(st, std::string(what) + " '" + arg + "' failed (status " + std::to_string(st) + ")");
    }

    static void reply_trampoline(void* user, const gl_command_reply* r) {
        auto* fn = static_cast<std::function<void(const CommandReply&)>*>(user);
        try {
            (*fn)(CommandReply{r->request_id, r->status, r->error ? r->error : "", r->target ? r->target : ""});
        } catch (...) {
            // A reply handler must not throw; the host cannot stop the plugin from here.
        }
        delete fn;
    }

    const gl_host_api* api_;
    gl_host_ctx* ctx_;
};

// Base class of a C++ plugin. Override what you need.
class Plugin {
public:
    explicit Plugin(Host host) : host_(host) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    virtual void start() {}
    virtual void stop() {}
    virtual void on_samples(const char* /*topic*/, const gl_sample* /*samples*/, size_t /*n*/) {}
    virtual void on_event(const char* /*topic*/, const gl_event& /*event*/) {}
    // Default: refuse. A driver answers with host().reply_command(...) now or later.
    virtual void on_command(const gl_command& cmd) {
        host_.reply_command(cmd.request_id, GL_ERR_UNSUPPORTED, "plugin does not handle commands");
    }
    virtual void on_timer(uint64_t /*timer_id*/) {}

    const Host& host() const noexcept { return host_; }

private:
    Host host_;
};

namespace detail {

template <class T, class = void>
struct has_config_schema : std::false_type {};
template <class T>
struct has_config_schema<T, std::void_t<decltype(T::config_schema)>> : std::true_type {};
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(T::validate(std::declval<const Host&>()))>> : std::true_type {};
template <class T, class = void>
struct has_device_schema : std::false_type {};
template <class T>
struct has_device_schema<T, std::void_t<decltype(T::device_schema)>> : std::true_type {};

struct Instance {
    gl_host_ctx* ctx;
    const gl_host_api* api;
    Plugin* plugin;
};

template <class F>
inline gl_status guarded(const gl_host_api* api, gl_host_ctx* ctx, F&& f) noexcept {
    try {
        f();
        return GL_OK;
    } catch (const Error& e) {
        api->set_error(ctx, e.what());
        return e.status() == GL_OK ? GL_ERR : e.status();
    } catch (const std::exception& e) {
        api->set_error(ctx, e.what());
        return GL_ERR;
    } catch (...) {
        api->set_error(ctx, "unknown exception");
        return GL_ERR;
    }
}

template <class T>
struct Adapter {
    static inline const gl_host_api* host = nullptr;

    static gl_status create(gl_host_ctx* ctx, void** out) {
        auto* inst = new (std::nothrow) Instance{ctx, host, nullptr};
        if (!inst) return GL_ERR;
        gl_status st = guarded(host, ctx, [&] { inst->plugin = new T(Host(host, ctx)); });
        if (st != GL_OK) {
            delete inst;
            return st;
        }
        *out = inst;
        return GL_OK;
    }
    static gl_status start(void* s) {
        auto* i = static_cast<Instance*>(s);
        return guarded(i->api, i->ctx, [&] { i->plugin->start(); });
    }
    static void stop(void* s) {
        auto* i = static_cast<Instance*>(s);
        (void)guarded(i->api, i->ctx, [&] { i->plugin->stop(); });
    }
    static void destroy(void* s) {
        auto* i = static_cast<Instance*>(s);
        (void)guarded(i->api, i->ctx, [&] { delete i->plugin; });
        delete i;
    }
    static gl_status on_message(void* s, const gl_message* m) {
        auto* i = static_cast<Instance*>(s);
        return guarded(i->api, i->ctx, [&] {
            if (m->type == GL_MSG_SAMPLES)
                i->plugin->on_samples(m->topic, m->samples, m->sample_count);
            else if (m->type == GL_MSG_EVENT && m->event)
                i->plugin->on_event(m->topic, *m->event);
        });
    }
    static gl_status on_command(void* s, const gl_command* c) {
        auto* i = static_cast<Instance*>(s);
        return guarded(i->api, i->ctx, [&] { i->plugin->on_command(*c); });
    }
    static gl_status on_timer(void* s, uint64_t id) {
        auto* i = static_cast<Instance*>(s);
        return guarded(i->api, i->ctx, [&] { i->plugin->on_timer(id); });
    }
    static gl_status validate(gl_host_ctx* ctx) {
        if constexpr (has_validate<T>::value) return guarded(host, ctx, [&] { T::validate(Host(host, ctx)); });
        return GL_OK;
    }

    static const gl_plugin_descriptor* descriptor() {
        static gl_plugin_descriptor d = [] {
            gl_plugin_descriptor x{};
            x.struct_size = sizeof x;
            x.abi_major = GL_ABI_MAJOR;
            x.abi_minor = GL_ABI_MINOR;
            x.name = T::info.name;
            x.version = T::info.version;
            x.kind = T::info.kind;
            x.description = T::info.description;
            if constexpr (has_config_schema<T>::value) {
                x.config_schema = T::config_schema;
                x.config_schema_len = sizeof(T::config_schema) / sizeof(T::config_schema[0]);
            }
            if constexpr (has_device_schema<T>::value) {
                x.device_schema = T::device_schema;
                x.device_schema_len = sizeof(T::device_schema) / sizeof(T::device_schema[0]);
            }
            x.create = &create;
            x.start = &start;
            x.stop = &stop;
            x.destroy = &destroy;
            x.on_message = &on_message;
            x.on_command = &on_command;
            x.on_timer = &on_timer;
            if constexpr (has_validate<T>::value) x.validate = &validate;
            return x;
        }();
        return &d;
    }

    static const gl_plugin_descriptor* entry(const gl_host_api* h) {
        if (!h || h->abi_major != GL_ABI_MAJOR) return nullptr;
        host = h;
        return descriptor();
    }
};

}  // namespace detail
}  // namespace gridlet

// Exports the entry point for plugin class T. Use once per shared library.
#define GRIDLET_PLUGIN(T)                                                                       \
    extern "C" GL_EXPORT const gl_plugin_descriptor* gridlet_plugin_entry(const gl_host_api* h) { \
        return ::gridlet::detail::Adapter<T>::entry(h);                                         \
    }

#endif  // GRIDLET_PLUGIN_HPP
