// `gridlet store verify` and `gridlet store repair`: check every file of a
// store (block checksums, MANIFEST, WAL) and salvage a damaged one into the
// same folder after keeping an untouched copy (runtime/store/README.md,
// "Damaged stores"). CLI thread.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "store/db.h"

namespace gridlet::cli {

namespace {

struct StoreArgs {
    std::string db, config;
    bool yes = false;
};

void print_problems(const store::VerifyReport& r) {
    for (const auto& p : r.problems)
        std::printf("  %s%s%s\n", p.file.empty() ? "" : p.file.c_str(), p.file.empty() ? "" : ": ", p.problem.c_str());
}

void run_verify(const StoreArgs& a) {
    StoreLocation loc = locate_store("store verify", a.db, a.config);
    auto report = store::verify_store(loc.path);
    if (!report) fail("store verify", 2, report.status().message());
    std::printf("store %s: %zu table files checked (%.1f MB)\n", loc.path.c_str(), report->table_files,
                static_cast<double>(report->table_bytes) / 1e6);
    if (report->ok()) {
        std::printf("no damage found\n");
        return;
    }
    std::printf("damaged:\n");
    print_problems(*report);
    std::printf("`gridlet store repair --db %s` salvages what is readable (an untouched copy is kept)\n",
                loc.path.c_str());
    throw CLI::RuntimeError(1);
}

void run_repair(const StoreArgs& a) {
    StoreLocation loc = locate_store("store repair", a.db, a.config);
    KeepOwner keep(loc.path.parent_path());  // the repaired store and the damaged one kept beside it
    if (!a.yes) {
        auto report = store::verify_store(loc.path);
        if (!report) fail("store repair", 2, report.status().message());
        if (report->ok()) {
            std::printf("store %s: no damage found; nothing to repair\n", loc.path.c_str());
            return;
        }
    }
    auto report = store::repair_store(loc.path);
    if (!report) fail("store repair", report.status().code() == StatusCode::not_found ? 2 : 1, report.status().message());
    std::printf("store %s: %s\n", loc.path.c_str(),
                report->complete() ? "repaired, nothing lost" : "repaired, NOT everything could be kept (see below)");
    std::printf("the damaged store, untouched: %s\n", report->backup.c_str());
    if (!report->before.ok()) {
        std::printf("what was damaged:\n");
        print_problems(report->before);
    }
    std::printf("table files readable now: %zu (%.1f MB)\n", report->after.table_files,
                static_cast<double>(report->after.table_bytes) / 1e6);
    if (!report->lost_tables.empty()) {
        std::printf("table files that could not be read, moved to %s/lost/ (what they held is not in the store):\n",
                    loc.path.c_str());
        for (const auto& f : report->lost_tables) std::printf("  %s\n", f.c_str());
    }
    for (const std::string& loss : report->losses) std::printf("lost: %s\n", loss.c_str());
    if (!report->unnamed_series.empty()) {
        std::printf("%zu series have samples but lost their registry entry (name, unit, kind); their samples are kept "
                    "as:",
                    report->unnamed_series.size());
        for (size_t i = 0; i < report->unnamed_series.size() && i < 20; ++i)
            std::printf(" lost/series-%u", report->unnamed_series[i]);
        std::printf("%s\n", report->unnamed_series.size() > 20 ? " ..." : "");
    }
    if (!report->after.ok()) {
        std::printf("still damaged:\n");
        print_problems(report->after);
    }
    if (!report->complete()) throw CLI::RuntimeError(1);
}

void run_init(const StoreArgs& a) {
    StoreLocation loc = locate_store("store init", a.db, a.config);
    KeepOwner keep(loc.path.parent_path());
    store::StoreOptions o;
    o.path = loc.path;
    o.day_zone = loc.timezone;  // day rollups on the site's local days
    Status st = store::init_store(o);
    if (!st)
        fail("store init", st.code() == StatusCode::already_exists || st.code() == StatusCode::not_found ? 2 : 1,
             st.message());
    std::printf("store %s: created (empty); its creation record is %s\n", loc.path.c_str(),
                store::creation_record(loc.path).c_str());
}

}  // namespace

void register_store_command(CLI::App& app) {
    CLI::App* store = app.add_subcommand("store", "Create, check or repair a store");
    store->require_subcommand(1);
    auto args = std::make_shared<StoreArgs>();

    CLI::App* verify = store->add_subcommand(
        "verify", "Read every file of a store and check its checksums (read-only; also while gridlet runs)");
    add_store_options(verify, args->db, args->config);
    on_run(verify, "store verify", [args] { run_verify(*args); });

    CLI::App* repair = store->add_subcommand(
        "repair", "Salvage a damaged store in place, after copying it untouched to <folder>.damaged-<time>");
    add_store_options(repair, args->db, args->config);
    repair->add_flag("--yes", args->yes, "Repair even when verify finds no damage");
    on_run(repair, "store repair", [args] { run_repair(*args); });

    CLI::App* init = store->add_subcommand(
        "init", "Create an empty store where there is none (also where one was and is gone: see its creation record)");
    add_store_options(init, args->db, args->config);
    on_run(init, "store init", [args] { run_init(*args); });
}

}  // namespace gridlet::cli
