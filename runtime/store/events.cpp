#include "store/events.h"

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>
#include <rocksdb/write_batch.h>

#include "core/pattern.h"
#include "store/bitstream.h"
#include "store/keys.h"

namespace gridlet::store {

namespace {
constexpr uint8_t kEventVersion = 1;

bool get_string(const uint8_t*& p, const uint8_t* end, std::string& out) {
    uint64_t n = 0;
    if (!get_varint(p, end, n) || n > static_cast<uint64_t>(end - p)) return false;
    out.assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
}
}  // namespace

const char* severity_name(Severity s) noexcept {
    switch (s) {
        case Severity::debug: return "debug";
        case Severity::info: return "info";
        case Severity::notice: return "notice";
        case Severity::warning: return "warning";
        case Severity::error: return "error";
        case Severity::critical: return "critical";
    }
    return "info";
}

Expected<Severity> parse_severity(std::string_view n) {
    for (int i = 0; i <= 5; ++i)
        if (n == severity_name(static_cast<Severity>(i))) return static_cast<Severity>(i);
    if (n == "warn") return Severity::warning;
    return Status::invalid("severity '" + std::string(n) + "': use debug, info, notice, warning, error or critical");
}

std::string encode_event(const Event& e) {
    std::string v;
    v.push_back(static_cast<char>(kEventVersion));
    v.push_back(static_cast<char>(e.severity));
    put_varint(v, e.source.size());
    v += e.source;
    put_varint(v, e.type.size());
    v += e.type;
    v += e.body;
    return v;
}

Expected<Event> decode_event(std::string_view key, std::string_view value) {
    if (key.size() != 16 || value.size() < 2 || static_cast<uint8_t>(value[0]) != kEventVersion)
        return Status::corruption("event: bad key or value");
    Event e;
    e.ts = get_time(key.data());
    e.seq = get_be64(key.data() + 8);
    auto sev = static_cast<uint8_t>(value[1]);
    if (sev > 5) return Status::corruption("event: bad severity");
    e.severity = static_cast<Severity>(sev);
    auto p = reinterpret_cast<const uint8_t*>(value.data()) + 2;
    auto end = reinterpret_cast<const uint8_t*>(value.data()) + value.size();
    if (!get_string(p, end, e.source) || !get_string(p, end, e.type)) return Status::corruption("event: truncated");
    e.body.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
    return e;
}

EventLog::EventLog(StoreDb& db)
    : db_(db),
      seq_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())) {}

Status EventLog::append(Event& e) {
    std::vector<Event> one{std::move(e)};
    Status st = append(one);
    e = std::move(one[0]);
    return st;
}

Status EventLog::append(std::vector<Event>& events) {
    rocksdb::WriteBatch batch;
    for (Event& e : events) {
        if (e.source.empty() || e.type.empty()) return Status::invalid("event: source and type must not be empty");
        if (!nlohmann::json::accept(e.body))
            return Status::invalid("event '" + e.type + "' from '" + e.source + "': body is not JSON");
        e.seq = seq_.fetch_add(1, std::memory_order_relaxed);
        batch.Put(db_.cf(Cf::events), event_key(e.ts, e.seq), encode_event(e));
    }
    if (batch.Count() == 0) return Status::ok();
    return db_.write(batch, "append events");
}

Expected<std::vector<Event>> EventLog::query(const EventFilter& f) const {
    std::vector<Event> out;
    if (f.from >= f.to) return out;
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.cf(Cf::events)));
    const std::string end = event_key(f.to, 0);
    for (it->Seek(event_key(f.from, 0)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
        auto e = decode_event(std::string_view(it->key().data(), it->key().size()),
                              std::string_view(it->value().data(), it->value().size()));
        if (!e) return e.status().with_context("store " + db_.path());
        if (e->severity < f.min_severity) continue;
        if (!f.type.empty() && e->type != f.type) continue;
        if (!f.exclude_type.empty() && e->type == f.exclude_type) continue;
        if (!f.source_pattern.empty() && !pattern_match(f.source_pattern, e->source)) continue;
        out.push_back(std::move(*e));
        if (f.limit && out.size() >= f.limit) break;
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read events");
    return out;
}

}  // namespace gridlet::store
