// A RocksDB FileSystem that fails on demand, for the disk fault tests: a
// full disk (ENOSPC) or a filesystem remounted read-only (EROFS), switched
// on and off while a store runs. Every write path of RocksDB (new files,
// appends, syncs, renames) fails while a fault is set; reads still work.
//
// Threads: set() from the test thread; RocksDB's threads read the flag.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace gridlet::store::test {

enum class DiskFault { none, full, read_only };

class FaultFs : public rocksdb::FileSystemWrapper {
public:
    explicit FaultFs(std::shared_ptr<rocksdb::FileSystem> base) : FileSystemWrapper(std::move(base)) {}
    static const char* kClassName() { return "GridletFaultFs"; }
    const char* Name() const override { return kClassName(); }

    void set(DiskFault f) { fault_.store(f); }
    DiskFault fault() const { return fault_.load(); }
    // How many operations failed because of the fault.
    uint64_t failures() const { return failures_.load(); }

    rocksdb::IOStatus check() const {
        switch (fault_.load()) {
            case DiskFault::none: return rocksdb::IOStatus::OK();
            case DiskFault::full:
                ++failures_;
                return rocksdb::IOStatus::NoSpace("injected: No space left on device");
            case DiskFault::read_only:
                ++failures_;
                return rocksdb::IOStatus::IOError("injected: Read-only file system");
        }
        return rocksdb::IOStatus::OK();
    }

    // A full disk still creates files (inodes are left) and fails on their
    // first write; a read-only filesystem refuses to create them.
    rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override {
        if (fault_.load() == DiskFault::read_only)
            if (auto st = check(); !st.ok()) return st;
        std::unique_ptr<rocksdb::FSWritableFile> file;
        auto st = target()->NewWritableFile(f, o, &file, d);
        if (st.ok()) r->reset(new File(std::move(file), *this));
        return st;
    }
    rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                         std::unique_ptr<rocksdb::FSWritableFile>* r,
                                         rocksdb::IODebugContext* d) override {
        if (auto st = check(); !st.ok()) return st;
        std::unique_ptr<rocksdb::FSWritableFile> file;
        auto st = target()->ReopenWritableFile(f, o, &file, d);
        if (st.ok()) r->reset(new File(std::move(file), *this));
        return st;
    }
    rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSWritableFile>* r,
                                        rocksdb::IODebugContext* d) override {
        if (auto st = check(); !st.ok()) return st;
        std::unique_ptr<rocksdb::FSWritableFile> file;
        auto st = target()->ReuseWritableFile(f, old, o, &file, d);
        if (st.ok()) r->reset(new File(std::move(file), *this));
        return st;
    }
    rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                                 rocksdb::IODebugContext* d) override {
        if (auto st = check(); !st.ok()) return st;
        return target()->RenameFile(s, t, o, d);
    }

private:
    class File : public rocksdb::FSWritableFileOwnerWrapper {
    public:
        File(std::unique_ptr<rocksdb::FSWritableFile> f, const FaultFs& fs)
            : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs) {}
        rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                                 rocksdb::IODebugContext* d) override {
            if (auto st = fs_.check(); !st.ok()) return st;
            return FSWritableFileOwnerWrapper::Append(data, o, d);
        }
        rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                                 const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* d) override {
            if (auto st = fs_.check(); !st.ok()) return st;
            return FSWritableFileOwnerWrapper::Append(data, o, v, d);
        }
        rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            if (auto st = fs_.check(); !st.ok()) return st;
            return FSWritableFileOwnerWrapper::Flush(o, d);
        }
        rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            if (auto st = fs_.check(); !st.ok()) return st;
            return FSWritableFileOwnerWrapper::Sync(o, d);
        }
        rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
            if (auto st = fs_.check(); !st.ok()) return st;
            return FSWritableFileOwnerWrapper::Fsync(o, d);
        }

    private:
        const FaultFs& fs_;
    };

    std::atomic<DiskFault> fault_{DiskFault::none};
    mutable std::atomic<uint64_t> failures_{0};
};

// A FaultFs over the default filesystem and the Env to pass in StoreOptions.
struct FaultDisk {
    std::shared_ptr<FaultFs> fs = std::make_shared<FaultFs>(rocksdb::FileSystem::Default());
    std::shared_ptr<rocksdb::Env> env{rocksdb::NewCompositeEnv(fs)};
};

}  // namespace gridlet::store::test
