// ChunkWriter: appends sample batches to the chunks family.
//
// Each series has one open chunk (the latest). A batch is grouped by series,
// sorted by time, and written as Merge operands (chunk_merge.h): never one
// key per sample, never a read-modify-write of a chunk. One WriteBatch per
// append(), so a batch is atomic; append() returns only once the batch is in
// the RocksDB WAL (and fsynced with sync = batch): that is the ack.
//
// Out-of-order and duplicates (the documented rule):
//   * an equal timestamp overwrites (value and quality); within one batch
//     the later sample in batch order wins;
//   * late samples are accepted at any age and merged into the chunk that
//     covers their time; nothing is dropped for being late;
//   * a sample at or before the series' latest time (late, or overwriting)
//     marks its 1-minute bucket dirty (rollup_meta 'D' key, same batch) once
//     the series has rollups, so the roller recomputes what it changes.
// A sample whose value is not finite (NaN, +-inf) is stored with quality 0:
// it is bad data (aggregation.h).
// The open chunk is closed after chunk_max_samples samples or once a sample
// is chunk_max_span_ms after its start; the next in-order sample starts a
// new chunk keyed by its own time.
//
// Threads: append() and the roller's claim/release are safe from any thread;
// they serialise on one mutex (RocksDB serialises writes anyway). State of a
// series is loaded from the database the first time it is written.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <gridlet/plugin.h>

#include "core/series_registry.h"
#include "store/chunk_codec.h"
#include "store/db.h"

namespace gridlet::store {

// Work for the roller: recompute rollups of `series` over [from, to)
// (from == kFromStart: from the series' first sample).
struct RollClaim {
    static constexpr int64_t kFromStart = std::numeric_limits<int64_t>::min();
    uint32_t series = 0;
    int64_t from = kFromStart;
    int64_t to = 0;
};

class ChunkWriter {
public:
    // `registry` (nullable, borrowed) tells counters from other series.
    ChunkWriter(StoreDb& db, const StoreOptions& options, const SeriesRegistry* registry = nullptr);

    // Appends a batch (any order, any series). Samples with series_id 0 make
    // the whole batch invalid_argument; nothing is written then.
    Status append(std::span<const gl_sample> batch);
    Status append(uint32_t series, std::span<const Sample> samples);

    // Roller side. Claims, for every series written since it was loaded, the
    // minutes not rolled up yet that are final: those before the minute of
    // the newest sample, for counters of the second newest good sample (a
    // counter interval is settled by the two good readings after it,
    // aggregation.h), and takes a snapshot that holds
    // every sample written before the claim (release it with
    // db->ReleaseSnapshot). From now on samples older than the claim are
    // late (dirty-marked).
    std::vector<RollClaim> claim_rollups(const rocksdb::Snapshot** snapshot);
    // A claim whose rollups could not be written: back to `from`.
    void release_claim(const RollClaim& c);

    // The latest timestamp written to `series` by this process (or loaded).
    std::optional<int64_t> last_ts(uint32_t series) const;

    uint64_t samples_written() const { return samples_written_.load(std::memory_order_relaxed); }

private:
    struct SeriesState {  // 56 bytes: 100,000 series take 5.6 MB
        int64_t chunk_start = 0;
        int64_t last_ts = std::numeric_limits<int64_t>::min();
        // The two newest good samples' times, newest first (kMinTs: none).
        int64_t good_ts[2] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()};
        int64_t claim = std::numeric_limits<int64_t>::min();  // minutes < claim are rolled or being rolled
        uint32_t chunk_count = 0;
        uint32_t epoch = 0;  // batch grouping
        uint32_t slot = 0;
        bool loaded = false;
        bool has_chunk = false;
        bool counter = false;
    };

    Status load(uint32_t id, SeriesState& st);
    // Adds the writes of one series' sorted, deduplicated samples to batch_.
    Status write_series(uint32_t id, SeriesState& st, std::span<const Sample> samples);
    Status commit();

    StoreDb& db_;
    const SeriesRegistry* registry_;
    const uint32_t max_samples_;
    const int64_t max_span_;
    mutable std::mutex mu_;
    std::vector<SeriesState> states_;  // index: series id
    uint32_t epoch_ = 0;
    uint64_t dirty_seq_ = 0;
    std::atomic<uint64_t> samples_written_{0};
    // Scratch, reused across batches (under mu_).
    rocksdb::WriteBatch batch_;
    std::vector<uint32_t> group_ids_;
    std::vector<uint32_t> group_count_;
    std::vector<size_t> group_offset_;
    std::vector<Sample> flat_;
    std::vector<std::pair<uint32_t, SeriesState>> updates_;
    std::string operand_;
    std::vector<int64_t> dirty_minutes_;
};

}  // namespace gridlet::store
