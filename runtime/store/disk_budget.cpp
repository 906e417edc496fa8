#include "store/disk_budget.h"

#include <sys/statvfs.h>

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <system_error>

#include "core/timezone.h"
#include "store/aggregation.h"
#include "store/db.h"
#include "store/keys.h"
#include "store/outbox.h"
#include "store/retention.h"

namespace gridlet::store {

uint64_t folder_bytes(const std::filesystem::path& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code fe;
        if (it->is_regular_file(fe)) {
            const auto n = it->file_size(fe);
            if (!fe) total += n;
        }
    }
    return total;
}

namespace {

uint64_t free_bytes_of(const std::filesystem::path& dir) {
    struct statvfs v {};
    if (statvfs(dir.c_str(), &v) != 0) return UINT64_MAX;  // not known: no floor crossed
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

// The oldest time of any series in `cf`, whose keys are id:u32 | [tag byte]
// | time: one seek per series (a skip scan). kMinTs-free: INT64_MAX when empty.
int64_t oldest_time(StoreDb& db, Cf cf, int tag) {
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(cf)));
    int64_t oldest = INT64_MAX;
    const size_t time_at = tag >= 0 ? 5 : 4;
    std::string seek;
    put_be32(seek, 0);
    if (tag >= 0) seek.push_back(static_cast<char>(tag));
    for (it->Seek(seek); it->Valid();) {
        const rocksdb::Slice k = it->key();
        if (k.size() < time_at + 8) break;
        const uint32_t id = get_be32(k.data());
        if (tag >= 0 && static_cast<uint8_t>(k.data()[4]) != tag) {
            // Not this resolution: on to it (or past it) in this series.
            std::string next;
            put_be32(next, static_cast<uint8_t>(k.data()[4]) < tag ? id : id + 1);
            if (static_cast<uint8_t>(k.data()[4]) > tag && id == UINT32_MAX) break;
            next.push_back(static_cast<char>(tag));
            it->Seek(next);
            continue;
        }
        oldest = std::min(oldest, get_time(k.data() + time_at));
        if (id == UINT32_MAX) break;
        std::string next;
        put_be32(next, id + 1);
        if (tag >= 0) next.push_back(static_cast<char>(tag));
        it->Seek(next);
    }
    return oldest;
}

int64_t oldest_event(StoreDb& db) {
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::events)));
    it->SeekToFirst();
    return it->Valid() && it->key().size() >= 8 ? get_time(it->key().data()) : INT64_MAX;
}

Status compact(StoreDb& db, Cf cf) {
    rocksdb::CompactRangeOptions cro;
    cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    if (Status st = db.convert(db.db()->Flush(rocksdb::FlushOptions(), db.cf(cf)), "flush"); !st) return st;
    return db.convert(db.db()->CompactRange(cro, db.cf(cf), nullptr, nullptr), "compact");
}

// The next cutoff for data from `oldest` to now: its oldest quarter (at
// least a day), never past `limit`. kNothing when nothing can go.
constexpr int64_t kNothing = INT64_MIN;
int64_t next_cutoff(int64_t oldest, int64_t now, int64_t limit) {
    if (oldest == INT64_MAX || oldest >= limit || oldest < kMinStoreTime) return kNothing;
    const int64_t step = std::max<int64_t>(86'400'000, (now - oldest) / 4);
    return std::min(oldest + step, limit);
}

}  // namespace

bool DiskBudget::over(uint64_t size, uint64_t free, double margin) const {
    return (status_.max_size_bytes > 0 && static_cast<double>(size) > static_cast<double>(status_.max_size_bytes) * (1 - margin)) ||
           (status_.min_free_bytes > 0 && static_cast<double>(free) < static_cast<double>(status_.min_free_bytes) * (1 + margin));
}

BudgetStatus DiskBudget::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

bool DiskBudget::shed_one(StoreDb& db, Outbox& outbox, int64_t now, const std::function<int64_t()>& raw_covered_until,
                          std::string& action, Status& error) {
    const TimeZone utc = TimeZone::utc();
    // A step that moves a cutoff (raw samples, 1-minute rollups, events):
    // taken when `cut` sheds something the current cutoff keeps.
    const auto shed_before = [&](int64_t cut, int64_t current, const std::function<void(int64_t)>& set_cutoff, Cf cf,
                                 uint64_t BudgetStatus::*steps, const std::string& what, const std::string& kept) {
        if (cut == kNothing || cut <= current) return false;
        set_cutoff(cut);
        error = compact(db, cf);
        std::lock_guard lock(mu_);
        ++(status_.*steps);
        action = what + " before " + utc.format_iso(cut) + " shed" + kept;
        return true;
    };
    // 1. Raw samples covered by the rollups.
    const int64_t covered = raw_covered_until();
    if (shed_before(next_cutoff(oldest_time(db, Cf::chunks, -1), now,
                                std::min(now - kRawFloorMs, covered == INT64_MAX ? now : floor_to(covered, 60'000))),
                    db.cutoffs().raw(), [&](int64_t c) { db.cutoffs().budget_raw(c); }, Cf::chunks,
                    &BudgetStatus::raw_steps, "raw samples", " (their rollups are kept)"))
        return true;
    // 2. Outboxes, oldest entries first: half of each queue.
    {
        uint64_t dropped = 0;
        if (auto queues = outbox.queues(""); queues) {
            for (const std::string& q : *queues) {
                auto b = outbox.bounds(q);
                if (!b || b->second <= b->first) continue;
                const uint64_t n = b->second - b->first;
                const uint64_t up_to = b->first + std::max<uint64_t>(1, n / 2) - 1;
                if (auto d = outbox.drop_oldest(q, up_to); d) dropped += *d;
            }
        }
        if (dropped > 0) {
            error = compact(db, Cf::outbox);
            std::lock_guard lock(mu_);
            ++status_.outbox_steps;
            status_.outbox_entries_dropped += dropped;
            action = std::to_string(dropped) + " outbox entries shed, the oldest of each queue (they will not be sent)";
            return true;
        }
    }
    // 3. 1-minute rollups.
    if (shed_before(next_cutoff(oldest_time(db, Cf::rollups, static_cast<int>(Resolution::min1)), now, now - kMinuteFloorMs),
                    db.cutoffs().rollup(Resolution::min1),
                    [&](int64_t c) { db.cutoffs().budget_rollup(Resolution::min1, c); }, Cf::rollups,
                    &BudgetStatus::rollup_steps, "1-minute rollups", " (15-minute, hourly and daily are kept)"))
        return true;
    // 4. Events.
    return shed_before(next_cutoff(oldest_event(db), now, now - kEventFloorMs), db.cutoffs().events(),
                       [&](int64_t c) { db.cutoffs().budget_events(c); }, Cf::events, &BudgetStatus::event_steps,
                       "events", "");
}

Status DiskBudget::check(StoreDb& db, Outbox& outbox, const std::filesystem::path& dir, int64_t now_ms,
                         const std::function<int64_t()>& raw_covered_until) {
    if (!status_.configured) return Status::ok();
    uint64_t size = folder_bytes(dir), free = free_bytes_of(dir);
    bool exhausted = false;
    Status error = Status::ok();
    // Over a limit: steps until 5 % inside it (so that the next samples do
    // not cross it again at once), at most 8 a check, each compacting, then
    // measuring again.
    const bool crossed = over(size, free, 0);
    for (int step = 0; step < 8 && crossed && over(size, free, kMargin); ++step) {
        std::string action;
        if (!shed_one(db, outbox, now_ms, raw_covered_until, action, error)) {
            exhausted = true;
            break;
        }
        const uint64_t before = size;
        size = folder_bytes(dir);
        free = free_bytes_of(dir);
        spdlog::warn("store disk budget: {} ({} -> {} bytes in the store, {} bytes free)", action, before, size, free);
        std::lock_guard lock(mu_);
        status_.last_action = action;
        status_.last_action_ms = now_ms;
        if (!error) break;
    }
    std::lock_guard lock(mu_);
    const bool was_exhausted = status_.exhausted;
    status_.size_bytes = size;
    status_.free_bytes = free;
    status_.checked_ms = now_ms;
    status_.over = over(size, free, 0);
    status_.exhausted = exhausted;
    if (exhausted && !was_exhausted)
        spdlog::error("store disk budget: over it ({} bytes in the store, {} bytes free) and nothing is left to shed: "
                      "raise max_size_mb, lower min_free_mb, or free the disk",
                      size, free);
    return error;
}

}  // namespace gridlet::store
