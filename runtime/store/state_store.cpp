#include "store/state_store.h"

#include <memory>

#include <rocksdb/write_batch.h>

#include "store/keys.h"

namespace gridlet::store {

namespace {
Status check_namespace(std::string_view rule) {
    if (rule.empty()) return Status::invalid("state: rule name is empty");
    if (rule.find('\0') != std::string_view::npos) return Status::invalid("state: rule name contains a NUL byte");
    return Status::ok();
}
std::string state_key(std::string_view rule, std::string_view key) {
    std::string k = named_prefix(rule);
    k.append(key);
    return k;
}
}  // namespace

Expected<std::optional<std::string>> StateStore::get(std::string_view rule, std::string_view key) const {
    if (Status st = check_namespace(rule); !st) return st;
    std::string v;
    auto s = db_.db()->Get(rocksdb::ReadOptions(), db_.cf(Cf::state), state_key(rule, key), &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return db_.convert(s, "read state of rule '" + std::string(rule) + "'");
    return std::optional<std::string>(std::move(v));
}

Status StateStore::put(std::string_view rule, std::string_view key, std::string_view value) {
    if (Status st = check_namespace(rule); !st) return st;
    rocksdb::WriteBatch b;
    b.Put(db_.cf(Cf::state), state_key(rule, key), rocksdb::Slice(value.data(), value.size()));
    return db_.write(b, "write rule state");
}

Status StateStore::erase(std::string_view rule, std::string_view key) {
    if (Status st = check_namespace(rule); !st) return st;
    rocksdb::WriteBatch b;
    b.Delete(db_.cf(Cf::state), state_key(rule, key));
    return db_.write(b, "erase rule state");
}

Expected<std::vector<std::pair<std::string, std::string>>> StateStore::list(std::string_view rule) const {
    if (Status st = check_namespace(rule); !st) return st;
    std::vector<std::pair<std::string, std::string>> out;
    const std::string prefix = named_prefix(rule);
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::state)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
        out.emplace_back(it->key().ToString().substr(prefix.size()), it->value().ToString());
    if (!it->status().ok()) return db_.convert(it->status(), "list state of rule '" + std::string(rule) + "'");
    return out;
}

Status StateStore::erase_all(std::string_view rule) {
    if (Status st = check_namespace(rule); !st) return st;
    const std::string prefix = named_prefix(rule);
    rocksdb::WriteBatch b;
    b.DeleteRange(db_.cf(Cf::state), prefix, prefix_end(prefix));
    return db_.write(b, "erase rule state");
}

}  // namespace gridlet::store
