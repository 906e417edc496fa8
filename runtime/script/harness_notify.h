// The offline harness's notifications (harness.h): the site's Notifier run
// on a timeline's alarm changes over a temporary store, and the logging that
// puts its lines in the run's log. Internal to the harness (harness.cpp);
// small classes, defined here whole.
//
// Threads: the harness thread (LogToRun passes other threads' lines to stderr).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "alarm/alarm_table.h"
#include "notify/notifier.h"
#include "script/harness.h"
#include "script/sim_host.h"
#include "store/store.h"

namespace gridlet::script {

// While it lives, what the site's components log (the notifier: "sent",
// "not delivered ... next try in 5 s") goes to the run's log at the
// simulated time, as "notifications", instead of stderr at the wall time.
class LogToRun {
public:
    explicit LogToRun(SimHost& host)
        : saved_(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("test-rule", std::make_shared<Sink>(host));
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(std::move(logger));
    }
    ~LogToRun() { spdlog::set_default_logger(saved_); }
    LogToRun(const LogToRun&) = delete;
    LogToRun& operator=(const LogToRun&) = delete;

private:
    class Sink final : public spdlog::sinks::base_sink<std::mutex> {
    public:
        explicit Sink(SimHost& host) : host_(host), owner_(std::this_thread::get_id()) {}

    protected:
        void sink_it_(const spdlog::details::log_msg& m) override {
            if (std::this_thread::get_id() != owner_) {
                // Another thread (the scratch store's): not the run's log,
                // which only the harness thread writes.
                std::fprintf(stderr, "%.*s\n", static_cast<int>(m.payload.size()), m.payload.data());
                return;
            }
            const LogLevel level = m.level >= spdlog::level::err    ? LogLevel::error
                                   : m.level == spdlog::level::warn ? LogLevel::warn
                                   : m.level == spdlog::level::info ? LogLevel::info
                                                                    : LogLevel::debug;
            host_.log(level, "notifications", std::string_view(m.payload.data(), m.payload.size()));
        }
        void flush_() override {}

    private:
        SimHost& host_;
        std::thread::id owner_;
    };
    std::shared_ptr<spdlog::logger> saved_;
};

// The timeline's [[notifications]]: the site's Notifier itself, over the
// outbox and state of a temporary store (removed at the end), with a sender
// that records each message instead of sending it, and fails while the
// timeline says its server is away. So the windows, the batching, the
// retries and a restart behave exactly as on a site.
class NotifyRun {
public:
    NotifyRun(std::vector<notify::NotificationConfig> configs, TimeZone zone,
              std::vector<HarnessReport::Message>& out)
        : configs_(std::move(configs)), zone_(std::move(zone)), out_(out) {}
    ~NotifyRun() {
        notifier_.reset();
        store_.reset();
        if (!dir_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }
    NotifyRun(const NotifyRun&) = delete;
    NotifyRun& operator=(const NotifyRun&) = delete;

    Status open() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "gridlet-test-rule-XXXXXX").string();
        if (!mkdtemp(tmpl.data()))
            return Status::io_error("cannot make a temporary folder for the notifications' outbox: " +
                                    std::string(std::strerror(errno)));
        dir_ = tmpl;
        store::StoreOptions o;
        o.path = dir_ / "store";
        o.sync = store::SyncPolicy::none;  // a scratch store: nothing to keep across a crash
        auto opened = store::Store::open(o);
        if (!opened) return opened.status();
        store_ = std::move(*opened);
        return Status::ok();
    }
    bool has(const std::string& name) const {
        return std::any_of(configs_.begin(), configs_.end(), [&](const auto& n) { return n.name == name; });
    }
    // A new notifier over what the store kept (at the start, and at a restart).
    Status start(alarm::AlarmTable& table, int64_t now) {
        notifier_.reset();
        notifier_ = std::make_unique<notify::Notifier>(configs_, store_->outbox(), store_->state(), kSite, zone_, &table);
        notifier_->set_read_subscriptions(false);
        notifier_->set_sender([this](const notify::NotificationConfig& n, const notify::Batch& b) -> Status {
            auto it = outage_until_.find(n.name);
            if (it != outage_until_.end() && now_ < it->second)
                return Status::unavailable("the server of '" + n.name + "' is away (the timeline's outage until " +
                                           zone_.format_iso(it->second) + ")");
            ++total_;
            if (out_.size() >= kMaxMessages) {
                if (out_.size() == kMaxMessages && !said_cap_) {
                    said_cap_ = true;
                    spdlog::warn("test-rule: more than {} messages; the rest are sent and counted, not reported",
                                 kMaxMessages);
                }
                return Status::ok();
            }
            const notify::EmailText text = notify::email_text(kSite, zone_, b);
            HarnessReport::Message m{now_, n.name, b, text.subject, text.body, {}};
            if (n.kind == notify::Kind::webhook) m.payload = notify::webhook_body(kSite, n, b);
            out_.push_back(std::move(m));
            return Status::ok();
        });
        return notifier_->start(now);
    }
    void change(const alarm::AlarmChange& c, int64_t now) {
        (void)notifier_->on_change(alarm::transition_name(c.transition), c.alarm, now);
    }
    void poll(int64_t now) {
        now_ = now;
        notifier_->poll(now);
    }
    std::optional<int64_t> next_due() const { return notifier_->next_due_ms(); }
    // Overlapping outages of one server add up (it is back at the latest end).
    void outage(const std::string& name, int64_t until) {
        int64_t& u = outage_until_[name];
        u = std::max(u, until);
    }
    uint64_t pending() const { return notifier_->counters().pending; }
    uint64_t total() const { return total_; }

    static constexpr const char* kSite = "site";
    // Messages kept in the report (each holds its text): a run that sends
    // more goes on, counting them.
    static constexpr size_t kMaxMessages = 10000;

private:
    std::vector<notify::NotificationConfig> configs_;
    TimeZone zone_;
    std::vector<HarnessReport::Message>& out_;
    std::filesystem::path dir_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<notify::Notifier> notifier_;
    std::map<std::string, int64_t> outage_until_;
    int64_t now_ = 0;
    uint64_t total_ = 0;
    bool said_cap_ = false;
};


}  // namespace gridlet::script
