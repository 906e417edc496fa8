// The store's disk budget ([store] max_size_mb, min_free_mb): the store's
// folder kept under its size budget, and the disk holding it above its
// free-space floor. When either is crossed, data is shed, one step at a
// time, in this order, until both hold again with a margin of 5 %:
//   1. raw samples, oldest first: the oldest quarter of what is kept (at
//      least a day) per step, never the last 24 h, and never a sample the
//      rollups do not hold yet: a series whose samples go past its roller
//      watermark holds the cutoff at that watermark, one never rolled up at
//      its first sample; the last minute of a series silent for more than a
//      day (the roller closes a minute when a later sample comes) holds
//      nothing back, and may go;
//   2. outboxes (store-and-forward queues), oldest entries first: half of
//      each queue per step (counted as dropped, as outbox_max_entries does);
//   3. 1-minute rollups, oldest first, never the last 7 days;
//   4. events (alarm history), oldest first, never the last 30 days.
// 15-minute, hourly and daily rollups are never shed: they are small, and
// they are the long history. Each step moves a cutoff (RetentionCutoffs:
// the data goes as retention's would) and compacts the family at once, so
// its space comes back before the next measure. When nothing is left to
// shed, `exhausted` is set (the kernel raises a critical alarm) and writes
// go on until the disk itself refuses them (store writes then fail, and
// resume, as on any full disk: never a crash or a corrupt store).
//
// Owned by the Store; check() runs on its maintenance thread; status() any
// thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

#include "core/status.h"

namespace gridlet::store {

class StoreDb;
class Outbox;

struct BudgetStatus {
    bool configured = false;        // a max_size or a min_free is set
    uint64_t max_size_bytes = 0, min_free_bytes = 0;
    uint64_t size_bytes = 0;        // the store's folder, at the last check
    uint64_t free_bytes = 0;        // free for this user on its disk
    int64_t checked_ms = 0;         // wall clock of the last check (0: never)
    bool over = false;              // over a limit at the last check (after shedding)
    bool exhausted = false;         // over, and nothing left to shed
    // Steps taken since the start, per kind of data.
    uint64_t raw_steps = 0, outbox_steps = 0, rollup_steps = 0, event_steps = 0;
    uint64_t outbox_entries_dropped = 0;
    std::string last_action;        // "raw samples before 2026-11-03T00:00:00Z shed", ...
    int64_t last_action_ms = 0;
};

class DiskBudget {
public:
    DiskBudget(uint64_t max_size_bytes, uint64_t min_free_bytes) {
        status_.max_size_bytes = max_size_bytes;
        status_.min_free_bytes = min_free_bytes;
        status_.configured = max_size_bytes > 0 || min_free_bytes > 0;
    }

    // Measures, and sheds while over a limit. `now_ms`: the wall clock.
    // `raw_covered_until`: the time before which the rollups hold every
    // series' raw samples (Store::raw_covered_until()), asked only when raw
    // samples are to go. Maintenance thread.
    Status check(StoreDb& db, Outbox& outbox, const std::filesystem::path& dir, int64_t now_ms,
                 const std::function<int64_t()>& raw_covered_until);
    BudgetStatus status() const;

    static constexpr int64_t kRawFloorMs = 86'400'000;        // the last day of raw samples stays
    static constexpr int64_t kMinuteFloorMs = 7 * 86'400'000LL;
    static constexpr int64_t kEventFloorMs = 30 * 86'400'000LL;

private:
    // Over a limit, or within `margin` (a fraction) of it.
    bool over(uint64_t size, uint64_t free, double margin) const;
    static constexpr double kMargin = 0.05;
    // One step; false when nothing is left to shed.
    bool shed_one(StoreDb& db, Outbox& outbox, int64_t now_ms, const std::function<int64_t()>& raw_covered_until,
                  std::string& action, Status& error);

    mutable std::mutex mu_;
    BudgetStatus status_;
};

// The bytes of the regular files under `dir` (SST, WAL, manifest, options).
uint64_t folder_bytes(const std::filesystem::path& dir);

}  // namespace gridlet::store
