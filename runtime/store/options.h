// StoreOptions: everything that configures the store, and the `[store]` table
// of a site file that builds them. Plain values; any thread.
//
// Site loader contract (names kept stable):
//   store_config_keys()            the KeySpecs of [store] for validate_table
//   store_options_from_json(j, d)  StoreOptions from the validated JSON;
//                                  a relative `path` is resolved against `d`
//                                  (the site file's folder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config_schema.h"
#include "core/status.h"

namespace rocksdb {
class Env;
}

namespace gridlet::store {

// When an acknowledged write reaches the disk (it always is in the WAL, so it
// survives the process being killed; this is about power loss).
enum class SyncPolicy {
    none,      // the OS writes the WAL back when it likes
    interval,  // a background thread fsyncs the WAL every sync_interval_ms
    batch,     // every append() fsyncs before it returns
};
const char* sync_policy_name(SyncPolicy p) noexcept;

// How long each resolution is kept, in ms; 0 keeps it forever.
struct RetentionOptions {
    int64_t raw_ms = 90LL * 86'400'000;
    int64_t min1_ms = 365LL * 86'400'000;
    int64_t min15_ms = 0;
    int64_t hour1_ms = 0;
    int64_t day1_ms = 0;
    int64_t events_ms = 365LL * 86'400'000;
};

struct StoreOptions {
    std::filesystem::path path;  // the RocksDB directory

    SyncPolicy sync = SyncPolicy::interval;
    int64_t sync_interval_ms = 1000;

    // Memory: one LRU block cache shared by every column family (index and
    // filter blocks included), and a budget for all memtables together.
    size_t block_cache_bytes = 8u << 20;
    size_t memtable_budget_bytes = 16u << 20;
    size_t chunk_write_buffer_bytes = 4u << 20;  // memtable of the chunks family

    // A series' open chunk is closed after this many samples or this span.
    uint32_t chunk_max_samples = 1024;
    int64_t chunk_max_span_ms = 86'400'000;

    // The plausible window of sample times (UTC ms): samples before
    // accept_from_ms or more than accept_ahead_ms after the clock's now are
    // refused at ingest and counted (Store::samples_refused): a seconds or
    // microseconds timestamp among milliseconds, a device clock at 1970 or
    // 2038. Both ends stay within years 0001..9999 (aggregation.h).
    int64_t accept_from_ms = 946'684'800'000;  // 2000-01-01T00:00:00Z
    int64_t accept_ahead_ms = 86'400'000;      // 1 day

    // Whether opening may create a store where there is none (a missing
    // folder, or one without database files). Either way a store that existed
    // and is gone is refused (store/db.h, "creation record"); with
    // create_if_missing = false only `gridlet store init` creates one (an
    // appliance whose store is on a disk that may fail to mount).
    bool create_if_missing = true;
    bool creating = false;  // internal: init_store() creates over a creation record

    // The time zone of the 1-day rollups (IANA name; "" = UTC), normally the
    // site's [site] timezone: day rows then serve local calendar days, weeks,
    // months and years. Recorded in the store when it is created and kept for
    // its life (Store::day_zone()); a store created before this existed has
    // UTC day rows.
    std::string day_zone;

    // How often the background roller brings rollups up to date.
    int64_t rollup_interval_ms = 1000;

    RetentionOptions retention;
    // false: this opener does not know the site's retention (a CLI command
    // given --db, not --config), so nothing expires while it has the store
    // open: the cutoffs stay "keep all" (the rollup policy still follows
    // `retention`).
    bool apply_retention = true;
    // Files older than this are recompacted so that retention applies even to
    // data that is never rewritten otherwise (RocksDB periodic compaction).
    int64_t retention_compaction_interval_ms = 86'400'000;

    // Store-and-forward: the oldest entries of a queue are dropped beyond this.
    uint64_t outbox_max_entries = 1'000'000;

    // The disk budget (store/disk_budget.h): the store's folder kept under
    // max_size_bytes, and the disk's free space above min_free_bytes (0: no
    // such limit), checked every budget_check_interval_ms; over it, data is
    // shed in a documented order.
    uint64_t max_size_bytes = 0;
    uint64_t min_free_bytes = 0;
    int64_t budget_check_interval_ms = 30'000;

    int max_background_jobs = 2;

    // Wall clock used for retention cutoffs (tests pass a ManualClock).
    // Not owned; must outlive the store. nullptr: the system clock.
    const Clock* clock = nullptr;
    // While writes fail (full disk, read-only filesystem), how often the
    // store tries to resume them (RocksDB DB::Resume()).
    int64_t resume_interval_ms = 5000;
    // The RocksDB Env to use (tests: a fault-injecting filesystem).
    // nullptr: the default Env.
    std::shared_ptr<rocksdb::Env> env;
};

std::vector<config::KeySpec> store_config_keys();

// `j` is the output of validate_table(store_config_keys()); checks the
// cross-key rules (retention of a resolution >= that of the finer ones).
Expected<StoreOptions> store_options_from_json(const nlohmann::json& j, const std::filesystem::path& base_dir = {});

// Checks values that do not come from JSON (tests, embedders).
Status validate_options(const StoreOptions& o);

}  // namespace gridlet::store
