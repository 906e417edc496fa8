#include "store/chunk_merge.h"

#include <vector>

#include "store/chunk_codec.h"

namespace gridlet::store {

namespace {
// Decodes `pieces` in order into one sorted, deduplicated run and encodes it.
template <class Pieces>
void merge_pieces(const rocksdb::Slice* base, const Pieces& pieces, std::string* out, std::atomic<uint64_t>& corrupt) {
    thread_local std::vector<Sample> samples;
    samples.clear();
    if (base && !decode_chunk(std::string_view(base->data(), base->size()), samples))
        corrupt.fetch_add(1, std::memory_order_relaxed);
    for (const rocksdb::Slice& op : pieces) {
        if (!decode_chunk(std::string_view(op.data(), op.size()), samples))
            corrupt.fetch_add(1, std::memory_order_relaxed);
    }
    sort_and_dedup(samples);
    out->clear();
    if (!samples.empty()) encode_chunk(samples, *out);
}
}  // namespace

bool ChunkMergeOperator::FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const {
    merge_pieces(in.existing_value, in.operand_list, &out->new_value, corrupt_);
    return true;
}

bool ChunkMergeOperator::PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands,
                                           std::string* new_value, rocksdb::Logger*) const {
    merge_pieces(nullptr, operands, new_value, corrupt_);
    return true;
}

}  // namespace gridlet::store
