// The "http" component: serves the HTTP(S) API ([http]) for the life of the
// site. Its plugin thread starts and stops the server; the server's own pool
// answers requests (http/api_server.h), reading the store and the alarm
// table directly. Audit events go on the bus from the pool's threads
// (emit_event is [any thread]). A server that cannot start (port in use, a
// bad certificate) fails the component: logged and published as
// plugin_failed, and the rest of the site runs. For live clients (GET
// /api/v1/live) the plugin thread subscribes to every sample and event once
// the first one comes, and hands them to the LiveHub. A command of the API
// (POST /api/v1/commands) is posted to this thread, sent on the bus from
// here, and its reply handed back to the waiting pool thread; at stop()
// every waiting command is answered "stopping".
#include <gridlet/plugin.hpp>

#include <chrono>
#include <future>
#include <mutex>

#include "kernel/component_instance.h"
#include "kernel/components.h"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "dev"
#endif

namespace gridlet::kernel {

namespace {

class HttpComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"http", "1.0.0", GL_KIND_LOGIC, "serves the HTTP(S) API"};

    explicit HttpComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        http::ApiContext api;
        api.site = &ctx_.site;
        api.store = ctx_.store;
        api.zone = &ctx_.time_zone;
        api.alarms = ctx_.alarms;
        api.version = GRIDLET_VERSION;
        gridlet::Host h = host();
        api.emit = [h](const std::string& type, int severity, const nlohmann::json& body) {
            h.emit_event(type, severity >= 2 ? GL_SEV_WARNING : GL_SEV_INFO,
                         body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        };
        api.now_ms = [h] { return h.now_ms(); };
        api.metrics = ctx_.metrics;
        ComponentContext& cc = ctx_;
        if (ctx_.kernel_call)
            api.kernel = [&cc](const nlohmann::json& request) { return cc.kernel_call(request, 10'000); };
        // Also without rules now: a reload may add some.
        api.rules = [&cc](const std::string& rule) -> Expected<nlohmann::json> {
            if (cc.site.get()->rules.empty()) {
                if (rule.empty()) return nlohmann::json::array();
                return Status::not_found("the site has no rules");
            }
                auto r = cc.rules_status(rule, 3'000);
                if (!r) return Status::unavailable("the rules are not running");
                return std::move(*r);
            };
        api.command = [this](const std::string& target, double value, const std::string& text, int timeout_ms) {
            return send_command(target, value, text, timeout_ms);
        };
        api.export_targets = &ctx_.export_targets;
        api.refused_devices = &ctx_.refused_devices;
        if (!ctx_.model.points.empty()) api.model = &ctx_.model;
        SeriesRegistry& registry = ctx_.registry;
        live_ = std::make_unique<http::LiveHub>([&registry](uint32_t id) {
            auto m = registry.get(id);
            return m ? m->name : std::string();
        });
        api.live = live_.get();
        server_ = std::make_unique<http::ApiServer>(*ctx_.http, std::move(api));
        if (Status st = server_->start(); !st) {
            server_.reset();
            throw gridlet::Error(GL_ERR, "http: " + st.message());
        }
        ctx_.http_counters = &server_->counters();
        // The bus is subscribed to once the first live client comes (until
        // then no sample costs this thread anything).
        host().add_timer(100, true);
    }

    void on_timer(uint64_t) override {
        if (subscribed_ || !live_ || !live_->wanted()) return;
        host().subscribe("data/");
        host().subscribe("event/");
        subscribed_ = true;
    }

    void on_samples(const char*, const gl_sample* samples, size_t n) override {
        if (live_) live_->on_samples(samples, n);
    }
    void on_event(const char*, const gl_event& e) override {
        if (live_) live_->on_event(e);
    }

    // [pool thread] Sends a command from this plugin's thread and waits for
    // its reply: at most timeout_ms for the device, plus a second for the bus.
    Status send_command(const std::string& target, double value, const std::string& text, int timeout_ms) {
        auto reply = std::make_shared<std::promise<Status>>();
        auto done = reply->get_future();
        {
            std::lock_guard lock(pending_mu_);
            if (stopping_) return Status::unavailable("gridlet is stopping");
            pending_.push_back(reply);
        }
        gridlet::Host h = host();
        host().ctx()->instance->post([h, reply, target, value, text, timeout_ms] {
            try {
                h.send_command(target, value, static_cast<uint32_t>(timeout_ms),
                               [reply](const gridlet::CommandReply& r) {
                                   try {
                                       reply->set_value(r.status == GL_OK
                                                            ? Status::ok()
                                                            : Status::unavailable(r.error.empty()
                                                                                      ? "refused (status " + std::to_string(r.status) + ")"
                                                                                      : r.error));
                                   } catch (const std::future_error&) {  // already answered (stopping)
                                   }
                               },
                               text.empty() ? nullptr : text.c_str());
            } catch (const std::exception& e) {
                try {
                    reply->set_value(Status::invalid(e.what()));
                } catch (const std::future_error&) {
                }
            }
        });
        const auto wait = std::chrono::milliseconds(timeout_ms + 1000);
        Status st = done.wait_for(wait) == std::future_status::ready
                        ? done.get()
                        : Status::unavailable("no reply within " + std::to_string(timeout_ms + 1000) + " ms");
        std::lock_guard lock(pending_mu_);
        std::erase(pending_, reply);
        return st;
    }

    void stop() override {
        {
            // Commands waiting for a reply end now: this thread no longer
            // delivers replies.
            std::lock_guard lock(pending_mu_);
            stopping_ = true;
            for (auto& p : pending_) {
                try {
                    p->set_value(Status::unavailable("gridlet is stopping"));
                } catch (const std::future_error&) {
                }
            }
        }
        ctx_.http_counters = nullptr;
        if (server_) server_->stop();
        server_.reset();
        live_.reset();
    }

private:
    ComponentContext& ctx_;
    std::unique_ptr<http::LiveHub> live_;       // before server_: outlives it
    std::unique_ptr<http::ApiServer> server_;
    bool subscribed_ = false;
    std::mutex pending_mu_;
    std::vector<std::shared_ptr<std::promise<Status>>> pending_;
    bool stopping_ = false;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_http_instance(ComponentContext& ctx, plugin::HostServices services,
                                                                    uint32_t index) {
    return make_component_instance<HttpComponent>("http", ctx, services, index);
}

}  // namespace gridlet::kernel
