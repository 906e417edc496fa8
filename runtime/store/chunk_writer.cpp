#include "store/chunk_writer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "store/chunk_reader.h"
#include "store/keys.h"

namespace gridlet::store {

namespace {
constexpr int64_t kMinute = 60'000;
}  // namespace

ChunkWriter::ChunkWriter(StoreDb& db, const StoreOptions& o, const SeriesRegistry* registry)
    : db_(db), registry_(registry), max_samples_(o.chunk_max_samples), max_span_(o.chunk_max_span_ms) {
    // Dirty-marker sequence numbers grow across restarts (see roller.h).
    dirty_seq_ = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

Status ChunkWriter::load(uint32_t id, SeriesState& st) {
    if (registry_)
        if (auto m = registry_->get(id)) st.counter = m->kind == SeriesKind::counter;
    ChunkReader reader(db_);
    auto last = reader.last_chunk(id);
    if (!last) return last.status();
    if (*last) {
        st.has_chunk = true;
        st.chunk_start = (*last)->start;
        st.chunk_count = (*last)->header.count;
        st.last_ts = (*last)->header.last_ts;
        std::vector<Sample> good;
        if (Status g = reader.good_before(id, std::numeric_limits<int64_t>::max(), 2, good); !g) return g;
        for (size_t i = 0; i < good.size(); ++i) st.good_ts[i] = good[i].ts;
    }
    std::string w;
    auto rs = db_.db()->Get(rocksdb::ReadOptions(), db_.cf(Cf::rollup_meta), watermark_key(id), &w);
    if (rs.ok() && w.size() == 8) st.claim = get_time(w.data());
    else if (!rs.ok() && !rs.IsNotFound()) return db_.convert(rs, "read rollup watermark");
    st.loaded = true;
    return Status::ok();
}

Status ChunkWriter::write_series(uint32_t id, SeriesState& st, std::span<const Sample> samples) {
    const size_t n = samples.size();
    const int64_t last_before = st.last_ts;
    if (!st.has_chunk) {
        st.has_chunk = true;
        st.chunk_start = samples.front().ts;
        st.chunk_count = 0;
    }
    auto emit = [&](int64_t start, size_t from, size_t to) {
        operand_.clear();
        encode_chunk(std::span<const Sample>(samples.data() + from, to - from), operand_);
        batch_.Merge(db_.cf(Cf::chunks), chunk_key(id, start), operand_);
    };
    // Late samples (before the open chunk) go to the chunk covering them.
    size_t k = static_cast<size_t>(
        std::lower_bound(samples.begin(), samples.end(), st.chunk_start,
                         [](const Sample& s, int64_t t) { return s.ts < t; }) -
        samples.begin());
    if (k > 0) {
        rocksdb::ReadOptions ro;
        std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.cf(Cf::chunks)));
        const std::string prefix = series_prefix(id);
        size_t i = 0;
        while (i < k) {
            it->SeekForPrev(chunk_key(id, samples[i].ts));
            if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(chunk_key(id, kMinTs));
            if (!it->status().ok()) return db_.convert(it->status(), "find the chunk of a late sample");
            int64_t target = st.chunk_start;
            if (it->Valid() && it->key().starts_with(prefix)) target = get_time(it->key().data() + 4);
            // Every later late sample before the next chunk's start goes to the same chunk.
            int64_t next_start = st.chunk_start;
            if (it->Valid() && it->key().starts_with(prefix)) {
                it->Next();
                if (it->Valid() && it->key().starts_with(prefix)) next_start = get_time(it->key().data() + 4);
            }
            if (target > samples[i].ts) next_start = target;  // before the first chunk
            size_t j = i + 1;
            while (j < k && samples[j].ts < next_start) ++j;
            emit(target, i, j);
            i = j;
        }
    }
    // In-order samples: the open chunk, closed when full.
    size_t run = k;
    for (size_t i = k; i < n; ++i) {
        const Sample& s = samples[i];
        if (s.ts > st.last_ts && (st.chunk_count >= max_samples_ || s.ts - st.chunk_start >= max_span_)) {
            if (i > run) emit(st.chunk_start, run, i);
            st.chunk_start = s.ts;
            st.chunk_count = 0;
            run = i;
        }
        ++st.chunk_count;
        if (s.ts > st.last_ts) st.last_ts = s.ts;
    }
    if (n > run) emit(st.chunk_start, run, n);
    // Late and overwriting samples make their minute dirty once rollups exist.
    if (st.claim != kMinTs && samples.front().ts <= last_before) {
        int64_t prev_minute = kMinTs;
        for (const Sample& s : samples) {
            if (s.ts > last_before) break;
            int64_t m = floor_to(s.ts, kMinute);
            if (m == prev_minute) continue;
            prev_minute = m;
            batch_.Put(db_.cf(Cf::rollup_meta), dirty_key(id, m, ++dirty_seq_), rocksdb::Slice());
        }
    }
    // The two newest good times (the roller's claim).
    for (const Sample& s : samples) {
        if (!is_good(s) || s.ts <= st.good_ts[1] || s.ts == st.good_ts[0]) continue;
        if (s.ts > st.good_ts[0]) {
            st.good_ts[1] = st.good_ts[0];
            st.good_ts[0] = s.ts;
        } else {
            st.good_ts[1] = s.ts;
        }
    }
    return Status::ok();
}

Status ChunkWriter::append(std::span<const gl_sample> batch) {
    if (batch.empty()) return Status::ok();
    std::lock_guard lock(mu_);
    if (++epoch_ == 0) {  // wrapped: no state may look grouped already
        for (SeriesState& st : states_) st.epoch = 0;
        epoch_ = 1;
    }
    // Group by series without sorting the batch: count, then scatter.
    group_ids_.clear();
    group_count_.clear();
    for (const gl_sample& s : batch) {
        if (s.series_id == 0) return Status::invalid("store: append: a sample has series id 0 (unregistered series)");
        if (s.series_id >= states_.size()) states_.resize(static_cast<size_t>(s.series_id) + 1);
        SeriesState& st = states_[s.series_id];
        if (st.epoch != epoch_) {
            st.epoch = epoch_;
            st.slot = static_cast<uint32_t>(group_ids_.size());
            group_ids_.push_back(s.series_id);
            group_count_.push_back(0);
        }
        ++group_count_[st.slot];
    }
    const size_t groups = group_ids_.size();
    group_offset_.assign(groups + 1, 0);
    for (size_t g = 0; g < groups; ++g) group_offset_[g + 1] = group_offset_[g] + group_count_[g];
    flat_.resize(batch.size());
    for (size_t g = 0; g < groups; ++g) group_count_[g] = static_cast<uint32_t>(group_offset_[g]);  // cursors
    for (const gl_sample& s : batch)
        flat_[group_count_[states_[s.series_id].slot]++] =
            Sample{s.ts_ms, s.value, std::isfinite(s.value) ? s.quality : uint8_t{0}};

    batch_.Clear();
    updates_.clear();
    uint64_t written = 0;
    for (size_t g = 0; g < groups; ++g) {
        uint32_t id = group_ids_[g];
        SeriesState next = states_[id];
        if (!next.loaded) {
            Status st = load(id, next);
            if (!st) return st;
        }
        std::span<Sample> group(flat_.data() + group_offset_[g], group_offset_[g + 1] - group_offset_[g]);
        group = group.first(sort_and_dedup(group));
        Status st = write_series(id, next, group);
        if (!st) return st;
        updates_.emplace_back(id, next);
        written += group.size();
    }
    Status st = commit();
    if (st) samples_written_ += written;
    return st;
}

Status ChunkWriter::append(uint32_t series, std::span<const Sample> samples) {
    if (series == 0) return Status::invalid("store: append: series id 0 (unregistered series)");
    if (samples.empty()) return Status::ok();
    std::lock_guard lock(mu_);
    if (series >= states_.size()) states_.resize(static_cast<size_t>(series) + 1);
    SeriesState next = states_[series];
    if (!next.loaded) {
        Status st = load(series, next);
        if (!st) return st;
    }
    flat_.assign(samples.begin(), samples.end());
    for (Sample& s : flat_)
        if (!std::isfinite(s.value)) s.quality = 0;
    std::span<Sample> group(flat_);
    group = group.first(sort_and_dedup(group));
    batch_.Clear();
    Status st = write_series(series, next, group);
    if (!st) return st;
    updates_.clear();
    updates_.emplace_back(series, next);
    st = commit();
    if (st) samples_written_ += group.size();
    return st;
}

Status ChunkWriter::commit() {
    Status st = db_.write(batch_, "append samples");
    if (!st) return st;
    for (auto& [id, s] : updates_) states_[id] = s;
    // Scratch sized by an unusually large batch is given back.
    if (batch_.GetDataSize() > (8u << 20)) batch_ = rocksdb::WriteBatch();
    if (flat_.capacity() > (1u << 20)) std::vector<Sample>().swap(flat_);
    if (updates_.capacity() > (1u << 16)) decltype(updates_)().swap(updates_);
    return Status::ok();
}

std::vector<RollClaim> ChunkWriter::claim_rollups(const rocksdb::Snapshot** snapshot) {
    std::vector<RollClaim> out;
    std::lock_guard lock(mu_);
    for (uint32_t id = 1; id < states_.size(); ++id) {
        SeriesState& st = states_[id];
        const int64_t settled = st.counter ? st.good_ts[1] : st.last_ts;
        if (!st.loaded || settled == kMinTs) continue;
        int64_t m = floor_to(settled, kMinute);
        if (st.claim != kMinTs && m <= st.claim) continue;
        out.push_back(RollClaim{id, st.claim == kMinTs ? RollClaim::kFromStart : st.claim, m});
        st.claim = m;
    }
    *snapshot = db_.db()->GetSnapshot();
    return out;
}

void ChunkWriter::release_claim(const RollClaim& c) {
    std::lock_guard lock(mu_);
    if (c.series < states_.size() && states_[c.series].claim == c.to)
        states_[c.series].claim = c.from == RollClaim::kFromStart ? kMinTs : c.from;
}

std::optional<int64_t> ChunkWriter::last_ts(uint32_t series) const {
    std::lock_guard lock(mu_);
    if (series >= states_.size() || !states_[series].loaded || states_[series].last_ts == kMinTs) return std::nullopt;
    return states_[series].last_ts;
}

}  // namespace gridlet::store
