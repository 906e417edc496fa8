// The "notifier" component: on its own plugin thread (a slow mail server
// holds up no one else) it follows the alarm changes on the bus
// (event/<source>/alarm_*) and hands them to notify::Notifier, which queues
// them in the store's outbox and sends digests (runtime/notify/).
#include <gridlet/plugin.hpp>

#include "alarm/alarm.h"
#include "kernel/components.h"
#include "notify/delivery.h"
#include "notify/notifier.h"
#include "store/store.h"

namespace gridlet::kernel {

namespace {

constexpr uint64_t kPollMs = 500;

class NotifierComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"notifier", "1.0.0", GL_KIND_NORTH,
                                              "sends alarm notifications (e-mail, webhook)"};

    explicit NotifierComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        notify::init_delivery();
        notifier_ = std::make_unique<notify::Notifier>(ctx_.notifications, ctx_.store->outbox(), ctx_.store->state(),
                                                       ctx_.site.site_name, ctx_.time_zone, ctx_.alarms);
        plugin::PluginInstance* self = host().ctx()->instance;
        notifier_->use_default_sender([self] { return self->api_stopping(); });
        Status st = notifier_->start(host().now_ms());
        if (!st) throw gridlet::Error(GL_ERR, "notifier: " + st.message());
        host().subscribe("event/");
        host().add_timer(kPollMs, true);
        host().info("notifier: " + std::to_string(ctx_.notifications.size()) + " notification(s)");
    }

    void on_event(const char*, const gl_event& e) override {
        const std::string type = e.type ? e.type : "";
        if (type.rfind("alarm_", 0) != 0) return;
        auto body = nlohmann::json::parse(std::string_view(e.body_json, e.body_len), nullptr, false);
        auto a = alarm::alarm_from_json(body);
        if (!a) {
            host().warn("notifier: an " + type + " event does not hold an alarm record: " + a.status().message());
            return;
        }
        (void)notifier_->on_change(type.substr(6), *a, host().now_ms());
    }

    void on_timer(uint64_t) override {
        notifier_->poll(host().now_ms());
        const auto c = notifier_->counters();
        ctx_.notify_queued = c.queued;
        ctx_.notify_messages = c.messages;
        ctx_.notify_delivered = c.delivered;
        ctx_.notify_failures = c.failures;
        ctx_.notify_pending = c.pending;
    }

private:
    ComponentContext& ctx_;
    std::unique_ptr<notify::Notifier> notifier_;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_notifier_instance(ComponentContext& ctx,
                                                                        plugin::HostServices services, uint32_t index) {
    auto lib = plugin::PluginLibrary::from_entry("builtin:notifier",
                                                 &gridlet::detail::Adapter<NotifierComponent>::entry,
                                                 plugin::host_api_table());
    if (!lib) return lib.status();
    auto inst = plugin::PluginInstance::make("notifier", *lib, nlohmann::json::object(), nlohmann::json::array(),
                                             services, index);
    if (!inst) return inst.status();
    (*inst)->set_component(&ctx);
    return inst;
}

}  // namespace gridlet::kernel
