// Store: the time-series store of a gridlet (runtime/store/README.md).
// One RocksDB database with column families for the series registry, raw
// chunks, rollups, rollup bookkeeping, events, rule state and outboxes.
//
// Kernel usage:
//   SeriesRegistry registry;                      // outlives the store
//   auto store = Store::open(options, registry);  // attaches the registry backend
//   store->append(batch);                         // std::span<const gl_sample>; acked = in the WAL
//   store->events().append(event);
//   store->query().downsample(id, from, to, 15 * 60000, Aggregate::avg);
//   store->state().put("rule", "key", "value");  store->outbox().append("mqtt", bytes);
// Tools (CLI): Store::open_read_only(path) works while gridlet runs.
//
// Ownership: the Store owns the database, its background threads and every
// component it hands out by reference. With open(options, registry) the
// registry is the caller's and must outlive the store; do not intern new
// series after the store is closed (the registry would call a closed
// backend). open(options) owns a registry of its own.
//
// Threads: every method is safe from any thread. Two background threads in
// read-write mode: maintenance (rollups every rollup_interval_ms, retention
// cutoffs) and, for sync = interval, the WAL syncer. The destructor stops
// them and closes the database.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

#include <gridlet/plugin.h>

#include "core/series_registry.h"
#include "store/chunk_writer.h"
#include "store/db.h"
#include "store/disk_budget.h"
#include "store/events.h"
#include "store/options.h"
#include "store/outbox.h"
#include "store/query.h"
#include "store/registry_backend.h"
#include "store/roller.h"
#include "store/state_store.h"

namespace gridlet::store {

class Store {
public:
    static Expected<std::unique_ptr<Store>> open(const StoreOptions& options, SeriesRegistry& registry);
    static Expected<std::unique_ptr<Store>> open(const StoreOptions& options);
    // A read-only secondary instance over `path` (running or stopped gridlet).
    static Expected<std::unique_ptr<Store>> open_read_only(const std::filesystem::path& path);

    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Appends a batch; returns once it is in the WAL (see chunk_writer.h for
    // the out-of-order and duplicate rule).
    // Samples dated outside the plausible window (StoreOptions accept_*) are
    // left out and counted in samples_refused(); the rest is written.
    // Samples that could not be written (writes failing) are counted in
    // samples_not_written().
    Status append(std::span<const gl_sample> batch);
    Status append(uint32_t series, std::span<const Sample> samples);

    SeriesRegistry& registry() { return *registry_; }
    const QueryEngine& query() const { return *query_; }
    EventLog& events() { return *events_; }
    StateStore& state() { return *state_; }
    Outbox& outbox() { return *outbox_; }
    // The disk budget's state ([store] max_size_mb, min_free_mb): sizes at
    // the last check and what was shed. Any thread.
    BudgetStatus budget_status() const { return budget_->status(); }
    // The time before which the rollups hold every raw sample of every
    // series (INT64_MAX: all of them): for each series with samples, its
    // roller watermark when it has samples at or after it, its first chunk
    // when it was never rolled up. Any thread (reads only).
    int64_t raw_covered_until() const;

    // Brings rollups up to date now (tests, benchmark, before shutdown).
    Expected<Roller::PassStats> roll_up_now();
    // Recomputes retention cutoffs from the clock and compacts every family
    // with a retention filter, so expired data is gone when it returns.
    Status enforce_retention();
    // fsync the WAL now.
    Status sync() { return db_->sync_wal(); }
    // Flush memtables and compact everything (benchmark: size on disk).
    Status compact_all();
    // A consistent copy of the whole store at `dir` (a RocksDB checkpoint:
    // hard links where `dir` is on the store's file system, so it is quick
    // and small), taken while writes go on; `dir` must not exist. Any
    // thread. Errors: unsupported (read-only), io_error.
    Status checkpoint(const std::filesystem::path& dir);
    // Secondary: see the primary's latest writes.
    Status catch_up() { return db_->catch_up(); }

    bool read_only() const { return db_->read_only(); }
    // The zone of the day rollups (recorded at creation, StoreOptions::day_zone).
    const TimeZone& day_zone() const { return query_->grid().day_zone(); }
    const StoreOptions& options() const { return options_; }
    StoreDb& db() { return *db_; }
    uint64_t samples_written() const { return writer_->samples_written(); }
    uint64_t samples_not_written() const { return samples_not_written_.load(); }
    // Samples refused at ingest for their time, by reason.
    struct Refused {
        uint64_t too_old = 0;        // before accept_from
        uint64_t too_far_ahead = 0;  // after now + accept_ahead
        uint64_t total() const { return too_old + too_far_ahead; }
    };
    Refused samples_refused() const { return {refused_old_.load(), refused_ahead_.load()}; }
    // The plausible window of sample times now: [first, second] (UTC ms).
    std::pair<int64_t, int64_t> accept_window() const;
    bool accept_window_holds(int64_t ts) const {
        const auto [lo, hi] = accept_window();
        return ts >= lo && ts <= hi;
    }
    // Whether writes succeed now, since when they fail and why.
    WriteHealth health() const { return db_->health(); }
    // The last error of a background task ("" if none).
    std::string background_error() const;

private:
    Store() = default;
    static Expected<std::unique_ptr<Store>> open_impl(const StoreOptions& options, SeriesRegistry* registry,
                                                      OpenMode mode);
    // The zone of the day rows: the one recorded in the store; a new store
    // records options.day_zone, an older one with rollups UTC.
    static Expected<TimeZone> day_zone_of(StoreDb& db, const StoreOptions& options);
    void maintenance_loop();
    void sync_loop();
    void set_background_error(const Status& st);
    void clear_background_error();
    // Writes the samples inside the plausible window through `write`, counts the others.
    template <class S, class Write>
    Status append_window(std::span<const S> samples, Write write);
    Status counted(Status st, size_t n) {
        if (!st) samples_not_written_ += n;
        return st;
    }

    StoreOptions options_;
    std::unique_ptr<StoreDb> db_;
    std::unique_ptr<RegistryBackend> backend_;
    std::unique_ptr<SeriesRegistry> owned_registry_;
    SeriesRegistry* registry_ = nullptr;
    std::unique_ptr<ChunkWriter> writer_;
    std::unique_ptr<Roller> roller_;
    std::unique_ptr<QueryEngine> query_;
    std::unique_ptr<EventLog> events_;
    std::unique_ptr<StateStore> state_;
    std::unique_ptr<Outbox> outbox_;
    std::unique_ptr<DiskBudget> budget_;

    std::mutex roll_mu_;  // one roll pass at a time
    mutable std::mutex bg_mu_;
    std::condition_variable bg_cv_;
    bool stopping_ = false;
    std::string bg_error_;
    std::atomic<uint64_t> samples_not_written_{0};
    std::atomic<uint64_t> refused_old_{0}, refused_ahead_{0};
    std::thread maintenance_;
    std::thread syncer_;
};

}  // namespace gridlet::store
