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

#include "store/aggregation.h"
#include "store/chunk_codec.h"
#include "store/db.h"

namespace gridlet::store {

class ChunkReader {
public:
    explicit ChunkReader(const StoreDb& db, const rocksdb::Snapshot* snapshot = nullptr);

    // Calls fn with the samples of `series` in [from, to), in time order, a
    // run (at most one chunk) at a time. A non-ok Status from fn ends the
    // scan with it.
    Status scan(uint32_t series, int64_t from, int64_t to, const std::function<Status(std::span<const Sample>)>& fn);

    // The latest sample (any quality) and the earliest sample.
    Expected<std::optional<Sample>> last(uint32_t series);
    Expected<std::optional<Sample>> first(uint32_t series);
    // Up to n good samples (is_good) before t, nearest first; up to n at or after t, nearest first.
    Status good_before(uint32_t series, int64_t t, size_t n, std::vector<Sample>& out);
    Status good_from(uint32_t series, int64_t t, size_t n, std::vector<Sample>& out);

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

// The raw samples of one series as a forward cursor (aggregation.h): keeps
// the chunk it is in decoded, moves to the next chunk or seeks far ahead,
// so a walk over a range decodes each chunk once. One thread.
class ChunkCursor final : public SampleSource {
public:
    ChunkCursor(const StoreDb& db, const rocksdb::Snapshot* snapshot, uint32_t series);
    Status read(int64_t a, int64_t b, const std::function<void(std::span<const Sample>)>& fn) override;
    Expected<std::optional<int64_t>> next_time(int64_t t) override;
    Status good_before(int64_t t, size_t n, std::vector<Sample>& out) override;
    Status good_from(int64_t t, size_t n, std::vector<Sample>& out) override;
    // Told the number of samples of each chunk decoded; a non-ok Status
    // ends the read that decoded it (QueryLimit::meter).
    void set_meter(std::function<Status(uint64_t)> meter) { meter_ = std::move(meter); }

private:
    // Positions on the chunk responsible for t: [region_lo_, region_hi_) holds t.
    Status seek(int64_t t);
    // Decodes the chunk the iterator is on and steps the iterator to the next one.
    Status load(int64_t region_lo);
    bool holds(int64_t t) const { return loaded_ && t >= known_lo_ && t < region_hi_; }

    const StoreDb& db_;
    uint32_t series_;
    std::string prefix_;
    ChunkReader reader_;  // lookups outside the current chunk
    std::unique_ptr<rocksdb::Iterator> it_;
    std::string upper_;
    rocksdb::Slice upper_slice_;
    const rocksdb::Snapshot* snapshot_;
    std::vector<Sample> buf_;
    bool loaded_ = false;
    int64_t region_lo_ = 0, region_hi_ = 0;
    std::function<Status(uint64_t)> meter_;
    int64_t known_lo_ = 0;  // buf_ holds every sample in [known_lo_, region_hi_) (known_lo_ <= region_lo_ after a walk past empty chunks)
};

}  // namespace gridlet::store
