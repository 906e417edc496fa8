// The "http" component: serves the HTTP(S) API ([http]) for the life of the
// site. Its plugin thread starts and stops the server; the server's own pool
// answers requests (http/api_server.h), reading the store and the alarm
// table directly. Audit events go on the bus from the pool's threads
// (emit_event is [any thread]). A server that cannot start (port in use, a
// bad certificate) fails the component: logged and published as
// plugin_failed, and the rest of the site runs. For live clients (GET
// /api/v1/live) the plugin thread subscribes to every sample and event once
// the first one comes, and hands them to the LiveHub.
#include <gridlet/plugin.hpp>

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

    void stop() override {
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
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_http_instance(ComponentContext& ctx, plugin::HostServices services,
                                                                    uint32_t index) {
    return make_component_instance<HttpComponent>("http", ctx, services, index);
}

}  // namespace gridlet::kernel
