#include "store/stored_rows.h"

#include "store/keys.h"

namespace gridlet::store {

StoredRows::Level& StoredRows::level(Resolution r) {
    Level& l = levels_[static_cast<size_t>(r) - 1];
    if (!l.it) {
        std::string prefix = series_prefix(series_);
        prefix.push_back(static_cast<char>(r));
        l.upper = prefix_end(prefix);
        l.upper_slice = rocksdb::Slice(l.upper);
        rocksdb::ReadOptions ro;
        ro.snapshot = snapshot_;
        ro.iterate_upper_bound = &l.upper_slice;
        l.it.reset(db_.db()->NewIterator(ro, db_.cf(Cf::rollups)));
    }
    return l;
}

Status StoredRows::settle(Level& l) {
    l.positioned = true;
    if (l.it->Valid()) {
        l.at_end = false;
        l.at = get_time(l.it->key().data() + 5);
        return Status::ok();
    }
    l.at_end = true;
    if (!l.it->status().ok()) return db_.convert(l.it->status(), "read rollups");
    return Status::ok();
}

Expected<std::optional<int64_t>> StoredRows::next_row(Resolution r, int64_t t) {
    Level& l = level(r);
    if (l.positioned && l.at_end) return std::optional<int64_t>();
    if (!l.positioned || l.at < t) {
        if (l.positioned) {  // usually the next row is the one wanted
            l.it->Next();
            if (Status st = settle(l); !st) return st;
        }
        if (!l.positioned || (!l.at_end && l.at < t)) {
            l.it->Seek(rollup_key(series_, r, t));
            if (Status st = settle(l); !st) return st;
        }
    }
    if (l.at_end) return std::optional<int64_t>();
    return std::optional<int64_t>(l.at);
}

Expected<RollupRow> StoredRows::row_at(Resolution r) {
    Level& l = level(r);
    if (!l.positioned || l.at_end) return Status::internal("rollups: no row under the cursor");
    auto row = decode_row(std::string_view(l.it->value().data(), l.it->value().size()), l.at);
    if (!row) return row.status().with_context("store " + db_.path() + ": series " + std::to_string(series_));
    return row;
}

}  // namespace gridlet::store
