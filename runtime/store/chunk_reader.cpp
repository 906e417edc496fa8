#include "store/chunk_reader.h"

#include <algorithm>
#include <limits>

#include "store/keys.h"

namespace gridlet::store {

namespace {
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();
}  // namespace

ChunkReader::ChunkReader(const StoreDb& db, const rocksdb::Snapshot* snapshot) : db_(db), snapshot_(snapshot) {}

std::unique_ptr<rocksdb::Iterator> ChunkReader::iterator(uint32_t series) {
    upper_ = prefix_end(series_prefix(series));
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    // upper_ and its slice live in this reader and outlive the iterator (one at a time).
    upper_slice_ = rocksdb::Slice(upper_);
    ro.iterate_upper_bound = upper_.empty() ? nullptr : &upper_slice_;
    ro.readahead_size = 256 * 1024;
    return std::unique_ptr<rocksdb::Iterator>(db_.db()->NewIterator(ro, db_.cf(Cf::chunks)));
}

Status ChunkReader::decode(const rocksdb::Iterator& it) {
    buf_.clear();
    if (it.value().empty()) return Status::ok();  // every piece of a merge was dropped
    Status st = decode_chunk(std::string_view(it.value().data(), it.value().size()), buf_);
    if (!st) return st.with_context("store " + db_.path() + ": series " + std::to_string(get_be32(it.key().data())));
    return Status::ok();
}

Status ChunkReader::scan(uint32_t series, int64_t from, int64_t to,
                         const std::function<Status(std::span<const Sample>)>& fn) {
    auto it = iterator(series);
    const std::string prefix = series_prefix(series);
    it->SeekForPrev(chunk_key(series, from));
    if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(chunk_key(series, kMinTs));
    for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
        int64_t start = get_time(it->key().data() + 4);
        if (start >= to) break;
        Status st = decode(*it);
        if (!st) return st;
        auto lo = std::lower_bound(buf_.begin(), buf_.end(), from, [](const Sample& s, int64_t t) { return s.ts < t; });
        auto hi = std::lower_bound(lo, buf_.end(), to, [](const Sample& s, int64_t t) { return s.ts < t; });
        if (hi != lo)
            if (Status st = fn(std::span<const Sample>(&*lo, static_cast<size_t>(hi - lo))); !st) return st;
        if (hi != buf_.end()) break;
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    return Status::ok();
}

Expected<std::optional<ChunkReader::ChunkInfo>> ChunkReader::last_chunk(uint32_t series) {
    auto it = iterator(series);
    it->SeekForPrev(chunk_key(series, kMaxTs));
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    if (!it->Valid() || !it->key().starts_with(series_prefix(series))) return std::optional<ChunkInfo>();
    ChunkInfo info;
    info.start = get_time(it->key().data() + 4);
    if (it->value().empty()) return std::optional<ChunkInfo>();
    auto h = peek_chunk_header(std::string_view(it->value().data(), it->value().size()));
    if (!h) return h.status().with_context("store " + db_.path() + ": series " + std::to_string(series));
    info.header = *h;
    return std::optional<ChunkInfo>(info);
}

Expected<std::optional<Sample>> ChunkReader::last(uint32_t series) {
    auto it = iterator(series);
    const std::string prefix = series_prefix(series);
    it->SeekForPrev(chunk_key(series, kMaxTs));
    // The last chunk may have lost every piece in a merge: walk back.
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
        Status st = decode(*it);
        if (!st) return st;
        if (!buf_.empty()) return std::optional<Sample>(buf_.back());
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    return std::optional<Sample>();
}

Status ChunkReader::good_before(uint32_t series, int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    if (n == 0) return Status::ok();
    auto it = iterator(series);
    const std::string prefix = series_prefix(series);
    it->SeekForPrev(chunk_key(series, t == kMinTs ? t : t - 1));
    if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(chunk_key(series, kMinTs));
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
        Status st = decode(*it);
        if (!st) return st;
        for (auto s = buf_.rbegin(); s != buf_.rend(); ++s) {
            if (s->ts >= t || !is_good(*s)) continue;
            out.push_back(*s);
            if (out.size() == n) return Status::ok();
        }
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    return Status::ok();
}

Status ChunkReader::good_from(uint32_t series, int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    if (n == 0) return Status::ok();
    auto it = iterator(series);
    const std::string prefix = series_prefix(series);
    it->SeekForPrev(chunk_key(series, t));
    if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(chunk_key(series, kMinTs));
    for (; it->Valid() && it->key().starts_with(prefix); it->Next()) {
        Status st = decode(*it);
        if (!st) return st;
        auto from = std::lower_bound(buf_.begin(), buf_.end(), t, [](const Sample& s, int64_t v) { return s.ts < v; });
        for (auto s = from; s != buf_.end(); ++s) {
            if (!is_good(*s)) continue;
            out.push_back(*s);
            if (out.size() == n) return Status::ok();
        }
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    return Status::ok();
}

Expected<std::optional<Sample>> ChunkReader::first(uint32_t series) {
    auto it = iterator(series);
    it->Seek(chunk_key(series, kMinTs));
    if (!it->status().ok()) return db_.convert(it->status(), "read chunks");
    if (!it->Valid() || !it->key().starts_with(series_prefix(series))) return std::optional<Sample>();
    Status st = decode(*it);
    if (!st) return st;
    if (buf_.empty()) return std::optional<Sample>();
    return std::optional<Sample>(buf_.front());
}

// ---------------------------------------------------------------- ChunkCursor

ChunkCursor::ChunkCursor(const StoreDb& db, const rocksdb::Snapshot* snapshot, uint32_t series)
    : db_(db), series_(series), prefix_(series_prefix(series)), reader_(db, snapshot), snapshot_(snapshot) {
    upper_ = prefix_end(prefix_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.iterate_upper_bound = upper_.empty() ? nullptr : &upper_slice_;
    ro.readahead_size = 256 * 1024;
    it_.reset(db_.db()->NewIterator(ro, db_.cf(Cf::chunks)));
}

Status ChunkCursor::load(int64_t region_lo) {
    buf_.clear();
    if (!it_->value().empty()) {
        Status st = decode_chunk(std::string_view(it_->value().data(), it_->value().size()), buf_);
        if (!st) return st.with_context("store " + db_.path() + ": series " + std::to_string(series_));
        if (meter_)
            if (Status m = meter_(buf_.size()); !m) return m;
    }
    region_lo_ = known_lo_ = region_lo;
    it_->Next();
    if (it_->Valid() && it_->key().starts_with(prefix_)) {
        region_hi_ = get_time(it_->key().data() + 4);
    } else {
        if (!it_->status().ok()) return db_.convert(it_->status(), "read chunks");
        region_hi_ = kMaxTs;
    }
    loaded_ = true;
    return Status::ok();
}

Status ChunkCursor::seek(int64_t t) {
    it_->SeekForPrev(chunk_key(series_, t));
    int64_t lo = kMinTs;
    if (it_->Valid() && it_->key().starts_with(prefix_)) lo = get_time(it_->key().data() + 4);
    else it_->Seek(chunk_key(series_, kMinTs));
    if (!it_->status().ok()) return db_.convert(it_->status(), "read chunks");
    if (!it_->Valid() || !it_->key().starts_with(prefix_)) {  // no chunk at all
        buf_.clear();
        loaded_ = true;
        region_lo_ = known_lo_ = kMinTs;
        region_hi_ = kMaxTs;
        return Status::ok();
    }
    return load(lo);
}

Status ChunkCursor::read(int64_t a, int64_t b, const std::function<void(std::span<const Sample>)>& fn) {
    if (a >= b) return Status::ok();
    if (!holds(a))
        if (Status st = seek(a); !st) return st;
    for (;;) {
        auto lo = std::lower_bound(buf_.begin(), buf_.end(), a, [](const Sample& s, int64_t v) { return s.ts < v; });
        auto hi = std::lower_bound(lo, buf_.end(), b, [](const Sample& s, int64_t v) { return s.ts < v; });
        if (hi != lo) fn(std::span<const Sample>(&*lo, static_cast<size_t>(hi - lo)));
        if (region_hi_ >= b) return Status::ok();
        if (Status st = load(region_hi_); !st) return st;
    }
}

Expected<std::optional<int64_t>> ChunkCursor::next_time(int64_t t) {
    if (!holds(t))
        if (Status st = seek(t); !st) return st;
    bool moved = false;
    for (;;) {
        auto it = std::lower_bound(buf_.begin(), buf_.end(), t, [](const Sample& s, int64_t v) { return s.ts < v; });
        if (it != buf_.end()) {
            // Nothing lies in [t, region_lo_) when the earlier chunks had nothing >= t.
            if (moved) known_lo_ = t;
            return std::optional<int64_t>(it->ts);
        }
        if (region_hi_ == kMaxTs) return std::optional<int64_t>();
        if (Status st = load(region_hi_); !st) return st;
        moved = true;
    }
}

Status ChunkCursor::good_before(int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    if (loaded_ && t >= region_lo_ && t <= region_hi_) {
        auto from = std::lower_bound(buf_.begin(), buf_.end(), t, [](const Sample& s, int64_t v) { return s.ts < v; });
        for (auto s = from; s != buf_.begin() && out.size() < n;) {
            --s;
            if (is_good(*s)) out.push_back(*s);
        }
        if (out.size() == n || region_lo_ == kMinTs) return Status::ok();
    }
    return reader_.good_before(series_, t, n, out);
}

Status ChunkCursor::good_from(int64_t t, size_t n, std::vector<Sample>& out) {
    out.clear();
    if (!(loaded_ && t >= region_lo_ && t < region_hi_)) return reader_.good_from(series_, t, n, out);
    auto from = std::lower_bound(buf_.begin(), buf_.end(), t, [](const Sample& s, int64_t v) { return s.ts < v; });
    for (auto s = from; s != buf_.end() && out.size() < n; ++s)
        if (is_good(*s)) out.push_back(*s);
    if (out.size() == n || region_hi_ == kMaxTs) return Status::ok();
    std::vector<Sample> more;
    if (Status st = reader_.good_from(series_, region_hi_, n - out.size(), more); !st) return st;
    out.insert(out.end(), more.begin(), more.end());
    return Status::ok();
}

}  // namespace gridlet::store
