// Helper of store_test (disk_faults_test.cpp): leaves a store as a crash
// leaves it, with data only in the WAL, by exiting without closing it (a
// clean close flushes the WAL empty). Exit 0 when everything was written.
// Usage:
//   store_wal_child wal <dir> <minutes>   m/p: the first minute in table
//                                         files, the others only in the WAL
//   store_wal_child registry <dir>        m/a with the families' first table
//                                         files, then m/b only in the WAL and
//                                         the chunks flushed
#include <cstdlib>
#include <string>

#include "test_util.h"

using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

std::vector<gl_sample> minute(uint32_t id, int64_t start) {
    std::vector<gl_sample> b;
    for (int i = 0; i < 60; ++i) b.push_back(gs(id, start + i * 1000, 1000.0 + i));
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    const std::string mode = argv[1];
    auto store = Store::open(test_options(argv[2]));
    if (!store) return 2;
    Store& s = **store;
    bool ok = true;
    if (mode == "wal" && argc == 4) {
        const int minutes = std::atoi(argv[3]);
        uint32_t id = *s.registry().intern(meta("m/p"));
        ok = s.append(minute(id, kT0)).is_ok() && s.compact_all().is_ok();
        for (int k = 1; k < minutes && ok; ++k) ok = s.append(minute(id, kT0 + k * 60'000)).is_ok();
    } else if (mode == "registry") {
        uint32_t a = *s.registry().intern(meta("m/a"));
        ok = s.append(minute(a, kT0)).is_ok();
        StoreDb& db = s.db();
        ok = ok && db.flush_tableless_families().has_value();  // what the maintenance thread does in a second
        uint32_t b = *s.registry().intern(meta("m/b"));       // only in the WAL
        ok = ok && s.append(minute(b, kT0)).is_ok();
        ok = ok && db.db()->Flush(rocksdb::FlushOptions(), db.cf(Cf::chunks)).ok();
        rocksdb::ColumnFamilyMetaData registry;
        db.db()->GetColumnFamilyMetaData(db.cf(Cf::registry), &registry);
        ok = ok && registry.file_count > 0;
    } else {
        return 2;
    }
    ok = ok && s.sync().is_ok();
    std::_Exit(ok ? 0 : 3);  // no close, as after kill -9
}
