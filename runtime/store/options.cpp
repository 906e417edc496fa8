#include "store/options.h"

#include "core/timezone.h"
#include "store/aggregation.h"

namespace gridlet::store {

namespace {
constexpr int64_t kDay = 86'400'000;

int64_t to_ms_days(const nlohmann::json& j, const char* k) { return j.at(k).get<int64_t>() * kDay; }
}  // namespace

const char* sync_policy_name(SyncPolicy p) noexcept {
    switch (p) {
        case SyncPolicy::none: return "none";
        case SyncPolicy::interval: return "interval";
        case SyncPolicy::batch: return "batch";
    }
    return "none";
}

std::vector<config::KeySpec> store_config_keys() {
    using config::ValueType;
    using config::key;
    std::vector<config::KeySpec> keys;
    keys.push_back(key("path", ValueType::string, "\"data/db\"",
                       "RocksDB directory; relative to the site file's folder"));
    auto sync = key("sync", ValueType::string, "\"interval\"",
                    "when acknowledged writes are fsynced: none (OS decides), interval (every sync_interval_ms), "
                    "batch (before each write returns); a write is always in the WAL before it is acknowledged");
    sync.one_of = {"none", "interval", "batch"};
    keys.push_back(sync);
    keys.push_back(key("sync_interval_ms", ValueType::integer, "1000", "WAL fsync period for sync = \"interval\"", 1,
                       3'600'000));
    keys.push_back(key("block_cache_mb", ValueType::integer, "8", "block cache shared by all data (MiB)", 1, 65536));
    keys.push_back(key("memtable_mb", ValueType::integer, "16", "budget for all memtables together (MiB)", 4, 65536));
    keys.push_back(key("chunk_memtable_mb", ValueType::integer, "4", "memtable of raw chunks (MiB)", 1, 4096));
    keys.push_back(key("chunk_max_samples", ValueType::integer, "1024", "samples per chunk before a new one starts",
                       16, 65536));
    keys.push_back(key("chunk_max_span_s", ValueType::integer, "86400", "time span of a chunk before a new one starts",
                       60, 31 * 86400));
    keys.push_back(key("rollup_interval_ms", ValueType::integer, "1000", "how often rollups are brought up to date",
                       10, 3'600'000));
    keys.push_back(key("create", ValueType::string, "\"if_missing\"",
                       "if_missing: `gridlet run` creates the store where none ever was; never: only "
                       "`gridlet store init` does (a store that disappeared is refused either way)"));
    keys.back().one_of = {"if_missing", "never"};
    keys.push_back(key("accept_from_year", ValueType::integer, "2000",
                       "samples dated before January 1 of this year (UTC) are refused and counted", 1, 9999));
    keys.push_back(key("accept_ahead_hours", ValueType::integer, "24",
                       "samples dated more than this many hours after now are refused and counted", 0,
                       24 * 366 * 100));
    keys.push_back(key("retention_raw_days", ValueType::integer, "90", "raw samples kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("retention_1m_days", ValueType::integer, "365", "1-minute rollups kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("retention_15m_days", ValueType::integer, "0", "15-minute rollups kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("retention_1h_days", ValueType::integer, "0", "1-hour rollups kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("retention_1d_days", ValueType::integer, "0", "1-day rollups kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("retention_events_days", ValueType::integer, "365", "events kept (days, 0 = forever)", 0,
                       36500));
    keys.push_back(key("outbox_max_entries", ValueType::integer, "1000000",
                       "store-and-forward entries per queue before the oldest are dropped", 1, 1e12));
    keys.push_back(key("max_size_mb", ValueType::integer, "0",
                       "disk budget: the store's folder kept under this size (MB; 0 = none); over it, the oldest "
                       "data is shed (README \"Disk budget\")", 0, 1e9));
    keys.push_back(key("min_free_mb", ValueType::integer, "0",
                       "free-space floor: the disk holding the store keeps at least this much free (MB; 0 = none); "
                       "below it, the oldest data is shed", 0, 1e9));
    keys.push_back(key("budget_check_s", ValueType::integer, "30", "how often the disk budget is checked (s)", 1,
                       86400));
    keys.push_back(key("background_jobs", ValueType::integer, "2", "RocksDB flush and compaction threads", 1, 16));
    return keys;
}

Status validate_options(const StoreOptions& o) {
    if (o.path.empty()) return Status::invalid("store: path is empty");
    if (o.sync_interval_ms <= 0) return Status::invalid("store: sync_interval_ms must be > 0");
    if (o.chunk_max_samples < 2) return Status::invalid("store: chunk_max_samples must be >= 2");
    if (o.chunk_max_span_ms <= 0) return Status::invalid("store: chunk_max_span_ms must be > 0");
    if (o.rollup_interval_ms <= 0) return Status::invalid("store: rollup_interval_ms must be > 0");
    if (o.resume_interval_ms <= 0) return Status::invalid("store: resume_interval_ms must be > 0");
    if (!in_store_time(o.accept_from_ms))
        return Status::invalid("store: accept_from must be within years 0001..9999");
    if (o.accept_ahead_ms < 0 || o.accept_ahead_ms > kMaxStoreTime - kMinStoreTime)
        return Status::invalid("store: accept_ahead must be >= 0 and within years 0001..9999");
    // A coarser resolution is kept at least as long as a finer one: queries
    // fall back from coarse to fine, never the other way round.
    struct Item {
        const char* name;
        int64_t ms;
    };
    const Item chain[] = {{"retention_raw_days", o.retention.raw_ms},
                          {"retention_1m_days", o.retention.min1_ms},
                          {"retention_15m_days", o.retention.min15_ms},
                          {"retention_1h_days", o.retention.hour1_ms},
                          {"retention_1d_days", o.retention.day1_ms}};
    for (size_t i = 0; i < std::size(chain); ++i) {
        if (chain[i].ms < 0) return Status::invalid(std::string("store: ") + chain[i].name + " must be >= 0");
        if (i > 0 && chain[i - 1].ms == 0 && chain[i].ms != 0)
            return Status::invalid(std::string("store: ") + chain[i].name + " must be 0 (forever) because " +
                                   chain[i - 1].name + " is 0");
        if (i > 0 && chain[i].ms != 0 && chain[i].ms < chain[i - 1].ms)
            return Status::invalid(std::string("store: ") + chain[i].name + " (" + std::to_string(chain[i].ms / kDay) +
                                   ") must be >= " + chain[i - 1].name + " (" +
                                   std::to_string(chain[i - 1].ms / kDay) + ")");
    }
    if (o.retention.raw_ms != 0 && o.retention.raw_ms < kDay)
        return Status::invalid("store: raw samples must be kept at least 1 day (rollups are computed from them)");
    if (o.retention.events_ms < 0) return Status::invalid("store: retention_events_days must be >= 0");
    return Status::ok();
}

Expected<StoreOptions> store_options_from_json(const nlohmann::json& j, const std::filesystem::path& base_dir) {
    StoreOptions o;
    try {
        std::filesystem::path p = j.at("path").get<std::string>();
        o.path = (p.is_relative() && !base_dir.empty()) ? base_dir / p : p;
        std::string sync = j.at("sync").get<std::string>();
        if (sync == "none") o.sync = SyncPolicy::none;
        else if (sync == "interval") o.sync = SyncPolicy::interval;
        else if (sync == "batch") o.sync = SyncPolicy::batch;
        else return Status::invalid("[store] sync: '" + sync + "' is not one of none, interval, batch");
        o.sync_interval_ms = j.at("sync_interval_ms").get<int64_t>();
        o.block_cache_bytes = j.at("block_cache_mb").get<size_t>() << 20;
        o.memtable_budget_bytes = j.at("memtable_mb").get<size_t>() << 20;
        o.chunk_write_buffer_bytes = j.at("chunk_memtable_mb").get<size_t>() << 20;
        o.chunk_max_samples = j.at("chunk_max_samples").get<uint32_t>();
        o.chunk_max_span_ms = j.at("chunk_max_span_s").get<int64_t>() * 1000;
        o.rollup_interval_ms = j.at("rollup_interval_ms").get<int64_t>();
        o.create_if_missing = j.at("create").get<std::string>() == "if_missing";
        o.accept_from_ms = *TimeZone::utc().from_local(CivilTime{j.at("accept_from_year").get<int>(), 1, 1});
        o.accept_ahead_ms = j.at("accept_ahead_hours").get<int64_t>() * 3'600'000;
        o.retention.raw_ms = to_ms_days(j, "retention_raw_days");
        o.retention.min1_ms = to_ms_days(j, "retention_1m_days");
        o.retention.min15_ms = to_ms_days(j, "retention_15m_days");
        o.retention.hour1_ms = to_ms_days(j, "retention_1h_days");
        o.retention.day1_ms = to_ms_days(j, "retention_1d_days");
        o.retention.events_ms = to_ms_days(j, "retention_events_days");
        o.outbox_max_entries = j.at("outbox_max_entries").get<uint64_t>();
        o.max_background_jobs = j.at("background_jobs").get<int>();
        o.max_size_bytes = j.at("max_size_mb").get<uint64_t>() * 1'000'000;
        o.min_free_bytes = j.at("min_free_mb").get<uint64_t>() * 1'000'000;
        o.budget_check_interval_ms = j.at("budget_check_s").get<int64_t>() * 1000;
    } catch (const std::exception& e) {
        return Status::invalid(std::string("[store]: ") + e.what() + " (was the table validated with store_config_keys()?)");
    }
    Status st = validate_options(o);
    if (!st) return st;
    return o;
}

}  // namespace gridlet::store
