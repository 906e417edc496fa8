// The "exporter" component: on its own plugin thread (a slow or full disk
// holds up no one else) it writes the [[exports]] that have a `dir` on their
// schedule (export/export_scheduler.h), checking once a second what is due.
#include <gridlet/plugin.hpp>

#include "export/export_scheduler.h"
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
                                                                 ctx_.store->state(), ctx_.time_zone, ctx_.alarms);
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

}  // namespace

Expected<std::unique_ptr<plugin::PluginInstance>> make_exporter_instance(ComponentContext& ctx,
                                                                        plugin::HostServices services, uint32_t index) {
    return make_component_instance<ExporterComponent>("exporter", ctx, services, index);
}

}  // namespace gridlet::kernel
