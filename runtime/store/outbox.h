// Outbox: store-and-forward queues ("outbox" family, key queue | 0x00 | seq).
// A producer (e.g. the MQTT north plugin while the broker is away) appends;
// the forwarder reads from a cursor and acks what the far end confirmed;
// acked entries are deleted. Sequence numbers start at 1, grow by one per
// entry and are never reused, also across restarts. Beyond max_entries the
// oldest entries of a queue are dropped (counted in dropped()).
//
// Thread-safe: one mutex for the in-memory queue heads; append() and ack()
// return once in the WAL.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/db.h"

namespace gridlet::store {

struct OutboxEntry {
    uint64_t seq = 0;
    std::string payload;
};

class Outbox {
public:
    Outbox(StoreDb& db, uint64_t max_entries) : db_(db), max_entries_(max_entries) {}

    // Appends payloads in order; returns the seq of the last one.
    Expected<uint64_t> append(std::string_view queue, const std::vector<std::string>& payloads);
    Expected<uint64_t> append(std::string_view queue, std::string_view payload);
    // Up to `max` entries with seq > after (after = 0: from the oldest).
    Expected<std::vector<OutboxEntry>> read(std::string_view queue, uint64_t after, size_t max) const;
    // The newest entry of a queue, if any (a producer that must not append
    // the same thing twice after a crash compares with it).
    Expected<std::optional<OutboxEntry>> last(std::string_view queue);
    // The queues whose names start with `prefix` and hold entries, in name
    // order (a reader finds the queues no producer names any more).
    Expected<std::vector<std::string>> queues(std::string_view prefix) const;
    // Deletes every entry with seq <= up_to.
    Status ack(std::string_view queue, uint64_t up_to);
    // Deletes the given entries, in any order (a forwarder with two lanes,
    // backlog and live, acknowledges out of order). The oldest kept entry
    // moves past those removed at the head; an entry removed further on
    // still counts in size() until the head passes it.
    Status remove(std::string_view queue, const std::vector<uint64_t>& seqs);
    // Drops the entries with seq <= up_to as a budget would (counted in
    // dropped()); returns how many it dropped. Same effect as ack().
    Expected<uint64_t> drop_oldest(std::string_view queue, uint64_t up_to);
    // Approximate bytes the queue takes on disk and in memtables (RocksDB's
    // estimate: coarse for a few KB, good from megabytes on).
    Expected<uint64_t> approximate_bytes(std::string_view queue) const;
    // The oldest kept and the next seq (first == next: empty).
    Expected<std::pair<uint64_t, uint64_t>> bounds(std::string_view queue);
    // Entries waiting, and entries dropped by the size limit since open.
    Expected<uint64_t> size(std::string_view queue);
    uint64_t dropped(std::string_view queue) const;

private:
    struct Head {
        uint64_t first = 1;  // oldest entry still stored (if next > first)
        uint64_t next = 1;   // seq of the next append
        uint64_t dropped = 0;
    };
    Expected<Head*> head(std::string_view queue);  // under mu_

    StoreDb& db_;
    const uint64_t max_entries_;
    mutable std::mutex mu_;
    std::map<std::string, Head, std::less<>> heads_;
};

}  // namespace gridlet::store
