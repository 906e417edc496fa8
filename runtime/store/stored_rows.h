// StoredRows: the rollup rows of one series in the rollups family, as the
// RowSource the aggregator reads (aggregation.h). One forward iterator per
// resolution, created on first use; a lookup just after the previous one is
// a Next(), a far one a Seek().
//
// Reads at `snapshot`, or at the latest state when it is null (the roller,
// which reads the finer rows it has just written: create a new StoredRows
// after each write). One thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/db.h>

#include "store/aggregation.h"
#include "store/db.h"

namespace gridlet::store {

class StoredRows final : public RowSource {
public:
    StoredRows(const StoreDb& db, const rocksdb::Snapshot* snapshot, uint32_t series)
        : db_(db), snapshot_(snapshot), series_(series) {}
    Expected<std::optional<int64_t>> next_row(Resolution r, int64_t t) override;
    Expected<RollupRow> row_at(Resolution r) override;

private:
    struct Level {
        std::unique_ptr<rocksdb::Iterator> it;
        std::string upper;
        rocksdb::Slice upper_slice;
        bool positioned = false;
        bool at_end = false;
        int64_t at = 0;  // start of the row the iterator is on
    };
    Level& level(Resolution r);
    Status settle(Level& l);

    const StoreDb& db_;
    const rocksdb::Snapshot* snapshot_;
    uint32_t series_;
    std::array<Level, kResolutions.size()> levels_;
};

}  // namespace gridlet::store
