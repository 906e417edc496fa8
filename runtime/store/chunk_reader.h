// ChunkReader: reads the raw samples of one series from the chunks family.
//
// Chunk invariant (kept by ChunkWriter): chunks of a series are keyed by
// their start; every sample of chunk K is earlier than the start of chunk
// K+1; only the first chunk may hold samples earlier than its own start
// (late samples older than the whole series). So a range [from, to) starts
// at the last chunk whose start <= from (or the first chunk).
//
// One reader per thread; it borrows the StoreDb and an optional snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <rocksdb/db.h>

#include "store/chunk_codec.h"
#include "store/db.h"

namespace gridlet::store {

class ChunkReader {
public:
    explicit ChunkReader(const StoreDb& db, const rocksdb::Snapshot* snapshot = nullptr);

    // Calls fn with the samples of `series` in [from, to), in time order, a
    // run at a time. If `after` is given it receives the first good sample
    // (quality > 0, not NaN) with ts >= to (nullopt if none): the end of the
    // last counter interval starting in the range.
    Status scan(uint32_t series, int64_t from, int64_t to, const std::function<void(std::span<const Sample>)>& fn,
                std::optional<Sample>* after = nullptr);

    // The latest sample, the earliest sample, and the latest good sample
    // (quality > 0) strictly before `t`.
    Expected<std::optional<Sample>> last(uint32_t series);
    Expected<std::optional<Sample>> first(uint32_t series);
    Expected<std::optional<Sample>> last_good_before(uint32_t series, int64_t t);

    // Chunk-level metadata of the last chunk (the writer's recovery).
    struct ChunkInfo {
        int64_t start = 0;
        ChunkHeader header;
    };
    Expected<std::optional<ChunkInfo>> last_chunk(uint32_t series);

private:
    std::unique_ptr<rocksdb::Iterator> iterator(uint32_t series);
    Status decode(const rocksdb::Iterator& it);

    const StoreDb& db_;
    const rocksdb::Snapshot* snapshot_;
    std::string upper_;
    rocksdb::Slice upper_slice_;
    std::vector<Sample> buf_;
};

}  // namespace gridlet::store
