// The "exporter" component: on its own plugin thread (a slow or full disk
// holds up no one else) it writes the scheduled [[exports]] into their dir
// and their targets' outboxes (export/export_scheduler.h), checking once a
// second what is due.
// The "export_sender" component pushes the outboxes of the
// [[export_targets]] (export/outbox_sender.h): one thread of its own per
// target (a slow or absent server holds up neither the exports, nor the
// other targets, nor anyone else), each checking once a second what waits;
// the component's thread adds up their figures for the metrics.
#include <gridlet/plugin.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/clock.h"

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
        if (ctx_.legrand)
            legrand_ = std::make_unique<exporter::LegrandHistory>(*ctx_.legrand, ctx_.model, ctx_.store->query(),
                                                                  ctx_.registry, ctx_.time_zone, &ctx_.store->state());
        scheduler_ = std::make_unique<exporter::ExportScheduler>(ctx_.exports, ctx_.store->query(), ctx_.registry,
                                                                 ctx_.store->state(), ctx_.time_zone, ctx_.alarms,
                                                                 ctx_.export_targets, &ctx_.store->outbox(), &ctx_.model);
        if (Status st = scheduler_->start(host().now_ms()); !st) {
            host().error("exporter: " + st.message());
            scheduler_.reset();
            return;
        }
        host().add_timer(kExportPollMs, true);
        host().info("exporter: " + std::to_string(ctx_.exports.size()) + " scheduled export(s) and report(s)" +
                    (legrand_ ? ", the Legrand history in " + ctx_.legrand->dir : ""));
    }

    void on_timer(uint64_t) override {
        if (!scheduler_) return;
        if (legrand_) {
            // A failure (a folder that cannot be written) is said once per
            // distinct error and tried again each second.
            Status st = legrand_->update(host().now_ms());
            if (!st && st.message() != legrand_error_) host().warn("legrand history: " + st.message());
            if (st && !legrand_error_.empty()) host().info("legrand history: written again");
            legrand_error_ = st ? "" : st.message();
            ctx_.legrand_files = legrand_->files_written();
        }
        scheduler_->poll(host().now_ms());
        const auto c = scheduler_->counters();
        ctx_.export_files = c.files;
        ctx_.export_failures = c.failures;
        ctx_.export_behind = c.behind;
    }

private:
    ComponentContext& ctx_;
    std::unique_ptr<exporter::ExportScheduler> scheduler_;
    std::unique_ptr<exporter::LegrandHistory> legrand_;
    std::string legrand_error_;
};

class ExportSenderComponent : public gridlet::Plugin {
public:
    static constexpr gridlet::PluginInfo info{"export_sender", "1.0.0", GL_KIND_NORTH,
                                              "pushes the [[export_targets]] outboxes to their servers"};

    explicit ExportSenderComponent(gridlet::Host h)
        : Plugin(h), ctx_(*static_cast<ComponentContext*>(h.ctx()->instance->component())) {}
    ~ExportSenderComponent() override { join(); }

    void start() override {
        plugin::PluginInstance* self = host().ctx()->instance;
        const auto cancel = [this, self] { return stop_.load() || self->api_stopping(); };
        const auto push = [](const exporter::TargetConfig& t, const exporter::QueuedFile& f,
                             const std::function<bool()>& c) {
            return exporter::push_file(t, f.file_name, f.bytes, "gridlet:" + f.export_name + ":" + f.file_name, c,
                                       f.in_doubt);
        };
        const int64_t now = host().now_ms();
        // One thread per target: a server that hangs until its timeout holds
        // up its own queue only.
        for (const exporter::TargetConfig& t : ctx_.export_targets) {
            auto w = std::make_unique<Worker>();
            w->sender = std::make_unique<exporter::OutboxSender>(std::vector<exporter::TargetConfig>{t},
                                                                 ctx_.store->outbox(), ctx_.store->state(),
                                                                 ctx_.alarms, push);
            if (Status st = w->sender->start(now); !st) {
                host().error("export_sender: target '" + t.name + "': " + st.message());
                continue;
            }
            exporter::OutboxSender* sender = w->sender.get();
            w->thread = std::thread([this, sender, cancel] {
                while (!cancel()) {
                    const auto clock = [] { return SystemClock::instance().now_ms(); };
                    sender->poll(clock(), cancel, 5'000, clock);
                    std::unique_lock lock(mu_);
                    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_.load(); });
                }
            });
            workers_.push_back(std::move(w));
        }
        // Files waiting for a target the site no longer names are not lost:
        // said at each start, and listed by gridlet export --outbox.
        if (auto queues = ctx_.store->outbox().queues("export/"))
            for (const std::string& q : *queues) {
                const std::string name = q.substr(7);
                auto n = ctx_.store->outbox().size(q);
                if (std::none_of(ctx_.export_targets.begin(), ctx_.export_targets.end(),
                                 [&](const exporter::TargetConfig& t) { return t.name == name; }))
                    host().warn("export_sender: " + std::to_string(n ? *n : 0) +
                                " file(s) wait in the outbox of target '" + name +
                                "', which the site no longer defines: they are kept until an [[export_targets]] "
                                "named '" + name + "' is configured again (gridlet export --outbox lists them)");
            }
        host().add_timer(kExportPollMs, true);
        host().info("export_sender: " + std::to_string(workers_.size()) + " target(s)");
    }

    void stop() override { join(); }

    void on_timer(uint64_t) override {
        uint64_t sent = 0, failures = 0, waiting = 0;
        for (const auto& w : workers_) {
            const auto c = w->sender->counters();
            sent += c.sent;
            failures += c.failures;
            waiting += c.waiting;
        }
        ctx_.export_sent = sent;
        ctx_.export_send_failures = failures;
        ctx_.export_waiting = waiting;
    }

private:
    struct Worker {
        std::unique_ptr<exporter::OutboxSender> sender;
        std::thread thread;
    };
    void join() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& w : workers_)
            if (w->thread.joinable()) w->thread.join();
    }

    ComponentContext& ctx_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::condition_variable cv_;
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
