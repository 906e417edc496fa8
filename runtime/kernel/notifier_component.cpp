// The "notifier" component: on its own plugin thread (a slow mail server
// holds up no one else) it sends what the kernel's notify::Notifier has
// queued in the store's outbox (runtime/notify/). The alarm changes reach
// the Notifier from the threads that take them from the alarm table (the
// alarms component, the control socket), before they are published, so a
// change is in the outbox as soon as it is told to anyone.
#include <gridlet/plugin.hpp>

#include "kernel/component_instance.h"
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
                                              "sends alarm notifications (e-mail, webhook, Telegram)"};

    explicit NotifierComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        notify::init_delivery();
        notifier_ = ctx_.notifier;
        plugin::PluginInstance* self = host().ctx()->instance;
        notifier_->use_default_sender([self] { return self->api_stopping(); });
        host().add_timer(kPollMs, true);
        host().info("notifier: " + std::to_string(notifier_->configs().size()) + " notification(s)");
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
    notify::Notifier* notifier_ = nullptr;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_notifier_instance(ComponentContext& ctx, plugin::HostServices services,
                                                   uint32_t index) {
    return make_component_instance<NotifierComponent>("notifier", ctx, services, index);
}

}  // namespace gridlet::kernel
