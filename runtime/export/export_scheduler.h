// ExportScheduler: writes the [[exports]] that have a `dir` or `targets`
// on their schedule, in site time, so that every period is delivered
// exactly once, also across restarts, kill -9 and a target that fails for a
// while. A period's file goes into the dir, then into the outbox of each
// target (outbox_sender.h pushes it from there); then the period counts as
// delivered.
//
//   - A period [start, end) (export_job.h: from local midnight, every
//     `every`) is due `delay` after its end (samples arrive late), or with
//     `at`, at that local time of day (of week) after it (export_job.h's
//     due_at).
//   - The end of the last period delivered is kept in the store's state
//     ("#export" namespace, key = the export's name), written after the
//     file is in its folder. A crash between the two writes the same period
//     again: the same name and the same bytes, so the folder still holds it
//     once.
//   - When the periods moved since (the site's time zone or the export's
//     `every` changed), it goes on from the start of the period holding
//     the stored end: the period straddling it is written whole, none is
//     skipped.
//   - After downtime the missed periods are written, oldest first (catch-up),
//     as far back as `catch_up`; older ones are skipped, counted and logged.
//     At the very first start nothing before the period in progress is
//     written (`gridlet export` writes history on demand), but for a report
//     whose last closed period's send time is still to come.
//   - A period that cannot be written (folder missing and not creatable,
//     disk full, read-only, a target's outbox full) is retried with backoff (10 s doubling to
//     10 min); after 3 failures in a row the system alarm
//     system/export_failed|<name> is raised, and cleared by the next success.
//   - Files are written whole: "<name>.part", fsync, rename, fsync of the
//     folder; a reader of the folder never sees half a file.
//
// Threads: one thread calls start() and poll() (the kernel's "exporter"
// component); counters() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "alarm/alarm_table.h"
#include "core/series_registry.h"
#include "core/timezone.h"
#include "export/export_config.h"
#include "store/outbox.h"
#include "store/query.h"
#include "store/state_store.h"

namespace gridlet::exporter {

inline constexpr const char* kExportStateNamespace = "#export";

class ExportScheduler {
public:
    // `exports`: those scheduled (a dir or targets); `targets`: the
    // [[export_targets]] they name, whose queues are in `outbox` (may be
    // null when no export has targets); `model` the site model reports read
    // (null when there is no report). All references are borrowed and
    // outlive the scheduler; `alarms` may be null (no alarm raised).
    ExportScheduler(std::vector<ExportConfig> exports, const store::QueryEngine& query, const SeriesRegistry& registry,
                    store::StateStore& state, const TimeZone& tz, alarm::AlarmTable* alarms,
                    std::vector<TargetConfig> targets = {}, store::Outbox* outbox = nullptr,
                    const model::SiteModel* model = nullptr);

    // Reads where each export stopped; an export seen for the first time
    // starts with the period in progress at now_ms.
    Status start(int64_t now_ms);

    // Writes the due periods, oldest first, at most `max_files` in this call
    // (the next call goes on).
    void poll(int64_t now_ms, size_t max_files = 50);

    struct Counters {
        uint64_t files = 0;            // files written
        uint64_t failures = 0;         // attempts that failed
        uint64_t skipped_periods = 0;  // older than catch_up after downtime
        uint64_t behind = 0;           // due periods not written yet (all exports)
    };
    Counters counters() const;

    // The end of the last period delivered (nullopt for an unknown export);
    // the scheduler's thread (tests).
    std::optional<int64_t> delivered_until(const std::string& name) const;

private:
    struct State {
        int64_t done_until = 0;  // periods ending at or before it are delivered
        int attempts = 0;        // failures in a row
        int64_t next_try_ms = 0;
    };
    Status deliver(const ExportConfig& e, int64_t from, int64_t to, int64_t now_ms);
    void failed(const ExportConfig& e, State& s, int64_t now_ms, const Status& st);

    std::vector<ExportConfig> exports_;
    const store::QueryEngine& query_;
    const SeriesRegistry& registry_;
    store::StateStore& state_;
    TimeZone tz_;
    alarm::AlarmTable* alarms_;
    std::vector<TargetConfig> targets_;
    store::Outbox* outbox_;
    const model::SiteModel* model_;
    std::map<std::string, State> states_;
    std::atomic<uint64_t> files_{0}, failures_{0}, skipped_{0}, behind_{0};
};

// Writes `bytes` to `dir`/`name` whole (".part", fsync, rename, fsync of
// the folder), creating the folder if needed. Errors name the path.
Status write_file_whole(const std::string& dir, const std::string& name, const std::string& bytes);

}  // namespace gridlet::exporter
