// PluginInstance: one configured instance of a plugin, with its own thread.
//
// The kernel constructs it (binding its bus endpoints), then start() spawns
// the thread, which calls create() and start() and then runs the event loop:
// bus messages (on_message), commands and replies from its inbox
// (on_command, reply callbacks), timers (on_timer), command timeouts. A
// callback that returns an error stops this instance only: it is logged with
// the plugin's error text, an event "event/kernel/plugin_failed" is
// published, its command claims are released, and the kernel goes on.
//
// Threads: start(), request_stop(), wait_stopped(), destroy() are called by
// the kernel thread. The api_* methods back the gl_host_api table: each says
// which thread may call it (see plugin.h). metrics() from any thread.
#pragma once

#include <gridlet/plugin.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/series_registry.h"
#include "plugin/command_router.h"
#include "plugin/feed_service.h"
#include "plugin/plugin_library.h"

namespace gridlet::plugin {
class PluginInstance;
struct ConfigCheck;
}

// The opaque handle plugins receive: an instance's, or (validate) a
// configuration check's.
struct gl_host_ctx {
    gridlet::plugin::PluginInstance* instance = nullptr;
    gridlet::plugin::ConfigCheck* check = nullptr;
};

namespace gridlet::plugin {

// What every instance shares; owned by the kernel, outlives the instances.
struct HostServices {
    bus::Bus& bus;
    SeriesRegistry& registry;
    const Clock& clock;
    CommandRouter& router;
    FeedService* feeds = nullptr;  // null: no store, no feeds
    const std::string* site_name = nullptr;
};

// The host table handed to every plugin (static).
const gl_host_api* host_api_table();

// "ok", "invalid", "timeout", ... for logs and replies.
std::string status_text(gl_status s);

enum class InstanceState { created, starting, running, failed, stopped };
const char* instance_state_name(InstanceState s) noexcept;

class PluginInstance {
public:
    // `config` and `devices` are the validated JSON given to the plugin.
    static Expected<std::unique_ptr<PluginInstance>> make(std::string name, std::shared_ptr<PluginLibrary> library,
                                                          nlohmann::json config, nlohmann::json devices,
                                                          HostServices services, uint32_t index);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    // Spawns the thread and waits until create() and start() returned.
    Status start();
    // Asks the thread to call stop() and end; returns at once.
    void request_stop();
    // Waits at most timeout_ms for the thread to end; false if it did not.
    bool wait_stopped(int timeout_ms);
    // Calls destroy() (once the thread has ended) and releases the library.
    void destroy();
    // A failed instance starts again (SIGHUP): its state is destroyed, its
    // subscriptions, timers and pending commands forgotten, then create()
    // and start() run anew with the same configuration and bus endpoints.
    // invalid: it has not failed; unavailable: its thread did not end within
    // timeout_ms; otherwise what start() returns. Kernel thread only.
    Status revive(int timeout_ms);
    // What restart() changes; an empty member keeps what the instance has.
    struct NewSettings {
        std::shared_ptr<PluginLibrary> library;  // the plugin file changed
        std::optional<nlohmann::json> config;    // validated, defaults filled
        std::optional<nlohmann::json> devices;   // array of validated device objects
        // Runs on the kernel thread once the instance has stopped, before it
        // starts again: a component's context may change then.
        std::function<void()> while_stopped;
    };
    // A reload changed this instance (its file, configuration or devices,
    // or for a component what it reads from its context): it stops within
    // timeout_ms, its state is destroyed and what it had asked for forgotten
    // (as revive), then create() and start() run anew with `with` on the
    // same bus endpoints, inbox name and metrics. unavailable: it did not
    // stop in time (it keeps running as it was); otherwise what start()
    // returns. Kernel thread only.
    Status restart(int timeout_ms, NewSettings with = {});
    // Connects this instance's subscriber to every publisher made so far
    // (a plugin added by a reload), on its own thread, and waits for it (at
    // most timeout_ms): what the new publisher sends first reaches it.
    // False if it did not in time. Kernel thread only.
    bool sync_publishers(int timeout_ms);
    // Wakes the event loop (e.g. to connect to publishers made later).
    void wake();

    const std::string& name() const noexcept { return name_; }
    const PluginLibrary& library() const noexcept { return *library_; }
    InstanceState state() const noexcept { return state_.load(std::memory_order_acquire); }
    // Why it failed ("start failed (invalid): ..."); "" unless failed. Any thread.
    std::string failure_text() const;
    bus::EndpointMetrics& metrics() noexcept { return metrics_; }
    std::string inbox_name() const { return "plugin." + name_; }

    // ---- for built-in kernel components (store writer, rule engine), which
    // run as plugin instances but are linked into gridlet ----

    // Hooks into the event loop, all called on the plugin thread. A component
    // sets them in its constructor or start() (on the plugin thread, before
    // the loop runs) through hooks().
    struct ComponentHooks {
        std::function<void()> after_drain;      // after a pass that drained the bus
        std::function<int64_t()> next_due_ms;   // ms until the component wants on_due (-1: never)
        std::function<void()> on_due;           // called every loop pass (cheap when nothing is due)
        int fd = -1;                            // an extra file descriptor to poll
        std::function<void()> on_fd;            // when `fd` is readable
    };
    void set_component(void* context) { component_ = context; }
    void* component() const noexcept { return component_; }
    ComponentHooks& hooks() noexcept { return hooks_; }
    // Runs `task` on the plugin thread soon (any thread may call).
    void post(std::function<void()> task);

    // ---- host services (see plugin.h for threads) ----
    void api_log(gl_log_level level, std::string_view msg);
    void api_set_error(const char* msg);
    std::string_view api_config_json() const noexcept { return config_text_; }
    std::string_view api_devices_json() const noexcept { return devices_text_; }
    gl_status api_config_value(const char* key, const nlohmann::json** out) const;
    gl_status api_register_series(const gl_series_info* info, uint32_t* out_id);
    gl_status api_series_id(const char* name, uint32_t* out);
    gl_status api_series_name(uint32_t id, char* buf, size_t cap);
    gl_status api_publish(const gl_sample* samples, size_t n);
    gl_status api_subscribe(const char* pattern);
    gl_status api_add_timer(uint64_t interval_ms, int repeat, uint64_t* out_id);
    gl_status api_cancel_timer(uint64_t id);
    gl_status api_send_command(const char* target, double value, const char* text, uint32_t timeout_ms,
                               gl_reply_fn reply, void* user, uint64_t* out_id);
    gl_status api_reply_command(uint64_t request_id, gl_status status, const char* error);
    gl_status api_emit_event(const char* source, const char* type, int32_t severity, const char* body, size_t len);
    gl_status api_feed_open(const gl_feed_spec* spec);
    gl_status api_feed_read(uint64_t after, size_t max, gl_feed_item_fn fn, void* user);
    gl_status api_feed_done(const uint64_t* seqs, size_t n);
    gl_status api_feed_stats(gl_feed_stats* out);
    gl_status api_series_unit(uint32_t id, char* buf, size_t cap);
    gl_status api_series_kind(uint32_t id, int32_t* out);
    gl_status api_series_states(uint32_t id, char* buf, size_t cap);
    int64_t api_now_ms() const { return services_.clock.now_ms(); }
    int64_t api_monotonic_ms() const { return services_.clock.monotonic_ms(); }
    const char* api_instance_name() const noexcept { return name_.c_str(); }
    const char* api_site_name() const noexcept { return services_.site_name ? services_.site_name->c_str() : ""; }
    bool api_stopping() const noexcept { return stop_requested_.load(std::memory_order_acquire); }

private:
    PluginInstance(std::string name, std::shared_ptr<PluginLibrary> library, HostServices services, uint32_t index);

    struct Timer {
        uint64_t interval_ms;
        int64_t due_ms;  // monotonic
        bool repeat;
    };
    struct Pending {  // a command this instance sent
        int64_t deadline_ms;
        gl_reply_fn fn;
        void* user;
        std::string target;
    };
    struct Received {  // a command this instance must answer
        std::string sender;
        std::string target;
    };
    struct ReadyReply {
        uint64_t request_id;
        gl_status status;
        std::string error;
        gl_reply_fn fn;
        void* user;
        std::string target;
    };

    void thread_main(std::promise<Status> started);
    void event_loop();
    int poll_timeout_ms(int64_t now) const;
    void dispatch(bus::Delivery& d);
    void dispatch_command(const bus::CommandView& c);
    void dispatch_reply(const bus::ReplyView& r);
    void run_timers(int64_t now);
    void expire_commands(int64_t now);
    void run_ready_replies();
    // Reports a failed callback and marks the instance failed.
    void fail(const char* callback, gl_status status);
    void fail(const char* callback, gl_status status, const std::string& why);
    bool on_plugin_thread() const noexcept { return std::this_thread::get_id() == thread_id_; }
    Status send_to_inbox(const std::string& inbox, std::string_view frame);
    Status publish_frame(std::string_view frame);
    std::string take_error();
    // The thread has ended: destroys the plugin's state and forgets what it
    // asked for, ready for start() again (revive, restart).
    void forget_run();

    std::string name_;
    std::shared_ptr<PluginLibrary> library_;
    const gl_plugin_descriptor* desc_;  // library_'s (restart may change both)
    HostServices services_;
    uint32_t index_;
    gl_host_ctx ctx_{this};
    void* plugin_state_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
    bool registered_logger_ = false;

    nlohmann::json config_;
    std::string config_text_;
    std::string devices_text_;

    std::atomic<InstanceState> state_{InstanceState::created};
    std::atomic<bool> stop_requested_{false};
    bool created_ = false;
    bool started_ = false;
    int wake_fd_ = -1;
    std::thread thread_;
    std::thread::id thread_id_;
    std::future<void> exited_;

    bus::EndpointMetrics metrics_;
    std::unique_ptr<bus::Publisher> publisher_;   // plugin thread
    std::unique_ptr<bus::Subscriber> subscriber_; // plugin thread
    std::unique_ptr<bus::Inbox> inbox_;           // plugin thread
    std::unique_ptr<bus::Outbox> outbox_;         // plugin thread
    std::mutex foreign_mu_;                       // guards the two below
    std::unique_ptr<bus::Publisher> foreign_publisher_;
    std::unique_ptr<bus::Outbox> foreign_outbox_;

    std::map<uint64_t, Timer> timers_;
    uint64_t next_timer_id_ = 1;
    std::unordered_map<uint64_t, Pending> pending_;
    uint64_t next_request_ = 0;
    std::vector<ReadyReply> ready_replies_;
    std::mutex received_mu_;
    std::unordered_map<uint64_t, Received> received_;

    mutable std::mutex error_mu_;
    std::string error_text_;
    std::string failure_;  // why it failed (state failed); under error_mu_
    void* component_ = nullptr;
    ComponentHooks hooks_;
    std::mutex tasks_mu_;
    std::vector<std::function<void()>> tasks_;
};

}  // namespace gridlet::plugin
