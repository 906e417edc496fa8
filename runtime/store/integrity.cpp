// verify_store() and repair_store() (store/db.h): reading every file of a
// store, and salvaging a damaged one on a copy. See runtime/store/README.md,
// "Damaged stores".
#include "store/db.h"
#include "store/db_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <rocksdb/convenience.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/timezone.h"
#include "store/keys.h"
#include "store/registry_backend.h"

namespace gridlet::store {

using namespace detail;

namespace {

// The repair's logger: what RocksDB drops while salvaging ("... .log:
// dropping 10941 bytes; Corruption: ...") is data lost, to be reported.
class SalvageLogger : public RocksLogger {
public:
    using RocksLogger::Logv;
    void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
        va_list copy;
        va_copy(copy, ap);
        char line[1024];
        std::vsnprintf(line, sizeof line, format, copy);
        va_end(copy);
        const std::string text = line;
        if (text.find("dropping") != std::string::npos) {
            std::lock_guard lock(mu_);
            dropped_.push_back(tidy(text));
            return;  // reported by the repair, naming the store's file
        }
        // RepairDB's own banner and the open it tries first are not news.
        if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) RocksLogger::Logv(level, format, ap);
    }
    std::vector<std::string> dropped() {
        std::lock_guard lock(mu_);
        return dropped_;
    }

private:
    // "[db/repair.cc:354] Log #26: dropping 22784 bytes; ..." and
    // "(ignoring error) /x/000026.log: dropping ..." -> "000026.log: dropping ...".
    static std::string tidy(std::string text) {
        if (size_t at = text.find("(ignoring error) "); at != std::string::npos) text.erase(0, at + 17);
        if (!text.empty() && text[0] == '[')
            if (size_t end = text.find("] "); end != std::string::npos) text.erase(0, end + 2);
        if (text.rfind("Log #", 0) == 0) {
            const size_t colon = text.find(':');
            const unsigned long long no = std::strtoull(text.c_str() + 5, nullptr, 10);
            char name[32];
            std::snprintf(name, sizeof name, "%06llu.log", no);
            if (colon != std::string::npos) text = name + text.substr(colon);
        }
        const size_t dropping = text.find(": dropping");
        if (dropping != std::string::npos) {
            const size_t slash = text.rfind('/', dropping);
            if (slash != std::string::npos) text.erase(0, slash + 1);
        }
        return text;
    }

    std::mutex mu_;
    std::vector<std::string> dropped_;
};

}  // namespace

// Whether some process holds the RocksDB LOCK of `dir` (fcntl lock).
bool store_in_use(const std::filesystem::path& dir) {
    const int fd = ::open((dir / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    const bool locked = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    ::close(fd);
    return locked;
}

Expected<VerifyReport> verify_store(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_directory(path, ec))
        return Status::not_found("store " + path.string() + ": not a folder");
    if (Status st = database_there(path); !st) return st;  // also when the folder is missing
    VerifyReport report;
    StoreOptions o;
    o.path = path;
    if (!std::filesystem::exists(path / "CURRENT", ec)) report.problems.push_back({"CURRENT", "missing"});
    std::vector<std::filesystem::path> tables;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
        if (e.path().extension() == ".sst") tables.push_back(e.path());
    std::sort(tables.begin(), tables.end());
    rocksdb::Options ro_opts(make_db_options(o, OpenMode::read_only), rocksdb::ColumnFamilyOptions());
    ro_opts.info_log = std::make_shared<RocksLogger>();  // a file on its own has no unique id to check: not news
    ro_opts.info_log->SetInfoLogLevel(rocksdb::InfoLogLevel::ERROR_LEVEL);
    for (const auto& t : tables) {
        rocksdb::SstFileReader reader(ro_opts);
        rocksdb::Status st = reader.Open(t.string());
        if (st.ok()) st = reader.VerifyChecksum();
        if (!st.ok()) {
            // RocksDB runs the path into its text ("...to be an sstable/path");
            // say the size the file has.
            std::string why = st.ToString();
            if (size_t at = why.find("to be an sstable"); at != std::string::npos) why.insert(at + 16, ": ");
            why += " (the file has " + std::to_string(std::filesystem::file_size(t, ec)) + " bytes)";
            report.problems.push_back({t.filename().string(), why});
        } else {
            ++report.table_files;
            report.table_bytes += std::filesystem::file_size(t, ec);
        }
    }
    if (std::filesystem::exists(path / "CURRENT", ec)) {
        rocksdb::Status st = probe_read_only(o);
        if (!st.ok()) {
            std::string why = st.ToString();  // RocksDB names a missing table by its legacy .ldb name
            for (size_t at; (at = why.find(".ldb:")) != std::string::npos;) why.replace(at, 4, ".sst");
            report.problems.push_back({"", "cannot be opened: " + why});
        }
    }
    return report;
}

namespace {

// Series ids that have chunks in `db` but no registry entry.
Expected<std::vector<uint32_t>> series_without_names(const StoreDb& db) {
    std::vector<uint32_t> out;
    std::unique_ptr<rocksdb::Iterator> chunks(db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::chunks)));
    std::unique_ptr<rocksdb::Iterator> names(db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::registry)));
    chunks->SeekToFirst();
    while (chunks->Valid()) {
        if (chunks->key().size() < 4) {
            chunks->Next();
            continue;
        }
        const uint32_t id = get_be32(chunks->key().data());
        std::string name_key = "S";
        put_be32(name_key, id);
        names->Seek(name_key);
        if (!names->status().ok()) return db.convert(names->status(), "read the series registry");
        if (!names->Valid() || names->key() != name_key) out.push_back(id);
        if (id == UINT32_MAX) break;
        std::string next;
        put_be32(next, id + 1);
        chunks->Seek(next);
    }
    if (!chunks->status().ok()) return db.convert(chunks->status(), "read chunks");
    return out;
}

}  // namespace

namespace {

// What the read-only probe of a damaged store said that means data is lost
// whatever the repair does: table files the MANIFEST lists that are not
// there, and WAL records that are damaged (skipped by the repair).
std::vector<std::string> losses_from_probe(const VerifyReport& before) {
    std::vector<std::string> out;
    for (const FileProblem& p : before.problems) {
        if (!p.file.empty()) continue;  // a table file: handled by name
        const std::string& m = p.problem;
        const size_t at = m.find(".sst: No such file");  // (verify wrote RocksDB's .ldb as .sst)
        if (at != std::string::npos) {
            size_t start = m.find_last_of("/ ", at);
            start = start == std::string::npos ? 0 : start + 1;
            out.push_back(m.substr(start, at - start) + ".sst is missing: what it held is not in the store (RocksDB "
                                                         "names the first missing table file only)");
        } else if (m.find(".log") != std::string::npos) {
            out.push_back("damaged WAL records were skipped: the writes in them are not in the store (" + m + ")");
        }
    }
    return out;
}

// Before RepairDB: it learns each family (name and id) from the properties
// of the family's table files and drops the WAL records of families it does
// not know, so a family whose only table file is lost would lose what the
// WAL holds for it too. A secondary instance (which tolerates missing files)
// gives each family's id; for each, a table file holding only a tombstone of
// a key no one writes is added, so RepairDB knows every family.
void keep_family_ids(const std::filesystem::path& dir, const std::vector<rocksdb::ColumnFamilyDescriptor>& families,
                     const StoreOptions& o) {
    std::error_code ec;
    rocksdb::DBOptions dbo = make_db_options(o, OpenMode::read_only);
    dbo.track_and_verify_wals_in_manifest = false;
    dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords;  // a damaged WAL too
    dbo.info_log->SetInfoLogLevel(rocksdb::InfoLogLevel::ERROR_LEVEL);
    const std::filesystem::path scratch = dir / "gridlet-repair-ids";  // RepairDB reads files only, not folders
    std::filesystem::remove_all(scratch, ec);
    std::filesystem::create_directories(scratch / "secondary", ec);
    std::filesystem::create_directories(scratch / "fresh", ec);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    // The ids as the store's MANIFEST has them (a secondary instance
    // tolerates missing table files) ...
    rocksdb::Status st = rocksdb::Status::NotFound();
    if (std::filesystem::exists(dir / "CURRENT", ec))
        st = rocksdb::DB::OpenAsSecondary(rocksdb::Options(dbo, rocksdb::ColumnFamilyOptions()), dir.string(),
                                          (scratch / "secondary").string(), families, &handles, &db);
    // ... or, when the MANIFEST cannot be read, as every store made them:
    // the families in order at its creation (an empty database made the same
    // way has the same ids).
    if (!st.ok()) {
        rocksdb::DBOptions fresh = make_db_options(o, OpenMode::read_write);
        fresh.track_and_verify_wals_in_manifest = false;
        st = rocksdb::DB::Open(fresh, (scratch / "fresh").string(), families, &handles, &db);
    }
    if (st.ok()) {
        uint64_t number = 900'000'000;  // above any file number of a store
        for (size_t i = 1; i < handles.size(); ++i) {
            rocksdb::Options opts(dbo, families[i].options);
            rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), opts, handles[i]);
            char name[32];
            std::snprintf(name, sizeof name, "%06llu.sst", static_cast<unsigned long long>(number++));
            if (writer.Open((dir / name).string()).ok() && writer.Delete("\xff\xff\xff\xffgridlet-repair").ok())
                (void)writer.Finish();
        }
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        db->Close();
        delete db;
    }
    std::filesystem::remove_all(scratch, ec);
}

// After RepairDB: it replays every WAL file, also records that are already
// in table files, so two L0 files can hold the same sequence numbers, which
// an ordinary open refuses (force_consistency_checks). Identical records:
// compacting every family once, with the check off, merges them.
rocksdb::Status settle_after_repairdb(const std::filesystem::path& dir,
                                      std::vector<rocksdb::ColumnFamilyDescriptor> families, const StoreOptions& o) {
    for (auto& f : families) f.options.force_consistency_checks = false;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(make_db_options(o, OpenMode::read_write), dir.string(), families, &handles, &db);
    if (!st.ok()) return st;
    rocksdb::CompactRangeOptions cro;
    cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (auto* h : handles) {
        if (st.ok()) st = db->Flush(rocksdb::FlushOptions(), h);
        if (st.ok()) st = db->CompactRange(cro, h, nullptr, nullptr);
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close();
    delete db;
    return st;
}

}  // namespace

Expected<RepairReport> repair_store(const std::filesystem::path& path) {
    auto before = verify_store(path);
    if (!before) return before.status();
    std::error_code ec;
    if (store_in_use(path))
        return Status::unavailable("store " + path.string() + ": a process has it open (" +
                                   (describe_owner(path).empty() ? "see its LOCK" : describe_owner(path)) +
                                   "); stop it before repairing");
    RepairReport report;
    report.before = std::move(*before);
    report.losses = losses_from_probe(report.before);
    // The repair works on a copy (PATH.repairing-<time>); the damaged folder
    // is only renamed to PATH.damaged-<time> once the copy is repaired, so a
    // repair that fails or is killed leaves the store as it was.
    const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char stamp_text[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(stamp_text, sizeof stamp_text, "%Y%m%dT%H%M%SZ", &tm);
    std::string stamp = stamp_text;
    for (int n = 2; std::filesystem::exists(path.string() + ".damaged-" + stamp, ec) ||
                    std::filesystem::exists(path.string() + ".repairing-" + stamp, ec);
         ++n)
        stamp = std::string(stamp_text) + "-" + std::to_string(n);
    report.backup = path.string() + ".damaged-" + stamp;
    const std::filesystem::path work = path.string() + ".repairing-" + stamp;
    const auto give_up = [&](const std::string& why) {
        std::error_code ignore;
        std::filesystem::remove_all(work, ignore);
        return Status::io_error("store " + path.string() + ": " + why + "; nothing was changed");
    };
    std::filesystem::copy(path, work, std::filesystem::copy_options::recursive, ec);
    if (ec) return give_up("cannot copy it to " + work.string() + " to repair it there (" + ec.message() + ")");
    std::filesystem::remove(work / "LOCK", ec);
    // Table files whose checksums fail go to lost/: RocksDB would otherwise
    // keep a file whose damage an open does not notice (a data block).
    for (const FileProblem& p : report.before.problems) {
        if (p.file.size() < 4 || p.file.compare(p.file.size() - 4, 4, ".sst") != 0) continue;
        std::filesystem::create_directories(work / "lost", ec);
        std::filesystem::rename(work / p.file, work / "lost" / p.file, ec);
        if (ec) return give_up("cannot move the damaged " + p.file + " to lost/ (" + ec.message() + ")");
        report.lost_tables.push_back(p.file);
    }
    StoreOptions o;
    o.path = work;
    auto cutoffs = std::make_shared<RetentionCutoffs>();
    cutoffs->update(0, RetentionOptions{0, 0, 0, 0, 0, 0});  // keep everything
    auto merge = std::make_shared<ChunkMergeOperator>();
    auto cache = rocksdb::NewLRUCache(8u << 20);
    const auto families = all_families(o, cache, cutoffs, merge);
    // CURRENT only names the MANIFEST in use: when it is missing, name the
    // newest MANIFEST (RepairDB would lose the WAL records of every family
    // that has no table file yet).
    bool wrote_current = false;
    if (!std::filesystem::exists(work / "CURRENT", ec)) {
        std::string newest;
        uint64_t newest_no = 0;
        for (const auto& e : std::filesystem::directory_iterator(work, ec)) {
            const std::string n = e.path().filename().string();
            if (n.rfind("MANIFEST-", 0) != 0) continue;
            const uint64_t no = std::strtoull(n.c_str() + 9, nullptr, 10);
            if (newest.empty() || no > newest_no) {
                newest = n;
                newest_no = no;
            }
        }
        if (!newest.empty()) {
            std::ofstream(work / "CURRENT", std::ios::trunc) << newest << "\n";
            wrote_current = true;
        }
    }
    // 1. Every table file intact (a damaged WAL, a lost CURRENT): open
    //    skipping the damaged WAL records (every readable record before and
    //    after them is kept) and flush, so that the WAL is no longer needed.
    rocksdb::Status st = rocksdb::Status::NotFound();
    if (report.lost_tables.empty() && std::filesystem::exists(work / "CURRENT", ec)) {
        rocksdb::DBOptions dbo = make_db_options(o, OpenMode::read_write);
        dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords;
        auto salvage_log = std::make_shared<SalvageLogger>();
        dbo.info_log = salvage_log;
        std::vector<rocksdb::ColumnFamilyHandle*> handles;
        rocksdb::DB* db = nullptr;
        st = rocksdb::DB::Open(dbo, work.string(), families, &handles, &db);
        for (const std::string& d : salvage_log->dropped())
            report.losses.push_back("damaged WAL records were skipped: " + d + " (the writes in them are not in the store)");
        if (st.ok()) {
            st = db->Flush(rocksdb::FlushOptions(), handles);
            for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
            db->Close();
            delete db;
        }
    }
    // 2. Otherwise (a table file lost, a damaged MANIFEST): RocksDB's
    //    RepairDB rebuilds the MANIFEST from the readable table files and
    //    the WAL; then the duplicates it may leave are compacted away.
    if (!st.ok()) {
        if (wrote_current) std::filesystem::remove(work / "CURRENT", ec);
        auto repair_families = families;
        for (auto& f : repair_families) f.options.force_consistency_checks = false;
        keep_family_ids(work, families, o);
        auto salvage_log = std::make_shared<SalvageLogger>();
        rocksdb::DBOptions dbo = make_db_options(o, OpenMode::read_write);
        dbo.info_log = salvage_log;
        st = rocksdb::RepairDB(work.string(), dbo, repair_families);
        for (const std::string& d : salvage_log->dropped())
            report.losses.push_back("damaged WAL records were skipped: " + d + " (the writes in them are not in the store)");
        if (st.ok()) st = settle_after_repairdb(work, families, o);
    }
    if (!st.ok()) return give_up("repair failed: " + st.ToString());
    {
        auto reopened = StoreDb::open(o, OpenMode::read_write);
        if (!reopened) return give_up("repaired, but it still does not open: " + reopened.status().message());
        auto unnamed = series_without_names(**reopened);
        if (!unnamed) return give_up(unnamed.status().message());
        report.unnamed_series = std::move(*unnamed);
        // Their samples stay reachable, and their ids are never given to a
        // new series (which would take the old samples over): each gets an
        // entry named lost/series-<id>.
        RegistryBackend registry(**reopened);
        for (uint32_t id : report.unnamed_series) {
            SeriesMeta m;
            m.id = id;
            m.name = "lost/series-" + std::to_string(id);
            m.description = "registry entry lost; samples kept by gridlet store repair on " + std::string(stamp_text);
            m.tags["device"] = "lost";
            if (Status p = registry.persist(m); !p) return give_up(p.message());
        }
        if (Status f = (*reopened)->flush_all(); !f) return give_up(f.message());
    }
    std::filesystem::remove(work / kOwnerFile, ec);
    for (std::string& loss : report.losses)  // name the store's files, not the work copy's
        for (size_t at; (at = loss.find(work.string())) != std::string::npos;) loss.replace(at, work.string().size(), path.string());
    // The swap, atomic where the filesystem can: the repaired copy and the
    // damaged folder trade places (PATH always holds a store), then the
    // damaged one takes its name.
    if (::renameat2(AT_FDCWD, work.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
        std::filesystem::rename(work, report.backup, ec);  // work now holds the damaged store
        if (ec) spdlog::warn("store {}: the damaged store is in {} ({} could not be renamed to {})", path.string(),
                             work.string(), ec.message(), report.backup.string());
        if (ec) report.backup = work;
    } else {
        std::filesystem::rename(path, report.backup, ec);
        if (ec) return give_up("cannot rename it to " + report.backup.string() + " (" + ec.message() + ")");
        std::filesystem::rename(work, path, ec);
        if (ec) {
            std::error_code back;
            std::filesystem::rename(report.backup, path, back);
            return give_up("cannot move the repaired copy into place (" + ec.message() + ")");
        }
    }
    auto after = verify_store(path);
    if (!after) return after.status();
    report.after = std::move(*after);
    return report;
}


}  // namespace gridlet::store
