#include "store/retention.h"

#include "store/chunk_codec.h"

namespace gridlet::store {

void RetentionCutoffs::update(int64_t now_ms, const RetentionOptions& r) {
    auto cut = [now_ms](int64_t keep) { return keep <= 0 ? kKeepAll : now_ms - keep; };
    raw_.store(cut(r.raw_ms), std::memory_order_relaxed);
    rollup_[0].store(cut(r.min1_ms), std::memory_order_relaxed);
    rollup_[1].store(cut(r.min15_ms), std::memory_order_relaxed);
    rollup_[2].store(cut(r.hour1_ms), std::memory_order_relaxed);
    rollup_[3].store(cut(r.day1_ms), std::memory_order_relaxed);
    events_.store(cut(r.events_ms), std::memory_order_relaxed);
}

namespace {
enum class Family { chunks, rollups, events };

class RetentionFilter final : public rocksdb::CompactionFilter {
public:
    RetentionFilter(Family f, const RetentionCutoffs& c) : family_(f), cutoffs_(c) {}

    Decision FilterV2(int, const rocksdb::Slice& key, ValueType type, const rocksdb::Slice& value, std::string*,
                      std::string*) const override {
        if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
        return expired(key, value) ? Decision::kRemove : Decision::kKeep;
    }
    const char* Name() const override { return "gridlet.RetentionFilter"; }

private:
    bool expired(const rocksdb::Slice& key, const rocksdb::Slice& value) const {
        switch (family_) {
            case Family::chunks: {
                int64_t cut = cutoffs_.raw();
                if (cut == RetentionCutoffs::kKeepAll || key.size() != 12) return false;
                auto h = peek_chunk_header(std::string_view(value.data(), value.size()));
                return h && h->last_ts < cut;
            }
            case Family::rollups: {
                if (key.size() != 13) return false;
                auto res = static_cast<uint8_t>(key.data()[4]);
                if (res < 1 || res > 4) return false;
                auto r = static_cast<Resolution>(res);
                int64_t cut = cutoffs_.rollup(r);
                return cut != RetentionCutoffs::kKeepAll && get_time(key.data() + 5) + resolution_ms(r) <= cut;
            }
            case Family::events: {
                int64_t cut = cutoffs_.events();
                return cut != RetentionCutoffs::kKeepAll && key.size() >= 8 && get_time(key.data()) < cut;
            }
        }
        return false;
    }
    Family family_;
    const RetentionCutoffs& cutoffs_;
};

class RetentionFilterFactory final : public rocksdb::CompactionFilterFactory {
public:
    RetentionFilterFactory(Family f, std::shared_ptr<const RetentionCutoffs> c) : family_(f), cutoffs_(std::move(c)) {}
    std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
        const rocksdb::CompactionFilter::Context&) override {
        return std::make_unique<RetentionFilter>(family_, *cutoffs_);
    }
    const char* Name() const override { return "gridlet.RetentionFilterFactory"; }

private:
    Family family_;
    std::shared_ptr<const RetentionCutoffs> cutoffs_;
};
}  // namespace

std::shared_ptr<rocksdb::CompactionFilterFactory> chunk_retention_filter(std::shared_ptr<const RetentionCutoffs> c) {
    return std::make_shared<RetentionFilterFactory>(Family::chunks, std::move(c));
}
std::shared_ptr<rocksdb::CompactionFilterFactory> rollup_retention_filter(std::shared_ptr<const RetentionCutoffs> c) {
    return std::make_shared<RetentionFilterFactory>(Family::rollups, std::move(c));
}
std::shared_ptr<rocksdb::CompactionFilterFactory> event_retention_filter(std::shared_ptr<const RetentionCutoffs> c) {
    return std::make_shared<RetentionFilterFactory>(Family::events, std::move(c));
}

}  // namespace gridlet::store
