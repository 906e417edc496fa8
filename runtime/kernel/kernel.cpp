#include "kernel/kernel.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <filesystem>

#include "answers/device_answer.h"
#include "bus/codec.h"
#include "bus/socket.h"
#include "kernel/alarm_store.h"
#include "kernel/north_feeds.h"
#include "store/options.h"
#include "store/store.h"

namespace gridlet::kernel {

sigset_t kernel_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    return set;
}

void block_signals() {
    sigset_t set = kernel_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Kernel::Kernel(SitePlan plan, const Clock& clock) : plan_(std::move(plan)), clock_(clock) {
    // Checked by prepare_site(); a zone that fails here falls back to UTC.
    if (auto tz = TimeZone::load(plan_.site.timezone)) time_zone_ = *tz;
    bus::BusOptions bo;
    bo.queue_depth = plan_.site.bus_queue_depth;
    bo.send_timeout_ms = plan_.site.bus_send_timeout_ms;
    bus_ = std::make_unique<bus::Bus>(bo, registry_);
}

Kernel::~Kernel() {
    if (running_) stop();
    // Instances (and their sockets) go before the bus context, the store
    // after its writer.
    for (auto& i : instances_) i->destroy();
    instances_.clear();
    control_publisher_.reset();
    notifier_.reset();
    alarms_.reset();
    alarm_persistence_.reset();
    store_.reset();
    bus_.reset();
}

plugin::PluginInstance* Kernel::instance(const std::string& name) {
    for (auto& i : instances_)
        if (i->name() == name) return i.get();
    return nullptr;
}

Status Kernel::start() {
    started_at_ms_ = clock_.monotonic_ms();
    // Two gridlets on one control endpoint: binding would silently take the
    // running one's socket (and remove it at exit). Refuse instead.
    if (bus::ipc_endpoint_live(plan_.site.control_endpoint))
        return Status::unavailable("control socket " + plan_.site.control_endpoint +
                                   " is in use by a running gridlet (another site named '" + plan_.site.site_name +
                                   "'?): stop it, or give this site another [site] name or [kernel] control endpoint");
    // The control socket's folder, when missing (checked by load_site: its
    // parent exists and is writable), as systemd's RuntimeDirectory= would.
    const std::string& endpoint = plan_.site.control_endpoint;
    if (const std::filesystem::path folder =
            endpoint.rfind("ipc://", 0) == 0 ? std::filesystem::path(endpoint.substr(6)).parent_path() : std::filesystem::path();
        !folder.empty() && !std::filesystem::is_directory(folder)) {
        std::error_code ec;
        std::filesystem::create_directory(folder, ec);
        if (!ec)
            std::filesystem::permissions(folder, std::filesystem::perms(0750), ec);
        if (ec)
            return Status::io_error("[kernel] control: cannot make the folder '" + folder.string() + "': " + ec.message());
        spdlog::info("made the control socket's folder {}", folder.string());
    }
    if (plan_.site.has_store) {
        auto opts = store::store_options_from_json(plan_.site.store, plan_.site.dir);
        if (!opts) return opts.status().with_context("[store]");
        opts->day_zone = time_zone_.name();  // day rollups follow the site's local days
        auto st = store::Store::open(*opts, registry_);
        if (!st) return st.status();
        store_ = std::move(*st);
        spdlog::info("store {} open: {} series known", opts->path.string(), registry_.size());
    } else {
        spdlog::warn("no [store] in {}: samples and events are not kept (add [store] to keep them)", plan_.site.path);
    }
    // The alarm table: in the store (it survives a restart), else in memory.
    if (store_) {
        alarm_persistence_ = std::make_unique<StoreAlarmPersistence>(store_->state());
    } else {
        alarm_persistence_ = std::make_unique<alarm::MemoryPersistence>();
    }
    alarm::TableOptions ao;
    ao.flood_per_minute = plan_.alarm_settings.flood_per_minute;
    ao.history_days = plan_.alarm_settings.history_days;
    alarms_ = std::make_unique<alarm::AlarmTable>(*alarm_persistence_, ao);
    if (Status st = alarms_->load(clock_.now_ms()); !st) {
        if (st.code() != StatusCode::corruption) return st;
        spdlog::error("{}", st.message());
    }
    applied_root_ = plan_.site.root;
    components_.reset(new ComponentContext(registry_, store_.get(), time_zone_, plan_.site));
    components_->alarms = alarms_.get();
    components_->alarm_rules = plan_.alarm_rules;
    if (store_ && !plan_.notifications.empty()) {
        notifier_ = std::make_unique<notify::Notifier>(plan_.notifications, store_->outbox(), store_->state(),
                                                       plan_.site.site_name, time_zone_, alarms_.get());
        if (Status st = notifier_->start(clock_.now_ms()); !st) return st.with_context("notifications");
        components_->notifier = notifier_.get();
    }
    if (store_) {
        for (const exporter::ExportConfig& e : plan_.exports)
            if (e.scheduled()) components_->exports.push_back(e);
        components_->export_targets = plan_.export_targets;
        components_->legrand = plan_.legrand;
        components_->model = plan_.model;
    }
    {
        std::map<std::string, std::string> refused;
        for (const RefusedDevice& r : plan_.refused_devices) refused[r.device] = r.problem.to_string();
        components_->refused_devices.set(std::move(refused));
    }
    auto control_pub = bus_->make_publisher(&control_metrics_);
    if (!control_pub) return control_pub.status();
    control_publisher_ = std::move(*control_pub);
    if (store_) {
        feeds_ = std::make_unique<NorthFeeds>(store_->outbox(), registry_, clock_, alarms_.get());
        components_->feeds = feeds_.get();
    }
    services_.emplace(plugin::HostServices{*bus_, registry_, clock_, router_, feeds_.get(), &plan_.site.site_name});
    const plugin::HostServices& services = *services_;
    // Every endpoint exists before any thread runs, so that no subscriber
    // misses a publisher.
    uint32_t index = 0;
    if (store_) {
        auto w = make_store_writer_instance(*components_, services, index++);
        if (!w) return w.status();
        instances_.push_back(std::move(*w));
    }
    {
        auto a = make_alarms_instance(*components_, services, index++);
        if (!a) return a.status();
        instances_.push_back(std::move(*a));
    }
    if (notifier_) {
        auto n = make_notifier_instance(*components_, services, index++);
        if (!n) return n.status();
        instances_.push_back(std::move(*n));
    }
    if (!components_->exports.empty() || components_->legrand) {
        auto x = make_exporter_instance(*components_, services, index++);
        if (!x) return x.status();
        instances_.push_back(std::move(*x));
    }
    // Also without targets when files wait for one the site no longer
    // names: the sender says so at start.
    const bool orphans = store_ && [&] {
        auto q = store_->outbox().queues("export/");
        return q && !q->empty();
    }();
    if (!components_->export_targets.empty() || orphans) {
        auto x = make_export_sender_instance(*components_, services, index++);
        if (!x) return x.status();
        instances_.push_back(std::move(*x));
    }
    if (plan_.http) {
        components_->http = plan_.http;
        components_->metrics = [this] { return metrics_json(); };
        // A control request from another thread goes through the control
        // socket, so that the main thread serves it between the others.
        components_->kernel_call = [this, ep = plan_.site.control_endpoint](const nlohmann::json& request,
                                                                            int timeout_ms) -> Expected<nlohmann::json> {
            bus::ZmqSocket s(bus_->context(), ZMQ_REQ);
            (void)s.set_int(ZMQ_RCVTIMEO, timeout_ms);
            (void)s.set_int(ZMQ_SNDTIMEO, timeout_ms);
            if (Status st = s.connect(ep); !st) return Status::unavailable("the kernel's control socket: " + st.message());
            const std::string text = request.dump();
            if (zmq_send(s.get(), text.data(), text.size(), 0) != static_cast<int>(text.size()))
                return Status::unavailable(std::string("the kernel's control socket: ") + zmq_strerror(zmq_errno()));
            bus::ZmqMessage m;
            if (zmq_msg_recv(m.get(), s.get(), 0) < 0)
                return Status::unavailable("the kernel did not answer within " + std::to_string(timeout_ms) + " ms");
            auto j = nlohmann::json::parse(m.view(), nullptr, false);
            if (!j.is_object()) return Status::internal("the kernel's answer is not JSON");
            return j;
        };
        auto h = make_http_instance(*components_, services, index++);
        if (!h) return h.status();
        instances_.push_back(std::move(*h));
    }
    for (PlannedPlugin& p : plan_.plugins) {
        auto inst = plugin::PluginInstance::make(p.name, p.library, p.config, p.devices, services, index++);
        if (!inst) return inst.status().with_context("plugin '" + p.name + "'");
        instances_.push_back(std::move(*inst));
    }
    if (!plan_.site.rules.empty()) {
        auto r = make_rules_instance(*components_, services, index++);
        if (!r) return r.status();
        instances_.push_back(std::move(*r));
    }
    for (const config::Diagnostic& w : plan_.warnings) spdlog::warn("{}", w.to_string());
    running_ = true;
    // North plugins (the store writer among them) start first: a feed opened
    // in a north plugin's create() then sees the first sample of every driver.
    std::stable_partition(instances_.begin(), instances_.end(), [](const auto& i) {
        return i->library().descriptor().kind == GL_KIND_NORTH;
    });
    next_index_ = index;
    for (auto& inst : instances_) {
        Status st = inst->start();
        if (!st) {
            // Already logged and published (plugin_failed) by the instance.
            spdlog::debug("{}", st.message());
            inst->wait_stopped(plan_.site.stop_timeout_ms);
            continue;
        }
        spdlog::info("plugin '{}' started ({} {} from {})", inst->name(), inst->library().descriptor().name,
                     inst->library().descriptor().version, inst->library().path());
    }
    for (const RefusedDevice& r : plan_.refused_devices) {
        spdlog::error("{} (left out; the other devices of plugin '{}' run)", r.problem.to_string(), r.plugin);
        nlohmann::json body = {{"plugin", r.plugin}, {"device", r.device}, {"error", r.problem.to_string()}};
        std::string b = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        bus::EventView ev{clock_.now_ms(), GL_SEV_ERROR, "kernel", "device_refused", b};
        (void)control_publisher_->publish_frame(bus::encode_event("event/kernel/device_refused", ev));
    }
    return Status::ok();
}

bool Kernel::stop() {
    if (!running_) return true;
    running_ = false;
    bool clean = true;
    for (auto it = instances_.rbegin(); it != instances_.rend(); ++it) {
        plugin::PluginInstance& inst = **it;
        inst.request_stop();
        if (!inst.wait_stopped(plan_.site.stop_timeout_ms)) {
            spdlog::error("plugin '{}' did not stop within {} ms; leaving it behind", inst.name(),
                          plan_.site.stop_timeout_ms);
            clean = false;
            continue;
        }
        inst.destroy();
        spdlog::info("plugin '{}' stopped", inst.name());
    }
    return clean;
}

nlohmann::json Kernel::metrics_json() {
    std::lock_guard lock(live_mu_);
    nlohmann::json plugins = nlohmann::json::object();
    for (auto& i : instances_) {
        nlohmann::json m = i->metrics().to_json();
        m["state"] = plugin::instance_state_name(i->state());
        m["plugin"] = i->library().descriptor().name;
        m["kind"] = plugin::PluginLibrary::kind_name(i->library().descriptor().kind);
        plugins[i->name()] = std::move(m);
    }
    nlohmann::json out = {{"site", plan_.site.site_name},
                          {"pid", ::getpid()},
                          {"uptime_ms", clock_.monotonic_ms() - started_at_ms_},
                          {"series", registry_.size()},
                          {"plugins", std::move(plugins)}};
    out["control"] = control_metrics_.to_json();
    if (alarms_) {
        const alarm::TableCounters c = alarms_->counters();
        out["alarms"] = {{"active", alarms_->active_count()},
                         {"open", alarms_->open_count()},
                         {"raised", c.raised},
                         {"finished", c.finished},
                         {"acknowledged", c.acknowledged},
                         {"held_back_by_flood", c.held_back_by_flood},
                         {"persist_failures", c.persist_failures},
                         {"rules", plan_.alarm_rules.size()},
                         {"instances", components_ ? components_->alarm_instances.load() : 0},
                         {"waiting_for_reference", components_ ? components_->alarm_waiting_for_reference.load() : 0},
                         {"samples", components_ ? components_->alarm_samples.load() : 0},
                         {"raise_failures", components_ ? components_->alarm_raise_failures.load() : 0}};
        if (components_ && !plan_.notifications.empty())
            out["notifications"] = {{"configured", plan_.notifications.size()},
                                    {"queued", components_->notify_queued.load()},
                                    {"messages", components_->notify_messages.load()},
                                    {"delivered", components_->notify_delivered.load()},
                                    {"failures", components_->notify_failures.load()},
                                    {"pending", components_->notify_pending.load()}};
        if (components_ && !components_->exports.empty())
            out["exports"] = {{"scheduled", components_->exports.size()},
                              {"files", components_->export_files.load()},
                              {"failures", components_->export_failures.load()},
                              {"behind", components_->export_behind.load()}};
        if (components_ && components_->legrand)
            out["legrand_history"] = {{"dir", components_->legrand->dir}, {"files", components_->legrand_files.load()}};
        if (components_ && !components_->export_targets.empty())
            out["export_targets"] = {{"configured", components_->export_targets.size()},
                                     {"sent", components_->export_sent.load()},
                                     {"failures", components_->export_send_failures.load()},
                                     {"waiting", components_->export_waiting.load()}};
    }
    if (feeds_ && !feeds_->empty())
        out["north_feeds"] = {{"feeds", feeds_->metrics_json()}, {"tap_failures", components_->feed_failures.load()}};
    out["problems"] = problems_locked();
    if (store_) {
        const store::WriteHealth h = store_->health();
        out["store"] = {{"path", store_->options().path.string()},
                        {"state", h.failing ? "failing" : "writing"},
                        {"write_error", h.error},
                        {"failing_since_ms", h.failing ? nlohmann::json(h.failing_since_ms) : nlohmann::json()},
                        {"write_failures", h.failures},
                        {"write_resumes", h.resumes},
                        {"samples_written", store_->samples_written()},
                        {"samples_not_written", store_->samples_not_written()},
                        {"samples_refused_too_old", store_->samples_refused().too_old},
                        {"samples_refused_too_far_ahead", store_->samples_refused().too_far_ahead},
                        {"batches_not_written", h.batches_not_written},
                        {"background_error", store_->background_error()}};
        out["store"]["budget"] = budget_json(store_->budget_status());
    }
    return out;
}

std::string Kernel::status_line() {
    // What an operator must look at: devices offline, critical alarms.
    const nlohmann::json devices =
        plan_.site.devices.empty()
            ? nlohmann::json::array()
            : answers::devices_status(store_.get(), plan_.site.devices, {}, nlohmann::json::object(), clock_.now_ms());
    size_t critical = 0;
    if (alarms_) {
        alarm::AlarmFilter f;
        f.active = true;
        f.min_criticality = alarm::Criticality::critical;
        if (auto list = alarms_->list(f); list) critical = list->size();
    }
    return compose_status_line(devices, critical, problems_json());
}

std::string Kernel::compose_status_line(const nlohmann::json& devices, size_t critical_active,
                                        const nlohmann::json& problems) const {
    size_t running = 0;
    for (auto& i : instances_)
        if (i->state() == plugin::InstanceState::running) ++running;
    std::string line = "site '" + plan_.site.site_name + "': " + std::to_string(running) + " plugin" +
                       (running == 1 ? "" : "s") + " running";
    size_t offline = 0;
    for (const auto& d : devices) offline += d.value("state", "") == "offline";
    if (offline > 0)
        line += ", " + std::to_string(offline) + " of " + std::to_string(devices.size()) + " device" +
                (devices.size() == 1 ? "" : "s") + " offline";
    if (critical_active > 0)
        line += ", " + std::to_string(critical_active) + " critical alarm" + (critical_active == 1 ? "" : "s") + " active";
    if (problems.empty()) return line + ", no problems";
    line += ", " + std::to_string(problems.size()) + " problem" + (problems.size() == 1 ? "" : "s") + ": " +
            problems[0].get<std::string>();
    return line;
}

nlohmann::json Kernel::problems_json() {
    std::lock_guard lock(live_mu_);
    return problems_locked();
}

nlohmann::json Kernel::problems_locked() {
    nlohmann::json out = nlohmann::json::array();
    for (auto& i : instances_)
        if (i->state() == plugin::InstanceState::failed)
            out.push_back("plugin '" + i->name() + "' failed: " + i->failure_text());
    for (const RefusedDevice& r : plan_.refused_devices) out.push_back(r.problem.to_string() + " (device left out)");
    if (store_ && !store_->background_error().empty()) out.push_back("store: " + store_->background_error());
    if (store_) {
        const store::WriteHealth h = store_->health();
        if (h.failing)
            out.push_back("store: writes failing since " + std::to_string((clock_.now_ms() - h.failing_since_ms) / 1000) +
                          " s (" + std::to_string(store_->samples_not_written()) + " samples not written): " + h.error);
    }
    return out;
}

}  // namespace gridlet::kernel
