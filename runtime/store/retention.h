// Retention: data older than its resolution's retention is dropped by
// RocksDB compaction filters, in background compactions, so enforcing it
// never stalls writes. The cutoffs (now - retention) are atomics that the
// store's maintenance thread refreshes; periodic compaction
// (StoreOptions::retention_compaction_interval_ms) makes sure every file is
// filtered eventually, and Store::enforce_retention() compacts at once.
//
//   chunks:  a chunk (or merge operand) goes once its last sample < cutoff
//   rollups: a row goes once its bucket ends at or before the cutoff
//   events:  an event goes once its ts < cutoff
//
// RetentionCutoffs is thread-safe. The factories hold a shared_ptr to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include <rocksdb/compaction_filter.h>

#include "store/keys.h"
#include "store/options.h"

namespace gridlet::store {

class RetentionCutoffs {
public:
    static constexpr int64_t kKeepAll = std::numeric_limits<int64_t>::min();

    // Recomputes every cutoff as now_ms - retention (kKeepAll for 0).
    void update(int64_t now_ms, const RetentionOptions& r);

    int64_t raw() const { return raw_.load(std::memory_order_relaxed); }
    int64_t rollup(Resolution r) const { return rollup_[static_cast<int>(r) - 1].load(std::memory_order_relaxed); }
    int64_t events() const { return events_.load(std::memory_order_relaxed); }

private:
    std::atomic<int64_t> raw_{kKeepAll};
    std::atomic<int64_t> rollup_[4] = {kKeepAll, kKeepAll, kKeepAll, kKeepAll};
    std::atomic<int64_t> events_{kKeepAll};
};

std::shared_ptr<rocksdb::CompactionFilterFactory> chunk_retention_filter(std::shared_ptr<const RetentionCutoffs> c);
std::shared_ptr<rocksdb::CompactionFilterFactory> rollup_retention_filter(std::shared_ptr<const RetentionCutoffs> c);
std::shared_ptr<rocksdb::CompactionFilterFactory> event_retention_filter(std::shared_ptr<const RetentionCutoffs> c);

}  // namespace gridlet::store
