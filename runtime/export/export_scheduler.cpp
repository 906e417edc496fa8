#include "export/export_scheduler.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "export/export_job.h"
#include "export/outbox_sender.h"

namespace gridlet::exporter {

namespace {
constexpr int64_t kFirstRetryMs = 10'000;
constexpr int64_t kMaxRetryMs = 600'000;
constexpr int kFailuresBeforeAlarm = 3;

std::string alarm_key(const std::string& name) { return "system/export_failed|" + name; }

Status errno_status(const std::string& what) { return Status::io_error(what + ": " + std::strerror(errno)); }
}  // namespace

Status write_file_whole(const std::string& dir, const std::string& name, const std::string& bytes) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::io_error("cannot create the folder " + dir + ": " + ec.message());
    const std::string path = (std::filesystem::path(dir) / name).string();
    const std::string part = path + ".part";
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("cannot write " + part);
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            Status st = errno_status("cannot write " + part);
            ::close(fd);
            ::unlink(part.c_str());
            return st;
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        Status st = errno_status("cannot sync " + part);
        ::close(fd);
        ::unlink(part.c_str());
        return st;
    }
    ::close(fd);
    if (::rename(part.c_str(), path.c_str()) != 0) {
        Status st = errno_status("cannot rename " + part);
        ::unlink(part.c_str());
        return st;
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);  // the rename itself; a folder that cannot be synced still holds the file
        ::close(dfd);
    }
    return Status::ok();
}

ExportScheduler::ExportScheduler(std::vector<ExportConfig> exports, const store::QueryEngine& query,
                                 const SeriesRegistry& registry, store::StateStore& state, const TimeZone& tz,
                                 alarm::AlarmTable* alarms, std::vector<TargetConfig> targets, store::Outbox* outbox,
                                 const model::SiteModel* model)
    : exports_(std::move(exports)),
      query_(query),
      registry_(registry),
      state_(state),
      tz_(tz),
      alarms_(alarms),
      targets_(std::move(targets)),
      outbox_(outbox),
      model_(model) {}

Status ExportScheduler::start(int64_t now_ms) {
    for (const ExportConfig& e : exports_) {
        State s;
        auto v = state_.get(kExportStateNamespace, e.name);
        if (!v) return v.status().with_context("export '" + e.name + "'");
        if (*v) {
            try {
                s.done_until = std::stoll(**v);
            } catch (...) {
                return Status::corruption("export '" + e.name + "': the stored state '" + **v + "' is not a time");
            }
            // The periods moved since (the site's time zone or the export's
            // period changed): go on from the start of the period now
            // holding that point, so that no period of the new grid is
            // skipped (the one straddling it is written whole).
            if (const int64_t aligned = period_start_at(e, s.done_until, tz_); aligned != s.done_until) {
                spdlog::info("export '{}': its periods changed (time zone or period): going on from {} instead of {}",
                             e.name, tz_.format_iso(aligned), tz_.format_iso(s.done_until));
                s.done_until = aligned;
            }
        } else {
            // First start: from the period in progress. A report (calendar
            // periods) also sends the period that has closed if its send
            // time has not come yet (a report set up on the 1st at 00:30 is
            // sent November's report at 01:00).
            s.done_until = period_start_at(e, now_ms, tz_);
            if (e.calendar && due_at(e, s.done_until, tz_) > now_ms)
                s.done_until = tz_.start_of(*e.calendar, s.done_until - 1);
            if (Status st = state_.put(kExportStateNamespace, e.name, std::to_string(s.done_until)); !st)
                return st.with_context("export '" + e.name + "'");
        }
        states_[e.name] = s;
        std::string where = e.dir;
        for (const std::string& t : e.targets) where += (where.empty() ? "target " : ", target ") + t;
        spdlog::info("export '{}': {} to {}{}, delivered until {}", e.name,
                     e.calendar ? std::string(calendar_unit_name(*e.calendar)) + "ly"
                                : "every " + std::to_string(e.every_ms / 1000) + " s",
                     where,
                     e.at_minute < 0 ? std::string()
                                     : fmt::format(", written at {:02d}:{:02d}{}", e.at_minute / 60, e.at_minute % 60,
                                                   e.at_weekday < 0 ? "" : " on weekday " + std::to_string(e.at_weekday) + " (0 Sunday)"),
                     tz_.format_iso(s.done_until));
    }
    return Status::ok();
}

Status ExportScheduler::deliver(const ExportConfig& e, int64_t from, int64_t to, int64_t now_ms) {
    auto f = build_export_file(e, query_, registry_, from, to, tz_, model_);
    if (!f) return f.status();
    if (!e.dir.empty())
        if (Status st = write_file_whole(e.dir, f->name, f->bytes); !st) return st;
    for (const std::string& name : e.targets) {
        const auto t = std::find_if(targets_.begin(), targets_.end(), [&](const TargetConfig& x) { return x.name == name; });
        if (t == targets_.end() || !outbox_) return Status::internal("export target '" + name + "' is not configured");
        QueuedFile q{e.name, f->name, f->bytes, to, now_ms, 0};
        // A retry after a failure in this loop adds nothing to the queues
        // that already hold the file (enqueue_file).
        if (Status st = enqueue_file(*outbox_, *t, q); !st)
            return Status(st.code(), st.message() + ": the period waits in the store until the server takes files again");
    }
    return Status::ok();
}

void ExportScheduler::failed(const ExportConfig& e, State& s, int64_t now_ms, const Status& st) {
    ++failures_;
    ++s.attempts;
    const int64_t delay = std::min(kMaxRetryMs, kFirstRetryMs << std::min(s.attempts - 1, 20));
    s.next_try_ms = now_ms + delay;
    spdlog::warn("export '{}': period from {} not written ({} attempt(s)): {}; next try in {} s", e.name,
                 tz_.format_iso(s.done_until), s.attempts, st.message(), delay / 1000);
    if (s.attempts >= kFailuresBeforeAlarm && alarms_ && !alarms_->active(alarm_key(e.name))) {
        alarm::RaiseRequest r =
            alarm::system_raise("export_failed", "kernel", "delivery", alarm::Criticality::critical, now_ms);
        r.key = alarm_key(e.name);
        r.message = "export '" + e.name + "' cannot write its files (" + st.message() + "); the periods from " +
                    tz_.format_iso(s.done_until) + " wait and are retried";
        r.detail = {{"export", e.name}, {"error", st.message()}, {"waiting_from_ms", s.done_until}};
        (void)alarms_->raise(r);
    }
}

void ExportScheduler::poll(int64_t now_ms, size_t max_files) {
    size_t written = 0;
    uint64_t behind = 0;
    for (const ExportConfig& e : exports_) {
        State& s = states_[e.name];
        const int64_t ready = now_ms - e.delay_ms;  // periods ending by then are due
        if (ready - s.done_until > e.catch_up_ms) {
            const int64_t keep_from = ready - e.catch_up_ms;
            const auto skipped = export_periods(e, s.done_until, keep_from, tz_).size();
            const int64_t resume = period_start_at(e, keep_from, tz_);
            spdlog::warn("export '{}': {} period(s) from {} to {} are older than catch_up ({} s) and are skipped "
                         "(gridlet export writes them on demand)",
                         e.name, skipped, tz_.format_iso(s.done_until), tz_.format_iso(resume), e.catch_up_ms / 1000);
            skipped_ += skipped;
            s.done_until = resume;
            (void)state_.put(kExportStateNamespace, e.name, std::to_string(s.done_until));
        }
        auto due = export_periods(e, s.done_until, ready, tz_);
        // With `at`, a period waits for its time of day (of week) too.
        while (!due.empty() && due_at(e, due.back().second, tz_) > now_ms) due.pop_back();
        behind += due.size();
        if (due.empty() || now_ms < s.next_try_ms) continue;
        for (const auto& [from, to] : due) {
            if (written >= max_files) break;
            if (Status st = deliver(e, from, to, now_ms); !st) {
                failed(e, s, now_ms, st);
                break;
            }
            // The file is in its folder: now the state (a crash before this
            // writes the same file again, same name and bytes).
            s.done_until = to;
            if (Status st = state_.put(kExportStateNamespace, e.name, std::to_string(to)); !st)
                spdlog::warn("export '{}': cannot record the period written ({}); it may be written again", e.name,
                             st.message());
            ++files_;
            ++written;
            --behind;
            if (s.attempts > 0) {
                spdlog::info("export '{}': writing again after {} failure(s)", e.name, s.attempts);
                s.attempts = 0;
                s.next_try_ms = 0;
                if (alarms_ && alarms_->active(alarm_key(e.name)))
                    (void)alarms_->clear(alarm_key(e.name), now_ms, 0, "files written again");
            }
        }
    }
    behind_ = behind;
}

ExportScheduler::Counters ExportScheduler::counters() const {
    return {files_.load(), failures_.load(), skipped_.load(), behind_.load()};
}

std::optional<int64_t> ExportScheduler::delivered_until(const std::string& name) const {
    auto it = states_.find(name);
    if (it == states_.end()) return std::nullopt;
    return it->second.done_until;
}

}  // namespace gridlet::exporter
