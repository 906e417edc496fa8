#include "store/outbox.h"

#include <algorithm>
#include <memory>
#include <unordered_set>

#include <rocksdb/write_batch.h>

#include "store/keys.h"

namespace gridlet::store {

namespace {
std::string entry_key(std::string_view queue, uint64_t seq) {
    std::string k = named_prefix(queue);
    put_be64(k, seq);
    return k;
}
// Deletes the entries [from, to) of a queue. A small range gets one point
// delete per entry: RocksDB builds the fragments of every range tombstone
// still in the memtable at each iterator it creates, so a DeleteRange per
// acknowledgement (a notifier's or a forwarder's steady state) made each
// read cost as much as all the acks since the last flush. Point tombstones
// cost nothing to a read that seeks past them (read() starts at the head).
void delete_entries(rocksdb::WriteBatch& b, rocksdb::ColumnFamilyHandle* cf, std::string_view queue, uint64_t from,
                    uint64_t to) {
    constexpr uint64_t kPointDeletesUpTo = 4096;
    if (to <= from) return;
    if (to - from > kPointDeletesUpTo) {
        b.DeleteRange(cf, entry_key(queue, from), entry_key(queue, to));
        return;
    }
    for (uint64_t seq = from; seq < to; ++seq) b.Delete(cf, entry_key(queue, seq));
}
Status check_queue_name(std::string_view queue) {
    if (queue.empty() || queue.find('\0') != std::string_view::npos)
        return Status::invalid("outbox: queue name is empty or contains a NUL byte");
    return Status::ok();
}
}  // namespace

Expected<Outbox::Head*> Outbox::head(std::string_view queue) {
    auto it = heads_.find(queue);
    if (it != heads_.end()) return &it->second;
    Head h;
    const std::string prefix = named_prefix(queue);
    std::unique_ptr<rocksdb::Iterator> i(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::outbox)));
    i->Seek(prefix);
    if (i->Valid() && i->key().starts_with(prefix) && i->key().size() == prefix.size() + 8) {
        h.first = get_be64(i->key().data() + prefix.size());
        i->SeekForPrev(entry_key(queue, ~uint64_t{0}));
        h.next = get_be64(i->key().data() + prefix.size()) + 1;
    }
    if (!i->status().ok()) return db_.convert(i->status(), "read outbox '" + std::string(queue) + "'");
    // Numbering continues after the highest sequence number the queue gave
    // (the mark written by ack and remove), also when its newest entries
    // were removed or the queue is empty.
    std::string v;
    auto s = db_.db()->Get(rocksdb::ReadOptions(), db_.cf(Cf::outbox), std::string(queue) + std::string(1, '\x01'), &v);
    if (s.ok() && v.size() == 8) {
        const uint64_t given = get_be64(v.data());
        if (h.next <= given) {
            if (h.next == h.first) h.first = given + 1;  // no entry left
            h.next = given + 1;
        }
    }
    return &heads_.emplace(std::string(queue), h).first->second;
}

Expected<uint64_t> Outbox::append(std::string_view queue, std::string_view payload) {
    return append(queue, std::vector<std::string>{std::string(payload)});
}

Expected<uint64_t> Outbox::append(std::string_view queue, const std::vector<std::string>& payloads) {
    if (Status st = check_queue_name(queue); !st) return st;
    std::lock_guard lock(mu_);
    auto h = head(queue);
    if (!h) return h.status();
    Head next = **h;
    rocksdb::WriteBatch b;
    for (const std::string& p : payloads) b.Put(db_.cf(Cf::outbox), entry_key(queue, next.next++), p);
    if (next.next - next.first > max_entries_) {
        uint64_t new_first = next.next - max_entries_;
        delete_entries(b, db_.cf(Cf::outbox), queue, next.first, new_first);
        next.dropped += new_first - next.first;
        next.first = new_first;
    }
    Status st = db_.write(b, "append to outbox");
    if (!st) return st;
    **h = next;
    return next.next - 1;
}

Expected<std::vector<OutboxEntry>> Outbox::read(std::string_view queue, uint64_t after, size_t max) const {
    if (Status st = check_queue_name(queue); !st) return st;
    std::vector<OutboxEntry> out;
    const std::string prefix = named_prefix(queue);
    {
        // Never before the oldest entry kept: what was acked is tombstones.
        std::lock_guard lock(mu_);
        auto h = heads_.find(queue);
        if (h != heads_.end() && h->second.first > after + 1) after = h->second.first - 1;
    }
    const std::string end = std::string(queue) + std::string(1, '\x01');  // just past the entries
    const rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.cf(Cf::outbox)));
    for (it->Seek(entry_key(queue, after + 1)); it->Valid() && it->key().starts_with(prefix) && out.size() < max;
         it->Next()) {
        if (it->key().size() != prefix.size() + 8) continue;
        out.push_back(OutboxEntry{get_be64(it->key().data() + prefix.size()), it->value().ToString()});
    }
    if (!it->status().ok()) return db_.convert(it->status(), "read outbox '" + std::string(queue) + "'");
    return out;
}

Expected<std::optional<OutboxEntry>> Outbox::last(std::string_view queue) {
    if (Status st = check_queue_name(queue); !st) return st;
    uint64_t newest = 0;
    {
        std::lock_guard lock(mu_);
        auto h = head(queue);
        if (!h) return h.status();
        if ((*h)->next == (*h)->first) return std::optional<OutboxEntry>{};
        newest = (*h)->next - 1;
    }
    auto got = read(queue, newest - 1, 1);
    if (!got) return got.status();
    if (got->empty() || got->front().seq != newest) return std::optional<OutboxEntry>{};
    return std::optional<OutboxEntry>{std::move(got->front())};
}

Expected<std::vector<std::string>> Outbox::queues(std::string_view prefix) const {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::outbox)));
    for (it->Seek(std::string(prefix)); it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));) {
        const std::string_view key(it->key().data(), it->key().size());
        const size_t sep = key.find_first_of(std::string_view("\x00\x01", 2));
        if (sep == std::string_view::npos) {
            it->Next();
            continue;
        }
        const std::string name(key.substr(0, sep));
        if (key[sep] == '\0' && key.size() == sep + 9) out.push_back(name);  // an entry: the queue holds some
        it->Seek(name + std::string(1, '\x02'));  // past this queue's entries and its ack mark
    }
    if (!it->status().ok()) return db_.convert(it->status(), "list the outbox queues");
    return out;
}

Status Outbox::ack(std::string_view queue, uint64_t up_to) {
    if (Status st = check_queue_name(queue); !st) return st;
    std::lock_guard lock(mu_);
    auto h = head(queue);
    if (!h) return h.status();
    Head next = **h;
    if (up_to >= next.next) return Status::invalid("outbox '" + std::string(queue) + "': ack of " +
                                                   std::to_string(up_to) + " beyond the last entry " +
                                                   std::to_string(next.next - 1));
    if (up_to < next.first) return Status::ok();
    rocksdb::WriteBatch b;
    delete_entries(b, db_.cf(Cf::outbox), queue, next.first, up_to + 1);
    // Remember the highest seq given so that numbering continues after a
    // restart even when the queue is empty (key: queue | 0x01, sorts after
    // entries).
    std::string v;
    put_be64(v, next.next - 1);
    b.Put(db_.cf(Cf::outbox), std::string(queue) + std::string(1, '\x01'), v);
    Status st = db_.write(b, "ack outbox");
    if (!st) return st;
    next.first = up_to + 1;
    **h = next;
    return Status::ok();
}

Status Outbox::remove(std::string_view queue, const std::vector<uint64_t>& seqs) {
    if (Status st = check_queue_name(queue); !st) return st;
    if (seqs.empty()) return Status::ok();
    std::lock_guard lock(mu_);
    auto h = head(queue);
    if (!h) return h.status();
    Head next = **h;
    rocksdb::WriteBatch b;
    bool at_head = false;
    for (uint64_t seq : seqs) {
        if (seq >= next.next)
            return Status::invalid("outbox '" + std::string(queue) + "': remove of " + std::to_string(seq) +
                                   " beyond the last entry " + std::to_string(next.next - 1));
        if (seq < next.first) continue;
        b.Delete(db_.cf(Cf::outbox), entry_key(queue, seq));
        at_head = at_head || seq == next.first;
    }
    if (b.Count() == 0) return Status::ok();
    if (at_head) {
        // The new head: the first entry still stored after the old one (the
        // batch's deletes are not written yet: skip them by hand).
        std::unordered_set<uint64_t> gone(seqs.begin(), seqs.end());
        const std::string prefix = named_prefix(queue);
        const std::string end = std::string(queue) + std::string(1, '\x01');
        const rocksdb::Slice upper(end);
        rocksdb::ReadOptions ro;
        ro.iterate_upper_bound = &upper;
        std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, db_.cf(Cf::outbox)));
        uint64_t first = next.next;
        for (it->Seek(entry_key(queue, next.first)); it->Valid(); it->Next()) {
            if (it->key().size() != prefix.size() + 8) continue;
            const uint64_t seq = get_be64(it->key().data() + prefix.size());
            if (!gone.count(seq)) {
                first = seq;
                break;
            }
        }
        if (!it->status().ok()) return db_.convert(it->status(), "read outbox '" + std::string(queue) + "'");
        next.first = first;
    }
    // Numbering continues after a restart also when the newest entries are gone.
    std::string v;
    put_be64(v, next.next - 1);
    b.Put(db_.cf(Cf::outbox), std::string(queue) + std::string(1, '\x01'), v);
    Status st = db_.write(b, "remove from outbox");
    if (!st) return st;
    **h = next;
    return Status::ok();
}

Expected<uint64_t> Outbox::drop_oldest(std::string_view queue, uint64_t up_to) {
    uint64_t before = 0;
    {
        std::lock_guard lock(mu_);
        auto h = head(queue);
        if (!h) return h.status();
        before = (*h)->first;
        if (up_to < before) return uint64_t{0};
    }
    if (Status st = ack(queue, up_to); !st) return st;
    std::lock_guard lock(mu_);
    Head& h = heads_.find(queue)->second;
    const uint64_t n = h.first > before ? h.first - before : 0;
    h.dropped += n;
    return n;
}

Expected<uint64_t> Outbox::approximate_bytes(std::string_view queue) const {
    if (Status st = check_queue_name(queue); !st) return st;
    const std::string from = named_prefix(queue);
    const std::string to = std::string(queue) + std::string(1, '\x01');
    rocksdb::Range r(from, to);
    uint64_t size = 0;
    rocksdb::SizeApproximationOptions o;
    o.include_memtables = true;
    o.include_files = true;
    auto s = db_.db()->GetApproximateSizes(o, db_.cf(Cf::outbox), &r, 1, &size);
    if (!s.ok()) return db_.convert(s, "size of outbox '" + std::string(queue) + "'");
    return size;
}

Expected<std::pair<uint64_t, uint64_t>> Outbox::bounds(std::string_view queue) {
    if (Status st = check_queue_name(queue); !st) return st;
    std::lock_guard lock(mu_);
    auto h = head(queue);
    if (!h) return h.status();
    return std::pair<uint64_t, uint64_t>{(*h)->first, (*h)->next};
}

Expected<uint64_t> Outbox::size(std::string_view queue) {
    if (Status st = check_queue_name(queue); !st) return st;
    std::lock_guard lock(mu_);
    auto h = head(queue);
    if (!h) return h.status();
    return (*h)->next - (*h)->first;
}

uint64_t Outbox::dropped(std::string_view queue) const {
    std::lock_guard lock(mu_);
    auto it = heads_.find(queue);
    return it == heads_.end() ? 0 : it->second.dropped;
}

}  // namespace gridlet::store
