#include "store/store.h"

#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

namespace gridlet::store {

namespace {
// glibc keeps the heap pages a burst of work freed (a rollup pass over
// 100,000 series, the memtables of their first samples) until asked to give
// them back; a gateway would carry them in its RSS for good (store_bench:
// 67-73 MB added by 100,000 series without this, 50-59 MB with it). Only
// after such bursts (start-up, catch-up after a stop): malloc_trim holds
// each malloc arena's lock while it walks it, up to ~30 ms on a fragmented
// heap of 60 MB, which steady operation should not pay every minute (the
// memory freed there is reused by the next allocations of the same sizes).
void give_back_free_heap() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
// A pass that advanced at least this many series gives the heap back at once.
constexpr size_t kTrimAfterSeries = 10'000;
}  // namespace

Expected<std::unique_ptr<Store>> Store::open(const StoreOptions& options, SeriesRegistry& registry) {
    return open_impl(options, &registry, OpenMode::read_write);
}

Expected<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
    return open_impl(options, nullptr, OpenMode::read_write);
}

Expected<std::unique_ptr<Store>> Store::open_read_only(const std::filesystem::path& path) {
    StoreOptions o;
    o.path = path;
    return open_impl(o, nullptr, OpenMode::read_only);
}

Expected<std::unique_ptr<Store>> Store::open_impl(const StoreOptions& options, SeriesRegistry* registry,
                                                  OpenMode mode) {
    std::unique_ptr<Store> s(new Store());
    s->options_ = options;
    auto db = StoreDb::open(options, mode);
    if (!db) return db.status();
    s->db_ = std::move(*db);
    s->backend_ = std::make_unique<RegistryBackend>(*s->db_);
    if (!registry) {
        s->owned_registry_ = std::make_unique<SeriesRegistry>();
        registry = s->owned_registry_.get();
    }
    s->registry_ = registry;
    if (Status st = registry->attach(s->backend_.get()); !st) return st.with_context("store " + s->db_->path());
    auto zone = day_zone_of(*s->db_, options);
    if (!zone) return zone.status();
    BlockGrid grid(*zone);
    s->writer_ = std::make_unique<ChunkWriter>(*s->db_, options, registry);
    s->roller_ = std::make_unique<Roller>(*s->db_, *s->writer_, registry,
                                          RollupPolicy::from_retention(options.retention), grid);
    s->query_ = std::make_unique<QueryEngine>(*s->db_, *registry);
    s->query_->set_grid(grid);
    s->events_ = std::make_unique<EventLog>(*s->db_);
    s->state_ = std::make_unique<StateStore>(*s->db_);
    s->outbox_ = std::make_unique<Outbox>(*s->db_, options.outbox_max_entries);
    s->budget_ = std::make_unique<DiskBudget>(options.max_size_bytes, options.min_free_bytes);
    if (mode == OpenMode::read_write) {
        Store* self = s.get();
        s->maintenance_ = std::thread([self] { self->maintenance_loop(); });
        if (options.sync == SyncPolicy::interval) s->syncer_ = std::thread([self] { self->sync_loop(); });
    }
    return s;
}

Expected<TimeZone> Store::day_zone_of(StoreDb& db, const StoreOptions& options) {
    static const std::string kKey = "Z";  // rollup_meta: the IANA name of the day rows' zone
    std::string name;
    auto s = db.db()->Get(rocksdb::ReadOptions(), db.cf(Cf::rollup_meta), kKey, &name);
    if (!s.ok() && !s.IsNotFound()) return db.convert(s, "read the day rollups' time zone");
    if (s.IsNotFound()) {
        if (db.read_only()) return TimeZone::utc();
        // A store that has rollups already was made with UTC days.
        std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::rollups)));
        it->SeekToFirst();
        if (!it->status().ok()) return db.convert(it->status(), "read rollups");
        name = it->Valid() || options.day_zone.empty() ? "UTC" : options.day_zone;
        auto zone = TimeZone::load(name);
        if (!zone) return zone.status().with_context("store " + db.path() + ": day rollups");
        rocksdb::WriteBatch b;
        b.Put(db.cf(Cf::rollup_meta), kKey, name);
        if (Status st = db.write(b, "record the day rollups' time zone"); !st) return st;
        return zone;
    }
    auto zone = TimeZone::load(name);
    if (!zone)
        return Status::invalid("store " + db.path() + ": its day rollups are in time zone '" + name +
                               "', which this system's tzdata does not know (install tzdata)");
    const std::string wanted = options.day_zone.empty() ? "UTC" : options.day_zone;
    auto wanted_zone = TimeZone::load(wanted);
    if (!db.read_only() && wanted_zone && wanted_zone->name() != zone->name())
        spdlog::warn("store {}: its day rollups are in {} (recorded when it was created), the site's time zone is {}: "
                     "local days of {} are answered from hourly rows while those are kept",
                     db.path(), zone->name(), wanted, wanted);
    return zone;
}

Store::~Store() {
    // The registry may outlive us: it must not call our backend any more.
    if (registry_ && backend_) registry_->detach();
    {
        std::lock_guard lock(bg_mu_);
        stopping_ = true;
    }
    bg_cv_.notify_all();
    if (maintenance_.joinable()) maintenance_.join();
    if (syncer_.joinable()) syncer_.join();
    if (db_ && !db_->read_only()) {
        // Everything into table files: after a clean stop no data lives only
        // in the WAL (RocksDB does not track the live WAL: one deleted later
        // would not be noticed), and the next start has nothing to replay.
        Status st = db_->flush_all();
        if (!st) spdlog::warn("{}", st.message());
        if (!st || db_->health().failing) (void)db_->sync_wal();
    }
    // Components borrow db_: destroy them first.
    outbox_.reset();
    state_.reset();
    events_.reset();
    query_.reset();
    roller_.reset();
    writer_.reset();
    db_.reset();
}

void Store::set_background_error(const Status& st) {
    std::lock_guard lock(bg_mu_);
    if (st.message() != bg_error_) spdlog::warn("{}", st.message());
    bg_error_ = st.message();
}

void Store::clear_background_error() {
    std::lock_guard lock(bg_mu_);
    if (!bg_error_.empty()) spdlog::info("store {}: background tasks work again (last error: {})", db_->path(), bg_error_);
    bg_error_.clear();
}

std::string Store::background_error() const {
    std::lock_guard lock(bg_mu_);
    return bg_error_;
}

void Store::maintenance_loop() {
    using std::chrono::milliseconds;
    using std::chrono::steady_clock;
    const Clock& clock = options_.clock ? *options_.clock : SystemClock::instance();
    const int64_t tick_ms = std::min<int64_t>({options_.rollup_interval_ms, options_.resume_interval_ms, 1000});
    auto next_pass = steady_clock::now() + milliseconds(options_.rollup_interval_ms);
    auto next_resume = steady_clock::now();
    auto next_cutoffs = steady_clock::now();
    auto next_budget = steady_clock::now();
    std::unique_lock lock(bg_mu_);
    while (!stopping_) {
        bg_cv_.wait_for(lock, milliseconds(tick_ms), [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        const auto now = steady_clock::now();
        (void)db_->check_folder();

        if (db_->health().failing) {
            // Writes are stopped (full disk, read-only filesystem): try to
            // resume them now and then; no rollup pass until they are back.
            if (now >= next_resume) {
                next_resume = now + milliseconds(options_.resume_interval_ms);
                if (Status st = db_->try_resume(); !st) spdlog::debug("{}", st.message());
            }
        } else if (now >= next_pass) {
            next_pass = now + milliseconds(options_.rollup_interval_ms);
            auto pass = roll_up_now();
            if (!pass) {
                set_background_error(pass.status().with_context("rollups"));
            } else {
                clear_background_error();
            }
            if (steady_clock::now() >= next_cutoffs) {
                if (options_.apply_retention) db_->cutoffs().update(clock.now_ms(), options_.retention);
                if (auto f = db_->flush_tableless_families(); !f) spdlog::warn("{}", f.status().message());
                next_cutoffs = steady_clock::now() + std::chrono::seconds(60);
            }
        }
        // The disk budget, after the rollup pass (what it rolled up may then
        // go from the raw samples): on a disk that fills, shedding is what
        // lets writes go on (store/disk_budget.h).
        if (steady_clock::now() >= next_budget) {
            next_budget = steady_clock::now() + milliseconds(options_.budget_check_interval_ms);
            if (Status st = budget_->check(*db_, *outbox_, options_.path, clock.now_ms(),
                                           [this] { return raw_covered_until(); });
                !st)
                spdlog::warn("store disk budget: {}", st.message());
        }
        lock.lock();
    }
}

int64_t Store::raw_covered_until() const {
    const int64_t now = (options_.clock ? *options_.clock : SystemClock::instance()).now_ms();
    int64_t covered = INT64_MAX;
    std::unique_ptr<rocksdb::Iterator> chunks(db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::chunks)));
    for (const SeriesMeta& m : registry_->all()) {
        auto last = query_->last(m.id);
        if (!last || !*last) continue;  // no samples (or unreadable: nothing to shed there either)
        std::string w;
        const rocksdb::Status rs =
            db_->db()->Get(rocksdb::ReadOptions(), db_->cf(Cf::rollup_meta), watermark_key(m.id), &w);
        if (rs.ok() && w.size() == 8) {
            const int64_t watermark = get_time(w.data());
            // The roller closes a minute when a later sample comes: the last
            // minute of a series silent for more than the raw floor (a day)
            // stays open, and does not hold the others back.
            if ((*last)->ts >= watermark && now - (*last)->ts < DiskBudget::kRawFloorMs)
                covered = std::min(covered, watermark);
            continue;
        }
        // Never rolled up: nothing of it may go.
        chunks->Seek(series_prefix(m.id));
        if (chunks->Valid() && chunks->key().size() >= 12 && get_be32(chunks->key().data()) == m.id)
            covered = std::min(covered, get_time(chunks->key().data() + 4));
    }
    return covered;
}

void Store::sync_loop() {
    std::unique_lock lock(bg_mu_);
    while (!stopping_) {
        bg_cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms), [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        if (db_->health().failing) {
            lock.lock();
            continue;  // reported by the health; the WAL is synced again once writes resume
        }
        Status st = db_->sync_wal();
        if (!st && !db_->health().failing) set_background_error(st);
        lock.lock();
    }
}

std::pair<int64_t, int64_t> Store::accept_window() const {
    const Clock& clock = options_.clock ? *options_.clock : SystemClock::instance();
    const int64_t now = std::clamp(clock.now_ms(), kMinStoreTime, kMaxStoreTime);
    const int64_t ahead = std::min(options_.accept_ahead_ms, kMaxStoreTime - now);
    return {std::max(options_.accept_from_ms, kMinStoreTime), now + ahead};
}

namespace {
int64_t time_of(const gl_sample& s) { return s.ts_ms; }
int64_t time_of(const Sample& s) { return s.ts; }
}  // namespace

template <class S, class Write>
Status Store::append_window(std::span<const S> samples, Write write) {
    const std::pair<int64_t, int64_t> window = accept_window();
    const int64_t lo = window.first, hi = window.second;
    auto outside = [lo, hi](const S& s) { return time_of(s) < lo || time_of(s) > hi; };
    if (std::none_of(samples.begin(), samples.end(), outside)) return counted(write(samples), samples.size());
    std::vector<S> kept;
    kept.reserve(samples.size());
    for (const S& s : samples) {
        if (time_of(s) < lo) ++refused_old_;
        else if (time_of(s) > hi) ++refused_ahead_;
        else kept.push_back(s);
    }
    return counted(write(std::span<const S>(kept)), kept.size());
}

Status Store::append(std::span<const gl_sample> batch) {
    return append_window(batch, [this](std::span<const gl_sample> b) { return writer_->append(b); });
}

Status Store::append(uint32_t series, std::span<const Sample> samples) {
    return append_window(samples, [&](std::span<const Sample> b) { return writer_->append(series, b); });
}

Expected<Roller::PassStats> Store::roll_up_now() {
    if (read_only()) return Status::unsupported("store " + db_->path() + ": rollups: opened read-only");
    std::lock_guard lock(roll_mu_);
    auto pass = roller_->roll_once();
    if (pass && pass->series >= kTrimAfterSeries) give_back_free_heap();
    return pass;
}

Status Store::enforce_retention() {
    if (read_only()) return Status::unsupported("store " + db_->path() + ": retention: opened read-only");
    const Clock& clock = options_.clock ? *options_.clock : SystemClock::instance();
    if (!options_.apply_retention)
        return Status::unsupported("store " + db_->path() + ": retention: this opener does not know the site's retention");
    db_->cutoffs().update(clock.now_ms(), options_.retention);
    rocksdb::CompactRangeOptions cro;
    cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (Cf c : {Cf::chunks, Cf::rollups, Cf::events}) {
        if (Status st = db_->convert(db_->db()->Flush(rocksdb::FlushOptions(), db_->cf(c)), "flush"); !st) return st;
        if (Status st = db_->convert(db_->db()->CompactRange(cro, db_->cf(c), nullptr, nullptr), "compact"); !st)
            return st;
    }
    return Status::ok();
}

Status Store::checkpoint(const std::filesystem::path& dir) {
    if (read_only()) return Status::unsupported("store " + db_->path() + ": a checkpoint needs the store open read-write");
    rocksdb::Checkpoint* raw = nullptr;
    if (Status st = db_->convert(rocksdb::Checkpoint::Create(db_->db(), &raw), "checkpoint"); !st) return st;
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    return db_->convert(cp->CreateCheckpoint(dir.string()), "checkpoint into " + dir.string());
}

Status Store::compact_all() {
    if (read_only()) return Status::unsupported("store " + db_->path() + ": compact: opened read-only");
    rocksdb::CompactRangeOptions cro;
    cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (int i = 0; i < static_cast<int>(Cf::count_); ++i) {
        auto* cf = db_->cf(static_cast<Cf>(i));
        if (Status st = db_->convert(db_->db()->Flush(rocksdb::FlushOptions(), cf), "flush"); !st) return st;
        if (Status st = db_->convert(db_->db()->CompactRange(cro, cf, nullptr, nullptr), "compact"); !st) return st;
    }
    return Status::ok();
}

}  // namespace gridlet::store
