// Issue 11 items 9-11, 13: a full disk, a read-only filesystem, a store
// folder deleted under a running store, damaged files and a second opener.
// Faults are injected with a RocksDB FileSystem (fault_fs.h): the store must
// never abort, must say what is wrong, must resume by itself when the disk
// is writable again, and must never delete or hide data on open.
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "fault_fs.h"
#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {

StoreOptions faulty_options(const TempDir& dir, const FaultDisk& disk, SyncPolicy sync) {
    StoreOptions o = test_options(dir.path());
    o.env = disk.env;
    o.sync = sync;
    o.sync_interval_ms = 10;
    o.resume_interval_ms = 50;
    o.rollup_interval_ms = 20;
    return o;
}

std::vector<gl_sample> minute_of(uint32_t id, int64_t start, int n) {
    std::vector<gl_sample> v;
    for (int i = 0; i < n; ++i) v.push_back(gs(id, start + i * 1000, i));
    return v;
}

size_t count_raw(Store& s, uint32_t id) {
    auto r = s.query().raw(id, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? r->size() : 0;
}

template <class F>
bool eventually(F&& f, int ms = 5000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return f();
}

// Writes fail while the fault is on, nothing aborts, the failure is visible
// and counted, writes resume by themselves once the fault is gone, and what
// was acknowledged before and after is there after a reopen.
void fault_and_recover(DiskFault fault, SyncPolicy sync) {
    TempDir dir;
    FaultDisk disk;
    const StoreOptions o = faulty_options(dir, disk, sync);
    uint32_t id = 0;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store) << store.status().to_string();
        Store& s = **store;
        id = *s.registry().intern(meta("m/p"));
        ASSERT_TRUE(s.append(minute_of(id, kT0, 60)));
        ASSERT_TRUE(s.roll_up_now());

        disk.fs->set(fault);
        size_t refused = 0;
        for (int k = 1; k <= 20; ++k) {
            auto batch = minute_of(id, kT0 + k * 60'000, 60);
            if (!s.append(batch)) refused += batch.size();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the WAL syncer and roller run meanwhile
        }
        EXPECT_GT(refused, 0u);
        EXPECT_TRUE(s.health().failing);
        EXPECT_FALSE(s.health().error.empty());
        EXPECT_EQ(s.samples_not_written(), refused);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // resume attempts while still failing
        EXPECT_TRUE(s.health().failing);

        disk.fs->set(DiskFault::none);
        ASSERT_TRUE(eventually([&] { return !s.health().failing; })) << s.health().error;
        EXPECT_EQ(s.health().resumes, 1u);
        auto after = minute_of(id, kT0 + 30 * 60'000, 60);
        ASSERT_TRUE(s.append(after));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // syncs and a rollup pass after the resume
        EXPECT_TRUE(s.background_error().empty()) << s.background_error();
        EXPECT_EQ(count_raw(s, id), 60u + (20u * 60u - refused) + 60u);
    }
    auto again = Store::open(o);
    ASSERT_TRUE(again) << again.status().to_string();
    auto r = (*again)->query().raw(id, kT0, kT0 + 3'600'000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->front().ts, kT0);
    EXPECT_EQ(r->back().ts, kT0 + 30 * 60'000 + 59'000);
}

}  // namespace

TEST(DiskFaults, FullDiskWithIntervalSync) { fault_and_recover(DiskFault::full, SyncPolicy::interval); }
TEST(DiskFaults, FullDiskWithBatchSync) { fault_and_recover(DiskFault::full, SyncPolicy::batch); }
TEST(DiskFaults, FullDiskWithoutSync) { fault_and_recover(DiskFault::full, SyncPolicy::none); }
TEST(DiskFaults, ReadOnlyFilesystemWithIntervalSync) { fault_and_recover(DiskFault::read_only, SyncPolicy::interval); }
TEST(DiskFaults, ReadOnlyFilesystemWithBatchSync) { fault_and_recover(DiskFault::read_only, SyncPolicy::batch); }

void open_while(DiskFault fault, const char* expected) {
    TempDir dir;
    FaultDisk disk;
    const StoreOptions o = faulty_options(dir, disk, SyncPolicy::interval);
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store) << store.status().to_string();
        uint32_t id = *(*store)->registry().intern(meta("m/p"));
        ASSERT_TRUE((*store)->append(minute_of(id, kT0, 60)));
    }
    disk.fs->set(fault);
    auto store = Store::open(o);
    ASSERT_FALSE(store);
    EXPECT_NE(store.status().message().find(expected), std::string::npos) << store.status().message();
    disk.fs->set(DiskFault::none);
    auto later = Store::open(o);
    ASSERT_TRUE(later) << later.status().to_string();
    EXPECT_EQ(count_raw(**later, *(*later)->registry().find("m/p")), 60u);
}

TEST(DiskFaults, OpeningOnAFullDiskIsAnErrorNotAnAbort) { open_while(DiskFault::full, "No space"); }
TEST(DiskFaults, OpeningOnAReadOnlyFilesystemIsAnErrorNotAnAbort) { open_while(DiskFault::read_only, "Read-only"); }

// ---- damaged files and a second opener (no fault injection: real files) ----

namespace {

// Runs store_wal_child with `args` (a separate process: forking this one,
// with RocksDB's threads running, can deadlock the child).
void run_wal_child(const std::vector<std::string>& args) {
    std::string cmd = STORE_WAL_CHILD;
    for (const auto& a : args) cmd += " '" + a + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// A store at dir/db with `n` minutes of one series, compacted to table files.
uint32_t make_store(const TempDir& dir, int minutes) {
    auto store = Store::open(test_options(dir.path()));
    EXPECT_TRUE(store) << store.status().to_string();
    uint32_t id = *(*store)->registry().intern(meta("m/p"));
    for (int k = 0; k < minutes; ++k) {
        EXPECT_TRUE((*store)->append(minute_of(id, kT0 + k * 60'000, 60)));
    }
    EXPECT_TRUE((*store)->compact_all());
    return id;
}

// Same, with every minute after the first only in the WAL (each family has
// a table file, as in a store that has run a while), left as a crash leaves
// it: written by a child process that exits without closing the store (a
// clean close flushes the WAL empty).
void make_store_with_wal(const TempDir& dir, int minutes) {
    run_wal_child({"wal", dir.path().string(), std::to_string(minutes)});
}

std::vector<std::filesystem::path> files_ending(const std::filesystem::path& dir, const std::string& suffix) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string n = e.path().filename().string();
        if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
            out.push_back(e.path());
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::filesystem::file_size(a) > std::filesystem::file_size(b);
    });
    return out;
}

// The (first) table file of `family` in the store at `db`.
std::filesystem::path table_of(const std::filesystem::path& db, const char* family) {
    std::vector<rocksdb::LiveFileMetaData> live;
    auto ro = Store::open_read_only(db);
    EXPECT_TRUE(ro) << ro.status().to_string();
    if (!ro) return {};
    (*ro)->db().db()->GetLiveFilesMetaData(&live);
    for (const auto& f : live)
        if (f.column_family_name == family) return db / std::filesystem::path(f.name).filename();
    ADD_FAILURE() << "no table file of family " << family;
    return {};
}

}  // namespace

TEST(DamagedStore, MissingCurrentIsRefusedAndNothingIsEverDeleted) {
    TempDir dir;
    make_store(dir, 30);
    const auto db = dir.path() / "db";
    const size_t tables = files_ending(db, ".sst").size();
    ASSERT_GT(tables, 0u);
    std::filesystem::remove(db / "CURRENT");
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second start used to delete every table file
        auto store = Store::open(test_options(dir.path()));
        ASSERT_FALSE(store);
        EXPECT_NE(store.status().message().find("no CURRENT file"), std::string::npos) << store.status().message();
        EXPECT_NE(store.status().message().find("gridlet store repair"), std::string::npos);
        EXPECT_FALSE(std::filesystem::exists(db / "CURRENT"));
        EXPECT_EQ(files_ending(db, ".sst").size(), tables);
    }
    auto verify = verify_store(db);
    ASSERT_TRUE(verify);
    ASSERT_FALSE(verify->ok());
    EXPECT_EQ(verify->problems.front().file, "CURRENT");
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_TRUE(std::filesystem::exists(repaired->backup / "MANIFEST-000005") ||
                !files_ending(repaired->backup, ".sst").empty());
    EXPECT_TRUE(repaired->after.ok()) << repaired->after.problems.front().file << ": "
                                      << repaired->after.problems.front().problem;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store) << store.status().to_string();
    EXPECT_EQ(count_raw(**store, *(*store)->registry().find("m/p")), 30u * 60u);
}

TEST(DamagedStore, GarbageInTheMiddleOfTheWalIsRefusedNotDropped) {
    TempDir dir;
    make_store_with_wal(dir, 600);
    const auto db = dir.path() / "db";
    auto wals = files_ending(db, ".log");
    ASSERT_FALSE(wals.empty());
    const auto size = std::filesystem::file_size(wals.front());
    ASSERT_GT(size, 4096u);
    {
        std::fstream f(wals.front(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size / 2));
        f.write("0123456789abcdef", 16);
    }
    auto store = Store::open(test_options(dir.path()));
    ASSERT_FALSE(store);
    EXPECT_EQ(store.status().code(), StatusCode::corruption) << store.status().to_string();
    EXPECT_NE(store.status().message().find("damaged"), std::string::npos) << store.status().message();
    EXPECT_EQ(std::filesystem::file_size(wals.front()), size);  // left as it was
    auto verify = verify_store(db);
    ASSERT_TRUE(verify);
    EXPECT_FALSE(verify->ok());
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_EQ(std::filesystem::file_size(repaired->backup / wals.front().filename()), size);
    EXPECT_FALSE(repaired->complete()) << repaired->before.problems.back().problem;  // the damaged records are lost, and it says so
    ASSERT_GE(repaired->losses.size(), 1u);  // one line per damaged stretch RocksDB dropped
    EXPECT_NE(repaired->losses[0].find("damaged WAL records were skipped"), std::string::npos) << repaired->losses[0];
    EXPECT_NE(repaired->losses[0].find(".log: dropping"), std::string::npos) << repaired->losses[0];
    auto reopened = Store::open(test_options(dir.path()));
    ASSERT_TRUE(reopened) << reopened.status().to_string();
    Store& store2 = **reopened;
    ASSERT_TRUE(store2.registry().find("m/p"));
    const size_t kept = count_raw(store2, *store2.registry().find("m/p"));
    EXPECT_GT(kept, 0u);  // what came before the damage
    EXPECT_LT(kept, 600u * 60u);
}

TEST(DamagedStore, TruncatedTableFileIsRefusedAndQueriesNeverAnswerShort) {
    TempDir dir;
    const uint32_t id = make_store(dir, 120);
    const auto db = dir.path() / "db";
    auto tables = files_ending(db, ".sst");
    ASSERT_FALSE(tables.empty());
    const auto size = std::filesystem::file_size(tables.front());
    std::filesystem::resize_file(tables.front(), size - 5);
    auto store = Store::open(test_options(dir.path()));
    ASSERT_FALSE(store);
    EXPECT_EQ(store.status().code(), StatusCode::corruption) << store.status().to_string();
    auto verify = verify_store(db);
    ASSERT_TRUE(verify);
    ASSERT_FALSE(verify->ok());
    EXPECT_EQ(verify->problems.front().file, tables.front().filename().string());  // the damaged file, by name
    auto ro = Store::open_read_only(db);
    if (ro) {
        // Whatever opens must fail the query, not answer with part of it.
        auto r = (*ro)->query().raw(id, kT0, kT0 + 120 * 60'000);
        EXPECT_FALSE(r && r->size() != 120u * 60u) << "short answer: " << r->size();
    } else {
        EXPECT_EQ(ro.status().code(), StatusCode::corruption) << ro.status().to_string();
    }
}

// A data block damaged inside a table file (bit rot, a bad sector): the
// file opens (footer and index are intact), and every query that needs the
// block fails with corruption naming the store; none answers short.
TEST(DamagedStore, DamagedDataBlockFailsQueriesNeverAnswersShort) {
    TempDir dir;
    uint32_t id = 0;
    {
        auto store = Store::open(test_options(dir.path()));
        ASSERT_TRUE(store);
        id = *(*store)->registry().intern(meta("m/p"));
        std::mt19937_64 rng(3);
        for (int k = 0; k < 300; ++k) {  // noisy values: table files of ~150 KB
            std::vector<gl_sample> b;
            for (int i = 0; i < 60; ++i) b.push_back(gs(id, kT0 + k * 60'000 + i * 1000, std::ldexp(double(rng() >> 11), -40)));
            ASSERT_TRUE((*store)->append(b));
        }
        ASSERT_TRUE((*store)->compact_all());
    }
    const auto db = dir.path() / "db";
    auto tables = files_ending(db, ".sst");
    ASSERT_FALSE(tables.empty());
    const auto size = std::filesystem::file_size(tables.front());
    ASSERT_GT(size, 16384u);
    {
        std::fstream f(tables.front(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size / 3));
        f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
    }
    auto verify = verify_store(db);
    ASSERT_TRUE(verify);
    ASSERT_FALSE(verify->ok());
    EXPECT_EQ(verify->problems.front().file, tables.front().filename().string());
    for (bool read_only : {false, true}) {
        SCOPED_TRACE(read_only ? "read-only (CLI)" : "read-write (gridlet run)");
        auto store = read_only ? Store::open_read_only(db) : Store::open(test_options(dir.path()));
        if (!store) {
            EXPECT_EQ(store.status().code(), StatusCode::corruption) << store.status().to_string();
            continue;
        }
        auto raw = (*store)->query().raw(id, kT0, kT0 + 300 * 60'000);
        EXPECT_FALSE(raw) << "answered " << raw->size() << " of " << 300 * 60 << " samples";
        if (!raw) {
            EXPECT_EQ(raw.status().code(), StatusCode::corruption);
            EXPECT_NE(raw.status().message().find(db.string()), std::string::npos) << raw.status().message();
        }
        auto agg = (*store)->query().downsample(id, kT0, kT0 + 300 * 60'000, 60'000, Aggregate::count);
        EXPECT_FALSE(agg && agg->size() != 300u) << "answered " << agg->size() << " of 300 minutes";
    }
}

TEST(StoreLock, ASecondOpenerIsToldWhichProcessHoldsTheStore) {
    TempDir dir;
    auto first = Store::open(test_options(dir.path()));
    ASSERT_TRUE(first) << first.status().to_string();
    auto second = Store::open(test_options(dir.path()));
    ASSERT_FALSE(second);
    EXPECT_NE(second.status().message().find("another gridlet (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos)
        << second.status().message();
}

// Issue 11 item 10: a store that existed and is gone (deleted, a disk not
// mounted) is refused, never replaced by an empty one; `gridlet store init`
// creates one explicitly; [store] create = "never" leaves creation to it.
TEST(StoreCreation, AStoreThatIsGoneIsNotReplacedByAnEmptyOne) {
    TempDir dir;
    StoreOptions o = test_options(dir.path());
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        ASSERT_TRUE((*store)->registry().intern(meta("m/p")));
    }
    const auto record = creation_record(o.path);
    EXPECT_EQ(record, dir.path() / ".db.gridlet-store");
    ASSERT_TRUE(std::filesystem::exists(record));
    std::filesystem::remove_all(o.path);
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto gone = Store::open(o);
        ASSERT_FALSE(gone);
        EXPECT_EQ(gone.status().code(), StatusCode::not_found);
        EXPECT_NE(gone.status().message().find("is gone"), std::string::npos) << gone.status().message();
        EXPECT_NE(gone.status().message().find("gridlet store init"), std::string::npos);
        EXPECT_FALSE(std::filesystem::exists(o.path));  // nothing created in its place
    }
    std::filesystem::create_directories(o.path);  // an empty folder (an empty mount point) is no better
    EXPECT_FALSE(Store::open(o));
    ASSERT_TRUE(init_store(o));
    EXPECT_EQ(init_store(o).code(), StatusCode::already_exists);
    auto fresh = Store::open(o);
    ASSERT_TRUE(fresh) << fresh.status().to_string();
    EXPECT_EQ((*fresh)->registry().size(), 0u);

    TempDir other;
    StoreOptions never = test_options(other.path());
    never.create_if_missing = false;
    auto refused = Store::open(never);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.status().message().find("create = \"never\""), std::string::npos) << refused.status().message();
    ASSERT_TRUE(init_store(never));
    EXPECT_TRUE(Store::open(never));
}

// A read-only open (every CLI command) on a store whose table file is
// missing or truncated refuses, naming verify and repair: a secondary
// instance would quietly fall back to an older version of the store and
// answer short with exit 0. Every table file in turn, both ways.
TEST(DamagedStore, ReadOnlyOpenRefusesAMissingOrTruncatedTableFile) {
    size_t tables = 0;
    for (size_t victim = 0;; ++victim) {
        for (bool remove : {true, false}) {
            SCOPED_TRACE(std::string(remove ? "deleted" : "truncated") + " table file #" + std::to_string(victim));
            TempDir dir;
            make_store(dir, 30);
            const auto db = dir.path() / "db";
            auto files = files_ending(db, ".sst");
            tables = files.size();
            ASSERT_GE(tables, 2u);  // the registry and the chunks at least
            if (victim >= tables) return;
            if (remove) std::filesystem::remove(files[victim]);
            else std::filesystem::resize_file(files[victim], std::filesystem::file_size(files[victim]) / 2);
            auto ro = Store::open_read_only(db);
            ASSERT_FALSE(ro) << "opened and answered from part of the store";
            EXPECT_EQ(ro.status().code(), StatusCode::corruption) << ro.status().to_string();
            EXPECT_NE(ro.status().message().find(files[victim].filename().string()), std::string::npos)
                << ro.status().message();
            EXPECT_NE(ro.status().message().find("gridlet store repair"), std::string::npos);
        }
    }
}

// Repair moves a table file with a damaged block to lost/ (RocksDB would
// keep it: an open does not read data blocks), says so, and is not
// complete; the rest of the store opens and verifies clean.
TEST(DamagedStore, RepairMovesDamagedTablesToLostAndIsNotComplete) {
    TempDir dir;
    make_store(dir, 30);
    const auto db = dir.path() / "db";
    const std::vector<std::filesystem::path> tables{table_of(db, kCfChunks)};
    {
        std::fstream f(tables.front(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.write("\xde\xad\xbe\xef", 4);
    }
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    ASSERT_EQ(repaired->lost_tables.size(), 1u);
    EXPECT_EQ(repaired->lost_tables[0], tables.front().filename().string());
    EXPECT_TRUE(std::filesystem::exists(db / "lost" / tables.front().filename()));
    EXPECT_FALSE(repaired->complete());
    EXPECT_TRUE(repaired->after.ok());
    EXPECT_TRUE(std::filesystem::exists(repaired->backup / tables.front().filename()));  // the untouched copy
    EXPECT_TRUE(Store::open(test_options(dir.path())));
    // A second repair in the same second keeps its own copy.
    auto again = repair_store(db);
    ASSERT_TRUE(again) << again.status().to_string();
    EXPECT_NE(again->backup, repaired->backup);
    EXPECT_TRUE(again->complete()) << again->lost_tables.size() << " lost, " << again->unnamed_series.size()
                                   << " unnamed, after ok " << again->after.ok();
}

// The registry of a young store used to live only in the WAL; RepairDB
// learns a family from its table files and dropped those records, so a
// repair after a truncated chunks file lost every series name. Families
// get a table file early now, and what the WAL adds later survives.
TEST(DamagedStore, RepairAfterALostTableKeepsTheRegistryFromTheWal) {
    TempDir dir;
    const StoreOptions o = test_options(dir.path());
    const auto db = dir.path() / "db";
    // A young store that crashes (no close): m/a registered, the families
    // given their first table file (the maintenance thread does this within
    // a second of the first write), m/b registered after: only in the WAL.
    run_wal_child({"registry", dir.path().string()});
    const std::filesystem::path chunks = table_of(db, kCfChunks);
    ASSERT_FALSE(chunks.empty());
    std::filesystem::resize_file(chunks, std::filesystem::file_size(chunks) - 7);
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_FALSE(repaired->complete());  // the chunks file is lost
    auto store = Store::open(o);
    ASSERT_TRUE(store) << store.status().to_string();
    EXPECT_TRUE((*store)->registry().find("m/a"));
    EXPECT_TRUE((*store)->registry().find("m/b")) << "a series registered after the last flush was lost";
}

// Repair and verify on an empty folder (the store is gone, or an empty
// mount point) refuse and name `gridlet store init`; nothing is created.
TEST(StoreCreation, RepairAndVerifyRefuseAFolderWithNoStore) {
    TempDir dir;
    const StoreOptions o = test_options(dir.path());
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
    }
    std::filesystem::remove_all(o.path);
    std::filesystem::create_directories(o.path);
    auto repaired = repair_store(o.path);
    ASSERT_FALSE(repaired);
    EXPECT_EQ(repaired.status().code(), StatusCode::not_found);
    EXPECT_NE(repaired.status().message().find("is gone"), std::string::npos) << repaired.status().message();
    EXPECT_NE(repaired.status().message().find("gridlet store init"), std::string::npos);
    EXPECT_TRUE(std::filesystem::is_empty(o.path));
    auto verified = verify_store(o.path);
    ASSERT_FALSE(verified);
    EXPECT_NE(verified.status().message().find("gridlet store init"), std::string::npos);
    std::filesystem::remove_all(o.path);
    EXPECT_FALSE(verify_store(o.path));
    EXPECT_FALSE(std::filesystem::exists(o.path));
    // A file is no store; a store is not made where its parent is missing
    // (a data disk that is not mounted).
    std::ofstream(dir.path() / "file") << "x";
    auto file = verify_store(dir.path() / "file");
    ASSERT_FALSE(file);
    EXPECT_NE(file.status().message().find("not a folder"), std::string::npos) << file.status().message();
    StoreOptions deep = o;
    deep.path = dir.path() / "mnt" / "data" / "db";
    Status init = init_store(deep);
    EXPECT_EQ(init.code(), StatusCode::not_found) << init.to_string();
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "mnt"));
}

// A clean close flushes every family: no data lives only in the WAL after a
// stop, so a WAL file deleted afterwards (RocksDB does not track the live
// one) loses nothing. It used to hold everything since the last flush.
TEST(DamagedStore, AfterACleanCloseNothingLivesOnlyInTheWal) {
    TempDir dir;
    const StoreOptions o = test_options(dir.path());
    uint32_t id = 0;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        id = *(*store)->registry().intern(meta("m/p"));
        for (int k = 0; k < 30; ++k) ASSERT_TRUE((*store)->append(minute_of(id, kT0 + k * 60'000, 60)));
    }
    for (const auto& wal : files_ending(dir.path() / "db", ".log")) std::filesystem::remove(wal);
    auto store = Store::open(o);
    ASSERT_TRUE(store) << store.status().to_string();
    ASSERT_TRUE((*store)->registry().find("m/p"));
    EXPECT_EQ(count_raw(**store, id), 30u * 60u);
}

// A table file the MANIFEST lists is gone: the repair salvages the rest but
// is not complete, and names the file. It used to say "nothing lost".
TEST(DamagedStore, RepairOfAStoreWithAMissingTableFileSaysWhatIsLost) {
    TempDir dir;
    make_store(dir, 30);
    const auto db = dir.path() / "db";
    const std::filesystem::path chunks = table_of(db, kCfChunks);
    ASSERT_FALSE(chunks.empty());
    std::filesystem::remove(chunks);
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_FALSE(repaired->complete());
    ASSERT_EQ(repaired->losses.size(), 1u);
    EXPECT_EQ(repaired->losses[0].rfind(chunks.filename().string() + " is missing", 0), 0u) << repaired->losses[0];
    EXPECT_TRUE(repaired->after.ok());
    EXPECT_TRUE(Store::open(test_options(dir.path())));
}

// A crash left data in the WAL and in table files, then a table file was
// cut short: RepairDB replays the whole WAL (also records already in
// tables), which an ordinary open refused as overlapping L0 files; the
// repair compacts them. The repair works on a copy, so a failed one leaves
// the store untouched, and what the WAL held is kept.
TEST(DamagedStore, RepairAfterACrashAndATruncatedTableKeepsTheWal) {
    TempDir dir;
    make_store_with_wal(dir, 120);
    const auto db = dir.path() / "db";
    const std::filesystem::path chunks = table_of(db, kCfChunks);
    ASSERT_FALSE(chunks.empty());
    std::filesystem::resize_file(chunks, std::filesystem::file_size(chunks) / 2);
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_FALSE(repaired->complete());
    EXPECT_TRUE(repaired->after.ok());
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store) << store.status().to_string();
    auto id = (*store)->registry().find("m/p");
    ASSERT_TRUE(id);
    EXPECT_GE(count_raw(**store, *id), 119u * 60u);  // every minute that was only in the WAL
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        EXPECT_EQ(e.path().filename().string().find(".repairing-"), std::string::npos) << e.path();
}

// CURRENT deleted under a running store (the folder is still its own): it
// is written again from the MANIFEST in use, writes go on, and the store
// opens after the stop. It used to refuse every later write as "folder
// deleted or replaced".
TEST(DamagedStore, ACurrentFileDeletedWhileRunningIsWrittenAgain) {
    TempDir dir;
    const StoreOptions o = test_options(dir.path());
    uint32_t id = 0;
    {
        auto store = Store::open(o);
        ASSERT_TRUE(store);
        id = *(*store)->registry().intern(meta("m/p"));
        ASSERT_TRUE((*store)->append(minute_of(id, kT0, 60)));
        std::filesystem::remove(o.path / "CURRENT");
        ASSERT_TRUE((*store)->db().check_folder());
        EXPECT_TRUE(std::filesystem::exists(o.path / "CURRENT"));
        EXPECT_FALSE((*store)->health().failing);
        ASSERT_TRUE((*store)->append(minute_of(id, kT0 + 60'000, 60)));
    }
    auto store = Store::open(o);
    ASSERT_TRUE(store) << store.status().to_string();
    EXPECT_EQ(count_raw(**store, id), 120u);
}

// A damaged table and a damaged WAL at once (the helper's case): RepairDB
// must still know every family (the ids come from the MANIFEST read with
// the damaged WAL records skipped), so the readable WAL records of the
// family whose table was lost are kept. They were all dropped ("Invalid
// column family specified in write batch").
TEST(DamagedStore, RepairWithADamagedTableAndADamagedWalKeepsTheReadableWal) {
    TempDir dir;
    make_store_with_wal(dir, 600);
    const auto db = dir.path() / "db";
    const std::filesystem::path chunks = table_of(db, kCfChunks);
    ASSERT_FALSE(chunks.empty());
    {
        std::fstream f(chunks, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(40);
        f.write("\xde\xad\xbe\xef", 4);
    }
    auto wals = files_ending(db, ".log");
    ASSERT_FALSE(wals.empty());
    const auto size = std::filesystem::file_size(wals.front());
    ASSERT_GT(size, 36'000u);  // more than one 32 KiB WAL block
    {
        std::fstream f(wals.front(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size - 2'000));  // in the last block: the first one is whole
        f.write("0123456789abcdef", 16);
    }
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_FALSE(repaired->complete());
    EXPECT_FALSE(repaired->losses.empty());
    for (const auto& l : repaired->losses) EXPECT_EQ(l.find(".repairing-"), std::string::npos) << l;
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store) << store.status().to_string();
    auto id = (*store)->registry().find("m/p");
    ASSERT_TRUE(id);
    EXPECT_GT(count_raw(**store, *id), 200u * 60u);  // the WAL before the damage
}

// The registry's table is lost: the series' samples are kept under
// lost/series-<id>, and a new series never takes over that id (it used to
// get id 1 and every old sample with it).
TEST(DamagedStore, SeriesThatLostTheirNameKeepTheirSamplesAndId) {
    TempDir dir;
    const uint32_t id = make_store(dir, 30);
    const auto db = dir.path() / "db";
    const std::filesystem::path registry = table_of(db, kCfRegistry);
    ASSERT_FALSE(registry.empty());
    std::filesystem::remove(registry);
    auto repaired = repair_store(db);
    ASSERT_TRUE(repaired) << repaired.status().to_string();
    EXPECT_FALSE(repaired->complete());
    ASSERT_EQ(repaired->unnamed_series, std::vector<uint32_t>{id});
    auto store = Store::open(test_options(dir.path()));
    ASSERT_TRUE(store) << store.status().to_string();
    auto lost = (*store)->registry().find("lost/series-" + std::to_string(id));
    ASSERT_TRUE(lost);
    EXPECT_EQ(*lost, id);
    EXPECT_EQ(count_raw(**store, id), 30u * 60u);
    auto fresh = (*store)->registry().intern(meta("z/other"));
    ASSERT_TRUE(fresh);
    EXPECT_NE(*fresh, id);
    EXPECT_EQ(count_raw(**store, *fresh), 0u);
}
