#include "plugin/plugin_instance.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/pattern.h"

namespace gridlet::plugin {

const char* instance_state_name(InstanceState s) noexcept {
    switch (s) {
        case InstanceState::created: return "created";
        case InstanceState::starting: return "starting";
        case InstanceState::running: return "running";
        case InstanceState::failed: return "failed";
        case InstanceState::stopped: return "stopped";
    }
    return "?";
}

namespace {
constexpr int kMaxPollMs = 1000;        // re-check for new publishers at least this often
constexpr int kDrainPerPass = 1024;     // messages per socket before timers get a turn
}  // namespace

std::string status_text(gl_status s) {
    switch (s) {
        case GL_OK: return "ok";
        case GL_ERR: return "error";
        case GL_ERR_INVALID: return "invalid";
        case GL_ERR_NOT_FOUND: return "not found";
        case GL_ERR_TIMEOUT: return "timeout";
        case GL_ERR_FULL: return "full";
        case GL_ERR_UNSUPPORTED: return "unsupported";
        case GL_ERR_STOPPED: return "stopped";
        case GL_ERR_TYPE: return "wrong type";
    }
    return "status " + std::to_string(s);
}

PluginInstance::PluginInstance(std::string name, std::shared_ptr<PluginLibrary> library, HostServices services,
                               uint32_t index)
    : name_(std::move(name)), library_(std::move(library)), desc_(&library_->descriptor()), services_(services),
      index_(index) {
    // Same sinks, level and pattern as the kernel's logger; tagged with the instance name.
    log_ = spdlog::default_logger()->clone(name_);
    // Registered, so that a reload's level and pattern reach it too.
    try {
        spdlog::register_logger(log_);
        registered_logger_ = true;
    } catch (const spdlog::spdlog_ex&) {
        // A logger of that name exists (e.g. an instance named "gridlet"): keep it private.
    }
}

Expected<std::unique_ptr<PluginInstance>> PluginInstance::make(std::string name, std::shared_ptr<PluginLibrary> library,
                                                               nlohmann::json config, nlohmann::json devices,
                                                               HostServices services, uint32_t index) {
    std::unique_ptr<PluginInstance> p(new PluginInstance(std::move(name), std::move(library), services, index));
    p->config_ = std::move(config);
    p->config_text_ = p->config_.dump();
    p->devices_text_ = devices.dump();
    p->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd_ < 0) return Status::io_error("plugin '" + p->name_ + "': eventfd: " + std::strerror(errno));
    bus::Bus& bus = services.bus;
    auto pub = bus.make_publisher(&p->metrics_);
    if (!pub) return pub.status();
    auto fpub = bus.make_publisher(&p->metrics_);
    if (!fpub) return fpub.status();
    auto sub = bus.make_subscriber(&p->metrics_);
    if (!sub) return sub.status();
    auto inbox = bus.make_inbox(p->inbox_name(), &p->metrics_);
    if (!inbox) return inbox.status();
    p->publisher_ = std::move(*pub);
    p->foreign_publisher_ = std::move(*fpub);
    p->subscriber_ = std::move(*sub);
    p->inbox_ = std::move(*inbox);
    p->outbox_ = bus.make_outbox(&p->metrics_);
    p->foreign_outbox_ = bus.make_outbox(&p->metrics_);
    // Own reply topic (replies come to the inbox; this keeps the name reserved).
    return p;
}

PluginInstance::~PluginInstance() {
    if (thread_.joinable()) {
        request_stop();
        if (exited_.valid() && exited_.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
            thread_.join();
        else
            thread_.detach();  // stuck plugin: the process is ending anyway
    }
    if (wake_fd_ >= 0) close(wake_fd_);
    if (registered_logger_) spdlog::drop(name_);
}

// ------------------------------------------------------------ lifecycle

Status PluginInstance::start() {
    std::promise<Status> started;
    std::future<Status> result = started.get_future();
    std::promise<void> exited;
    exited_ = exited.get_future();
    state_.store(InstanceState::starting, std::memory_order_release);
    // Connect to every publisher made so far before the thread runs: what a
    // plugin started after this one publishes from its start() (a rule's
    // load-time event) must reach this one's subscriptions, not race its
    // first poll. The thread has not started, so this thread owns the socket.
    subscriber_->sync_endpoints();
    thread_ = std::thread([this, started = std::move(started), exited = std::move(exited)]() mutable {
        thread_main(std::move(started));
        exited.set_value();
    });
    return result.get();
}

void PluginInstance::thread_main(std::promise<Status> started) {
    thread_id_ = std::this_thread::get_id();
    gl_status st = desc_->create(&ctx_, &plugin_state_);
    if (st != GL_OK) {
        std::string why = take_error();
        fail("create", st, why);
        started.set_value(Status::invalid("plugin '" + name_ + "' (" + library_->path() + "): create failed: " + why));
        return;
    }
    created_ = true;
    if (desc_->start) {
        st = desc_->start(plugin_state_);
        if (st != GL_OK) {
            std::string why = take_error();
            fail("start", st, why);
            started.set_value(Status::invalid("plugin '" + name_ + "' (" + library_->path() + "): start failed: " + why));
            return;
        }
    }
    started_ = true;
    state_.store(InstanceState::running, std::memory_order_release);
    started.set_value(Status::ok());
    event_loop();
    if (desc_->stop) desc_->stop(plugin_state_);
    // Commands still waiting for this plugin's answer get one.
    std::unordered_map<uint64_t, Received> left;
    {
        std::lock_guard lock(received_mu_);
        left.swap(received_);
    }
    for (auto& [id, r] : left) {
        bus::ReplyView rv{id, GL_ERR_STOPPED, r.target, "plugin '" + name_ + "' stopped before answering"};
        std::string err(rv.error);
        rv.error = err;
        (void)send_to_inbox("plugin." + r.sender, bus::encode_reply("reply/" + r.sender + "/", rv));
    }
    if (state_.load() != InstanceState::failed) state_.store(InstanceState::stopped, std::memory_order_release);
}

Status PluginInstance::revive(int timeout_ms) {
    if (state() != InstanceState::failed) return Status::invalid("plugin '" + name_ + "' has not failed");
    if (!wait_stopped(timeout_ms))
        return Status::unavailable("plugin '" + name_ + "' failed but its thread has not ended");
    forget_run();
    log_->info("plugin '{}' is started again (reload)", name_);
    return start();
}

Status PluginInstance::restart(int timeout_ms, NewSettings with) {
    request_stop();
    if (!wait_stopped(timeout_ms))
        return Status::unavailable("plugin '" + name_ + "' did not stop within " + std::to_string(timeout_ms) +
                                   " ms; it keeps running with its old configuration");
    forget_run();
    if (with.library) {
        library_ = std::move(with.library);
        desc_ = &library_->descriptor();
    }
    if (with.config) {
        config_ = std::move(*with.config);
        config_text_ = config_.dump();
    }
    if (with.devices) devices_text_ = with.devices->dump();
    if (with.while_stopped) with.while_stopped();
    return start();
}

void PluginInstance::forget_run() {
    destroy();
    // What the last run had asked for goes with it (its devices' command
    // claims too: a device it no longer drives is free); the bus endpoints,
    // the configuration and the metrics stay.
    services_.router.release_all(name_);
    subscriber_->unsubscribe_all();
    timers_.clear();
    pending_.clear();
    ready_replies_.clear();
    {
        std::lock_guard lock(received_mu_);
        received_.clear();
    }
    {
        std::lock_guard lock(tasks_mu_);
        tasks_.clear();
    }
    {
        std::lock_guard lock(error_mu_);
        error_text_.clear();
        failure_.clear();
    }
    hooks_ = ComponentHooks{};
    started_ = false;
    stop_requested_.store(false, std::memory_order_release);
}

bool PluginInstance::sync_publishers(int timeout_ms) {
    if (!thread_.joinable() || state() != InstanceState::running) {
        if (!thread_.joinable()) subscriber_->sync_endpoints();  // no thread: this one owns the socket
        return true;
    }
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> synced = done->get_future();
    post([this, done] {
        subscriber_->sync_endpoints();
        done->set_value();
    });
    return synced.wait_for(std::chrono::milliseconds(timeout_ms)) == std::future_status::ready;
}

void PluginInstance::request_stop() {
    stop_requested_.store(true, std::memory_order_release);
    wake();
}

void PluginInstance::wake() {
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
}

bool PluginInstance::wait_stopped(int timeout_ms) {
    if (!thread_.joinable()) return true;
    if (exited_.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return false;
    thread_.join();
    return true;
}

void PluginInstance::destroy() {
    if (thread_.joinable()) return;  // still running: never free under its feet
    if (created_ && desc_->destroy) desc_->destroy(plugin_state_);
    created_ = false;
    plugin_state_ = nullptr;
}

std::string PluginInstance::failure_text() const {
    std::lock_guard lock(error_mu_);
    return failure_;
}

std::string PluginInstance::take_error() {
    std::lock_guard lock(error_mu_);
    std::string e = error_text_.empty() ? std::string("no error text given") : error_text_;
    error_text_.clear();
    return e;
}

void PluginInstance::fail(const char* callback, gl_status status) { fail(callback, status, take_error()); }

void PluginInstance::fail(const char* callback, gl_status status, const std::string& why) {
    bus::EndpointMetrics::add(metrics_.callback_errors);
    log_->error("{} failed ({}): {}; plugin '{}' is stopped, the others go on", callback, status_text(status), why, name_);
    {
        std::lock_guard lock(error_mu_);
        failure_ = std::string(callback) + " failed (" + status_text(status) + "): " + why;
    }
    state_.store(InstanceState::failed, std::memory_order_release);
    services_.router.release_all(name_);
    // Read nothing more: a queue left to fill would hold up every publisher.
    if (subscriber_) subscriber_->unsubscribe_all();
    nlohmann::json body = {{"plugin", name_}, {"file", library_->path()}, {"callback", callback},
                           {"status", status}, {"error", why}};
    std::string b = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    bus::EventView ev{services_.clock.now_ms(), GL_SEV_ERROR, "kernel", "plugin_failed", b};
    (void)publish_frame(bus::encode_event("event/kernel/plugin_failed", ev));
}

// ----------------------------------------------------------- event loop

void PluginInstance::post(std::function<void()> task) {
    {
        std::lock_guard lock(tasks_mu_);
        tasks_.push_back(std::move(task));
    }
    wake();
}

int PluginInstance::poll_timeout_ms(int64_t now) const {
    if (!ready_replies_.empty()) return 0;
    int64_t next = now + kMaxPollMs;
    if (hooks_.next_due_ms) {
        int64_t in = hooks_.next_due_ms();
        if (in >= 0) next = std::min(next, now + in);
    }
    for (const auto& [id, t] : timers_) next = std::min(next, t.due_ms);
    for (const auto& [id, p] : pending_) next = std::min(next, p.deadline_ms);
    return static_cast<int>(std::clamp<int64_t>(next - now, 0, kMaxPollMs));
}

void PluginInstance::event_loop() {
    bus::Delivery d;
    while (!stop_requested_.load(std::memory_order_acquire) && state_.load() == InstanceState::running) {
        subscriber_->sync_endpoints();
        zmq_pollitem_t items[4] = {
            {subscriber_->socket(), 0, ZMQ_POLLIN, 0},
            {inbox_->socket(), 0, ZMQ_POLLIN, 0},
            {nullptr, wake_fd_, ZMQ_POLLIN, 0},
            {nullptr, hooks_.fd, ZMQ_POLLIN, 0},
        };
        int rc = zmq_poll(items, hooks_.fd >= 0 ? 4 : 3, poll_timeout_ms(services_.clock.monotonic_ms()));
        if (rc < 0 && zmq_errno() != EINTR) {
            log_->error("bus poll failed: {}", zmq_strerror(zmq_errno()));
            break;
        }
        if (items[2].revents) {
            uint64_t v;
            (void)!read(wake_fd_, &v, sizeof v);
        }
        if (stop_requested_.load(std::memory_order_acquire)) break;
        std::vector<std::function<void()>> tasks;
        {
            std::lock_guard lock(tasks_mu_);
            tasks.swap(tasks_);
        }
        for (auto& t : tasks) t();
        if (hooks_.fd >= 0 && items[3].revents && hooks_.on_fd) hooks_.on_fd();
        bool drained = false;
        for (int i = 0; i < kDrainPerPass && state_.load() == InstanceState::running && inbox_->receive(d); ++i) {
            dispatch(d);
            drained = true;
        }
        for (int i = 0; i < kDrainPerPass && state_.load() == InstanceState::running && subscriber_->receive(d); ++i) {
            dispatch(d);
            drained = true;
        }
        if (drained && hooks_.after_drain) hooks_.after_drain();
        if (state_.load() != InstanceState::running) break;
        run_ready_replies();
        if (hooks_.on_due) hooks_.on_due();
        int64_t now = services_.clock.monotonic_ms();
        run_timers(now);
        expire_commands(now);
    }
}

void PluginInstance::dispatch(bus::Delivery& d) {
    switch (d.type) {
        case bus::MessageType::samples: {
            if (!desc_->on_message) return;
            gl_message m{};
            m.struct_size = sizeof m;
            m.type = GL_MSG_SAMPLES;
            m.topic = d.topic.data();  // NUL-terminated in the frame
            m.samples = d.samples.data();
            m.sample_count = d.samples.size();
            gl_status st = desc_->on_message(plugin_state_, &m);
            if (st != GL_OK) fail("on_message", st);
            return;
        }
        case bus::MessageType::event: {
            if (!desc_->on_message) return;
            std::string source(d.event.source), type(d.event.type);
            gl_event e{};
            e.struct_size = sizeof e;
            e.ts_ms = d.event.ts_ms;
            e.source = source.c_str();
            e.type = type.c_str();
            e.severity = d.event.severity;
            e.body_json = d.event.body_json.data();
            e.body_len = d.event.body_json.size();
            gl_message m{};
            m.struct_size = sizeof m;
            m.type = GL_MSG_EVENT;
            m.topic = d.topic.data();
            m.event = &e;
            gl_status st = desc_->on_message(plugin_state_, &m);
            if (st != GL_OK) fail("on_message", st);
            return;
        }
        case bus::MessageType::command: dispatch_command(d.command); return;
        case bus::MessageType::reply: dispatch_reply(d.reply); return;
    }
}

void PluginInstance::dispatch_command(const bus::CommandView& c) {
    std::string target(c.target), sender(c.sender), text(c.text);
    {
        std::lock_guard lock(received_mu_);
        received_[c.request_id] = {sender, target};
    }
    bus::EndpointMetrics::add(metrics_.commands_handled);
    if (!desc_->on_command) {
        (void)api_reply_command(c.request_id, GL_ERR_UNSUPPORTED, "plugin does not handle commands");
        return;
    }
    gl_command cmd{};
    cmd.struct_size = sizeof cmd;
    cmd.request_id = c.request_id;
    cmd.target = target.c_str();
    cmd.value = c.value;
    cmd.text = c.has_text ? text.c_str() : nullptr;
    cmd.timeout_ms = c.timeout_ms;
    cmd.sender = sender.c_str();
    gl_status st = desc_->on_command(plugin_state_, &cmd);
    if (st != GL_OK) {
        std::string why;
        {
            std::lock_guard lock(error_mu_);
            why = error_text_;
        }
        (void)api_reply_command(c.request_id, st, ("handler failed: " + why).c_str());
        fail("on_command", st);
    }
}

void PluginInstance::dispatch_reply(const bus::ReplyView& r) {
    auto it = pending_.find(r.request_id);
    if (it == pending_.end()) {
        bus::EndpointMetrics::add(metrics_.late_replies);
        return;
    }
    Pending p = std::move(it->second);
    pending_.erase(it);
    std::string error(r.error);
    gl_command_reply rep{};
    rep.struct_size = sizeof rep;
    rep.request_id = r.request_id;
    rep.status = r.status;
    rep.error = error.c_str();
    rep.target = p.target.c_str();
    p.fn(p.user, &rep);
}

void PluginInstance::run_ready_replies() {
    std::vector<ReadyReply> ready;
    ready.swap(ready_replies_);
    for (ReadyReply& r : ready) {
        gl_command_reply rep{};
        rep.struct_size = sizeof rep;
        rep.request_id = r.request_id;
        rep.status = r.status;
        rep.error = r.error.c_str();
        rep.target = r.target.c_str();
        r.fn(r.user, &rep);
    }
}

void PluginInstance::run_timers(int64_t now) {
    std::vector<uint64_t> due;
    for (const auto& [id, t] : timers_)
        if (t.due_ms <= now) due.push_back(id);
    for (uint64_t id : due) {
        auto it = timers_.find(id);
        if (it == timers_.end()) continue;  // cancelled by an earlier timer
        Timer& t = it->second;
        if (t.repeat) {
            // Next fire on the original grid; skip periods already missed.
            int64_t missed = (now - t.due_ms) / static_cast<int64_t>(t.interval_ms);
            t.due_ms += static_cast<int64_t>(t.interval_ms) * (missed + 1);
        } else {
            timers_.erase(it);
        }
        if (desc_->on_timer) {
            gl_status st = desc_->on_timer(plugin_state_, id);
            if (st != GL_OK) {
                fail("on_timer", st);
                return;
            }
        }
        if (state_.load() != InstanceState::running) return;
    }
}

void PluginInstance::expire_commands(int64_t now) {
    std::vector<uint64_t> expired;
    for (const auto& [id, p] : pending_)
        if (p.deadline_ms <= now) expired.push_back(id);
    for (uint64_t id : expired) {
        auto it = pending_.find(id);
        Pending p = std::move(it->second);
        pending_.erase(it);
        bus::EndpointMetrics::add(metrics_.command_timeouts);
        gl_command_reply rep{};
        rep.struct_size = sizeof rep;
        rep.request_id = id;
        rep.status = GL_ERR_TIMEOUT;
        std::string err = "no reply from the handler of '" + p.target + "' within the timeout";
        rep.error = err.c_str();
        rep.target = p.target.c_str();
        p.fn(p.user, &rep);
    }
}

// --------------------------------------------------------- bus helpers

Status PluginInstance::send_to_inbox(const std::string& inbox, std::string_view frame) {
    if (on_plugin_thread()) return outbox_->send(inbox, frame);
    std::lock_guard lock(foreign_mu_);
    return foreign_outbox_->send(inbox, frame);
}

Status PluginInstance::publish_frame(std::string_view frame) {
    if (on_plugin_thread()) return publisher_->publish_frame(frame);
    std::lock_guard lock(foreign_mu_);
    return foreign_publisher_->publish_frame(frame);
}

}  // namespace gridlet::plugin
