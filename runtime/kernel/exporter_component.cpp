// The "exporter" component: on its own plugin thread (a slow or full disk
// holds up no one else) it writes the scheduled [[exports]] into their dir
// and their targets' outboxes (export/export_scheduler.h), checking once a
// second what is due.
// The "export_sender" component: on another thread (a slow or absent
// server holds up neither the exports nor anyone else) it pushes the
// outboxes of the [[export_targets]] (export/outbox_sender.h), checking once
// a second what waits.
#include <gridlet/plugin.hpp>

#include "export/export_scheduler.h"
#include "export/outbox_sender.h"
#include "export/transport.h"
#include "kernel/component_instance.h"
#include "kernel/components.h"
#include "store/store.h"

namespace gridlet::kernel {

namespace {

constexpr uint64_t kExportPollMs = 1000;

class ExporterComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"exporter", "1.0.0", GL_KIND_NORTH,
                                              "writes the [[exports]] files on their schedule"};

    explicit ExporterComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        scheduler_ = std::make_unique<exporter::ExportScheduler>(ctx_.exports, ctx_.store->query(), ctx_.registry,
                                                                 ctx_.store->state(), ctx_.time_zone, ctx_.alarms,
                                                                 ctx_.export_targets, &ctx_.store->outbox());
        if (Status st = scheduler_->start(host().now_ms()); !st) {
            host().error("exporter: " + st.message());
            scheduler_.reset();
            return;
        }
        host().add_timer(kExportPollMs, true);
        host().info("exporter: " + std::to_string(ctx_.exports.size()) + " scheduled export(s)");
    }

    void on_timer(uint64_t) override {
        if (!scheduler_) return;
        scheduler_->poll(host().now_ms());
        const auto c = scheduler_->counters();
        ctx_.export_files = c.files;
        ctx_.export_failures = c.failures;
        ctx_.export_behind = c.behind;
    }

private:
    ComponentContext& ctx_;
    std::unique_ptr<exporter::ExportScheduler> scheduler_;
};

class ExportSenderComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"export_sender", "1.0.0", GL_KIND_NORTH,
                                              "pushes the [[export_targets]] outboxes to their servers"};

    explicit ExportSenderComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}

    void start() override {
        plugin::PluginInstance* self = host().ctx()->instance;
        cancel_ = [self] { return self->api_stopping(); };
        sender_ = std::make_unique<exporter::OutboxSender>(
            ctx_.export_targets, ctx_.store->outbox(), ctx_.store->state(), ctx_.alarms,
            [](const exporter::TargetConfig& t, const exporter::QueuedFile& f, const std::function<bool()>& cancel) {
                return exporter::push_file(t, f.file_name, f.bytes, "gridlet:" + f.export_name + ":" + f.file_name,
                                           cancel);
            });
        if (Status st = sender_->start(host().now_ms()); !st) {
            host().error("export_sender: " + st.message());
            sender_.reset();
            return;
        }
        host().add_timer(kExportPollMs, true);
        host().info("export_sender: " + std::to_string(ctx_.export_targets.size()) + " target(s)");
    }

    void on_timer(uint64_t) override {
        if (!sender_) return;
        sender_->poll(host().now_ms(), cancel_, 5'000, [this] { return host().now_ms(); });
        const auto c = sender_->counters();
        ctx_.export_sent = c.sent;
        ctx_.export_send_failures = c.failures;
        ctx_.export_waiting = c.waiting;
    }

private:
    ComponentContext& ctx_;
    std::function<bool()> cancel_;
    std::unique_ptr<exporter::OutboxSender> sender_;
};

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_export_sender_instance(ComponentContext& ctx,
                                                                             plugin::HostServices services,
                                                                             uint32_t index) {
    return make_component_instance<ExportSenderComponent>("export_sender", ctx, services, index);
}

Expected<std::unique_ptr<plugin::PluginInstance>> make_exporter_instance(ComponentContext& ctx,
                                                                        plugin::HostServices services, uint32_t index) {
    return make_component_instance<ExporterComponent>("exporter", ctx, services, index);
}

}  // namespace gridlet::kernel
