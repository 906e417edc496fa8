// `gridlet backup` and `gridlet restore` (backup/backup.h). A backup works
// with the site running (the kernel takes the store's checkpoint: a control
// request) or stopped (this process opens the store); a restore needs the
// site stopped. CLI thread.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "backup/backup.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/timezone.h"
#include "kernel/site_plan.h"
#include "store/db.h"
#include "store/site_file.h"
#include "store/store.h"

#ifndef GRIDLET_VERSION
#define GRIDLET_VERSION "dev"
#endif

namespace gridlet::cli {

namespace {

namespace fs = std::filesystem;

struct BackupArgs {
    std::string config, out, archive;
    bool force = false, dry_run = false;
    int timeout_ms = 60'000;
};

std::string default_name(const std::string& site, int64_t now) {
    std::string stamp = TimeZone::utc().format_iso(now).substr(0, 19);  // 2026-12-02T19:53:23
    for (char& c : stamp)
        if (c == ':') c = '-';
    std::string name = "gridlet-backup-" + site + "-" + stamp + ".tar.gz";
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') c = '_';
    return name;
}

void run_backup(const BackupArgs& a) {
    const char* cmd = "backup";
    config::Diagnostics diags;
    kernel::SitePlan plan = kernel::load_site(a.config, diags, kernel::DeviceProblems::leave_device_out, false);
    if (!diags.empty()) {
        for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        fail(cmd, 2, a.config + ": fix the problems above first (gridlet check)");
    }
    const int64_t now = SystemClock::instance().now_ms();
    auto bp = backup::plan_backup(plan.site, plan.http ? plan.http->data_dir : "", GRIDLET_VERSION, now);
    if (!bp) fail(cmd, 2, bp.status().message());
    if (Status st = backup::check_backup(*bp); !st) fail(cmd, 2, st.message());
    const std::string out = a.out.empty() ? default_name(plan.site.site_name, now) : a.out;
    std::error_code ec;
    if (fs::exists(out, ec)) fail(cmd, 2, out + " exists; give another --out (a backup never overwrites one)");

    // The store's checkpoint: by the gridlet that holds it open, or here.
    std::string checkpoint;
    if (plan.site.has_store) {
        const std::string ep = plan.site.control_endpoint;
        if (store::store_in_use(bp->store_path)) {
            if (!control_endpoint_live(ep))
                fail(cmd, 2, "the store " + bp->store_path + " is open in another process, and no gridlet answers on " +
                                 ep + ": stop that process, or back up through the site that runs it");
            // The running kernel checks that it is this store (another folder's site may share the name).
            nlohmann::json answer =
                control_call(cmd, ep, {{"backup_checkpoint", {{"store", bp->store_path}}}}, a.timeout_ms);
            checkpoint = answer.value("dir", std::string());
            std::fprintf(stderr, "gridlet backup: the running site took a checkpoint of its store\n");
        } else {
            auto site = store::read_site_store(a.config);
            if (!site) fail(cmd, 2, site.status().message());
            store::StoreOptions o = site->options;
            o.create_if_missing = false;
            if (!fs::exists(o.path / "CURRENT", ec)) {
                std::fprintf(stderr, "gridlet backup: the store %s does not exist yet: the archive has none\n",
                             o.path.string().c_str());
            } else {
                auto st = store::Store::open(o);
                if (!st) fail(cmd, 1, st.status().message());
                checkpoint = backup::checkpoint_dir_for(bp->store_path);
                if (Status s = (*st)->checkpoint(checkpoint); !s) fail(cmd, 1, s.message());
            }
        }
    }
    bp->store_checkpoint = checkpoint;
    auto bytes = backup::write_archive_file(*bp, out);
    if (!checkpoint.empty()) fs::remove_all(checkpoint, ec);
    if (!bytes) fail(cmd, 1, bytes.status().message());
    std::printf("%s\t%llu bytes\n", out.c_str(), static_cast<unsigned long long>(*bytes));
    std::fprintf(stderr,
                 "gridlet backup: it holds password hashes and the TLS key: keep it private (it is written 0600)\n");
}

void run_restore(const BackupArgs& a) {
    const char* cmd = "restore";
    // The site must be stopped: its store (if the file names one) not held
    // open by a running gridlet. A site of the same name running from
    // another folder does not count.
    std::error_code ec;
    if (fs::exists(a.config, ec)) {
        auto site = store::read_site_store(a.config);
        if (site && store::store_in_use(site->options.path))
            fail(cmd, 2, "the store " + site->options.path.string() + " of " + a.config +
                             " is in use (gridlet runs this site): stop it first (a restore replaces its store)");
    }
    backup::RestoreOptions o;
    o.archive = a.archive;
    o.site_file = a.config;
    o.force = a.force;
    o.dry_run = a.dry_run;
    auto r = backup::restore_archive(o, SystemClock::instance().now_ms());
    if (!r) {
        const StatusCode c = r.status().code();
        fail(cmd, c == StatusCode::io_error || c == StatusCode::internal ? 1 : 2, r.status().message());
    }
    std::printf("%s: backup of site '%s' made %s by gridlet %s: %llu files, %llu bytes, intact\n", a.archive.c_str(),
                r->header.value("site", std::string("?")).c_str(), r->header.value("created", std::string("?")).c_str(),
                r->header.value("gridlet", std::string("?")).c_str(), static_cast<unsigned long long>(r->files),
                static_cast<unsigned long long>(r->bytes));
    for (const std::string& line : r->actions) std::printf("%s%s\n", a.dry_run ? "would " : "", line.c_str());
    if (a.dry_run) std::printf("dry run: nothing was changed\n");
    else std::printf("restored; check it with: gridlet check %s\n", a.config.c_str());
}

}  // namespace

void register_backup_command(CLI::App& app) {
    auto a = std::make_shared<BackupArgs>();
    auto* cmd = app.add_subcommand("backup", "Archive the site: configuration, accounts, certificates and the store");
    cmd->add_option("--config", a->config, "Site file")->required();
    cmd->add_option("--out,-o", a->out, "Archive to write (default gridlet-backup-<site>-<UTC time>.tar.gz here)");
    cmd->add_option("--timeout-ms", a->timeout_ms, "How long to wait for a running site's checkpoint (default 60000)");
    cmd->footer(
        "Works with the site running (its store is copied consistently by a RocksDB checkpoint) or stopped.\n"
        "The archive (tar.gz): the site file's folder, [[rules]] files outside it, the [http] data_dir\n"
        "(accounts, tokens, certificate and key) and the store; a manifest of SHA-256 sums checked on restore.\n"
        "Example:\n"
        "  gridlet backup --config /etc/gridlet/site.toml -o /mnt/usb/site.tar.gz\n"
        "Exit status: 0 ok; 1 store or file error; 2 bad arguments or site file.");
    on_run(cmd, "backup", [a] { run_backup(*a); });

    auto* res = app.add_subcommand("restore", "Put a backup archive back: configuration, accounts and the store");
    res->add_option("archive", a->archive, "Archive made by gridlet backup")->required();
    res->add_option("--config", a->config, "Where the site file goes (its folder receives the configuration)")->required();
    res->add_flag("--force", a->force, "Replace an existing store or accounts folder (moved aside, never deleted)");
    res->add_flag("--dry-run", a->dry_run, "Check the archive and say what would be done; change nothing");
    res->footer(
        "The archive is checked whole first (its format, every file against its SHA-256): an archive from a\n"
        "newer gridlet or a damaged one is refused and nothing is changed. gridlet must be stopped.\n"
        "A file that differs from the archive's is kept as <file>.before-restore-<UTC time>.\n"
        "Example:\n"
        "  gridlet restore site.tar.gz --config /etc/gridlet/site.toml --dry-run\n"
        "Exit status: 0 ok; 1 file error; 2 refused (bad, damaged or newer archive, gridlet running, store exists).");
    on_run(res, "restore", [a] { run_restore(*a); });
}

}  // namespace gridlet::cli
