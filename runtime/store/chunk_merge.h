// The merge operator of the chunks column family. The writer never reads a
// chunk to append to it: it writes a Merge whose operand is itself an encoded
// chunk of the new samples. RocksDB combines operands with the stored chunk
// on reads, flushes and compactions: decode all, order by timestamp, keep the
// last write for equal timestamps (the duplicate rule), encode once.
//
// A piece that does not decode is dropped (and counted) rather than failing
// the merge: one bad chunk must not stop compactions of the whole database.
//
// Stateless apart from the counter; RocksDB calls it from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include <rocksdb/merge_operator.h>

namespace gridlet::store {

class ChunkMergeOperator final : public rocksdb::MergeOperator {
public:
    bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override;
    bool PartialMergeMulti(const rocksdb::Slice& key, const std::deque<rocksdb::Slice>& operands,
                           std::string* new_value, rocksdb::Logger* logger) const override;
    const char* Name() const override { return "gridlet.ChunkMerge.v1"; }

    // Merge inputs dropped because they did not decode.
    uint64_t corrupt_inputs() const { return corrupt_.load(std::memory_order_relaxed); }

private:
    mutable std::atomic<uint64_t> corrupt_{0};
};

}  // namespace gridlet::store
