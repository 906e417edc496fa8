#include "backup/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>

#include "core/timezone.h"
#include "store/db.h"
#include "store/options.h"

namespace gridlet::backup {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 1 << 16;
constexpr uintmax_t kMaxConfigBytes = uintmax_t{256} << 20;  // the site file's folder, besides the store

std::string hex(const unsigned char* d, size_t n) {
    static const char h[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += h[d[i] >> 4];
        out += h[d[i] & 15];
    }
    return out;
}

// SHA-256 over pieces.
class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void add(const void* d, size_t n) { EVP_DigestUpdate(ctx_, d, n); }
    std::string hex_digest() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_, out, &n);
        return hex(out, n);
    }

private:
    EVP_MD_CTX* ctx_;
};

bool inside(const fs::path& child, const fs::path& parent) {
    const std::string c = fs::weakly_canonical(child).string(), p = fs::weakly_canonical(parent).string();
    return c == p || (c.size() > p.size() && c.compare(0, p.size(), p) == 0 && c[p.size()] == '/');
}

struct WriteState {
    const ByteSink* out;
    bool gone = false;
};

la_ssize_t write_cb(struct archive*, void* user, const void* buf, size_t n) {
    auto* s = static_cast<WriteState*>(user);
    if (!(*s->out)(buf, n)) {
        s->gone = true;
        return -1;
    }
    return static_cast<la_ssize_t>(n);
}

// The regular files under `dir` in name order, except the folders in `skip`,
// other backups' checkpoints and what a restore moved aside or is staging.
// `max_bytes` > 0: the tree is configuration, which stays small; more is
// refused (the site file in a shared folder such as /tmp would take
// everything beside it), and other backups' archives are left out.
Expected<std::vector<fs::path>> collect_tree(const fs::path& dir, const std::vector<fs::path>& skip, uintmax_t max_bytes) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (!fs::is_directory(dir, ec)) return files;
    uintmax_t total = 0;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) return Status::io_error(dir.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec) return Status::io_error(dir.string() + ": " + ec.message());
        const fs::path p = it->path();
        const std::string leaf = p.filename().string();
        // The API's sessions are not configuration: a restored site makes its users log in again.
        const bool sessions = max_bytes == 0 && (leaf == "sessions.json" || leaf == "sessions.json.tmp");
        bool skipped = sessions || leaf.find(".backup-") != std::string::npos || leaf.find(".before-restore-") != std::string::npos ||
                       leaf.rfind(".gridlet-restore-", 0) == 0 || leaf.ends_with(".partial") ||
                       leaf.ends_with(".gridlet-store") ||
                       (max_bytes > 0 && leaf.rfind("gridlet-backup-", 0) == 0 && leaf.ends_with(".tar.gz"));
        for (const fs::path& s : skip) skipped = skipped || inside(p, s);
        if (skipped) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
        files.push_back(p);
        total += it->file_size(ec);
        if (max_bytes > 0 && total > max_bytes)
            return Status::invalid("the site file's folder " + dir.string() + " holds more than " +
                                   std::to_string(max_bytes >> 20) +
                                   " MB besides the store: a backup takes the whole folder as configuration; "
                                   "put the site file in a folder of its own");
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<fs::path> config_skips(const BackupPlan& plan) {
    std::vector<fs::path> skip;
    for (const std::string& p : {plan.store_path, plan.http_data_dir, plan.store_checkpoint})
        if (!p.empty()) skip.push_back(p);
    return skip;
}

// Writes entries; keeps the manifest of what it wrote.
class ArchiveWriter {
public:
    explicit ArchiveWriter(const ByteSink& out) : a_(archive_write_new()), state_{&out} {
        archive_write_set_format_pax_restricted(a_);
        archive_write_add_filter_gzip(a_);
        archive_write_set_bytes_in_last_block(a_, 1);
        ok_ = archive_write_open(a_, &state_, nullptr, write_cb, nullptr) == ARCHIVE_OK;
    }
    ~ArchiveWriter() { archive_write_free(a_); }
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;

    Status error(const std::string& what) const {
        if (state_.gone) return Status::io_error("the reader went away");
        const char* e = archive_error_string(a_);
        return Status::io_error(what + (e ? std::string(": ") + e : ""));
    }
    Status opened() const { return ok_ ? Status::ok() : error("cannot start the archive"); }

    Status add_bytes(const std::string& name, const std::string& bytes, bool listed = true) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0600);
        const int rc = archive_write_header(a_, e);
        archive_entry_free(e);
        if (rc != ARCHIVE_OK) return error(name);
        if (!bytes.empty() && archive_write_data(a_, bytes.data(), bytes.size()) < 0) return error(name);
        if (listed) {
            Sha256 h;
            h.add(bytes.data(), bytes.size());
            manifest_[name] = {{"size", bytes.size()}, {"sha256", h.hex_digest()}};
        }
        return Status::ok();
    }

    Status add_file(const std::string& name, const fs::path& file) {
        std::error_code ec;
        const uintmax_t size = fs::file_size(file, ec);
        if (ec) return Status::io_error(file.string() + ": " + ec.message());
        std::ifstream in(file, std::ios::binary);
        if (!in) return Status::io_error("cannot read " + file.string());
        struct stat st {};
        ::stat(file.c_str(), &st);
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_size(e, static_cast<la_int64_t>(size));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, st.st_mode & 0777);
        archive_entry_set_mtime(e, st.st_mtime, 0);
        const int rc = archive_write_header(a_, e);
        archive_entry_free(e);
        if (rc != ARCHIVE_OK) return error(name);
        Sha256 h;
        std::vector<char> buf(kBlock);
        uintmax_t left = size;
        while (left > 0) {
            in.read(buf.data(), static_cast<std::streamsize>(std::min<uintmax_t>(left, buf.size())));
            const std::streamsize n = in.gcount();
            if (n <= 0) return Status::io_error(file.string() + " shrank while it was read");
            h.add(buf.data(), static_cast<size_t>(n));
            if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) return error(name);
            left -= static_cast<uintmax_t>(n);
        }
        manifest_[name] = {{"size", size}, {"sha256", h.hex_digest()}};
        ++files_;
        return Status::ok();
    }

    // Every regular file under `dir` as <prefix>/<relative path>, except
    // the folders in `skip`.
    Status add_tree(const std::string& prefix, const fs::path& dir, const std::vector<fs::path>& skip,
                    uintmax_t max_bytes = 0) {
        auto files = collect_tree(dir, skip, max_bytes);
        if (!files) return files.status();
        for (const fs::path& f : *files)
            if (Status st = add_file(prefix + "/" + fs::relative(f, dir).generic_string(), f); !st) return st;
        return Status::ok();
    }

    Status finish() {
        if (Status st = add_bytes("manifest.json", nlohmann::json{{"files", manifest_}}.dump(1) + "\n", false); !st)
            return st;
        if (archive_write_close(a_) != ARCHIVE_OK) return error("closing the archive");
        return Status::ok();
    }

private:
    archive* a_;
    WriteState state_;
    bool ok_ = false;
    nlohmann::json manifest_ = nlohmann::json::object();
    uint64_t files_ = 0;
};

std::string utc_stamp(int64_t ms) {
    std::string t = TimeZone::utc().format_iso(ms);  // 2026-12-02T19:53:23Z
    std::string out;
    for (char c : t.substr(0, 19))
        if (c != '-' && c != ':') out += c;
    return out + "Z";  // 20261202T195323Z
}

// Moves `from` to `to`: a rename, or a copy then removal across file systems.
Status move_path(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::create_directories(to.parent_path(), ec);
    fs::rename(from, to, ec);
    if (!ec) return Status::ok();
    if (ec != std::errc::cross_device_link)
        return Status::io_error("cannot move " + from.string() + " to " + to.string() + ": " + ec.message());
    fs::copy(from, to, fs::copy_options::recursive, ec);
    if (ec) return Status::io_error("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
    fs::remove_all(from, ec);
    return Status::ok();
}

bool same_content(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::file_size(a, ec) != fs::file_size(b, ec) || ec) return false;
    std::ifstream x(a, std::ios::binary), y(b, std::ios::binary);
    std::vector<char> bx(kBlock), by(kBlock);
    while (x && y) {
        x.read(bx.data(), static_cast<std::streamsize>(bx.size()));
        y.read(by.data(), static_cast<std::streamsize>(by.size()));
        if (x.gcount() != y.gcount() || std::memcmp(bx.data(), by.data(), static_cast<size_t>(x.gcount())) != 0) return false;
    }
    return true;
}

bool safe_relative(const std::string& name) {
    if (name.empty() || name.front() == '/') return false;
    for (const auto& part : fs::path(name)) {
        const std::string p = part.string();
        if (p == ".." || p == ".") return false;
    }
    return true;
}

}  // namespace

Status check_backup(const BackupPlan& plan) {
    auto files = collect_tree(fs::path(plan.site_file).parent_path(), config_skips(plan), kMaxConfigBytes);
    if (!files) return files.status();
    std::error_code ec;
    for (const std::string& f : plan.outside_files)
        if (!fs::is_regular_file(f, ec)) return Status::not_found("the rule file " + f + " is missing");
    return Status::ok();
}

std::string checkpoint_dir_for(const std::string& store_path) {
    static std::atomic<int> n{0};
    fs::path p = store_path;
    if (!p.has_filename()) p = p.parent_path();
    return p.string() + ".backup-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

Expected<BackupPlan> plan_backup(const SiteConfig& site, const std::string& http_data_dir, const std::string& version,
                                 int64_t now_ms) {
    BackupPlan plan;
    plan.site_file = fs::absolute(site.path).lexically_normal().string();
    plan.site_name = site.site_name;
    plan.version = version;
    plan.created_ms = now_ms;
    plan.http_data_dir = http_data_dir;
    if (site.has_store) {
        auto o = store::store_options_from_json(site.store, site.dir);
        if (!o) return o.status();
        plan.store_path = fs::absolute(o->path).lexically_normal().string();
    }
    const fs::path dir = fs::path(plan.site_file).parent_path();
    for (const RuleEntry& r : site.rules) {
        if (!r.config.contains("file") || !r.config["file"].is_string()) continue;
        const fs::path f = fs::absolute(site.resolve(r.config["file"].get<std::string>())).lexically_normal();
        if (!inside(f, dir)) plan.outside_files.push_back(f.string());
    }
    return plan;
}

Status write_archive(const BackupPlan& plan, const ByteSink& out) {
    ArchiveWriter w(out);
    if (Status st = w.opened(); !st) return st;
    const fs::path dir = fs::path(plan.site_file).parent_path();
    nlohmann::json header = {{"format", kFormat},
                             {"gridlet", plan.version},
                             {"site", plan.site_name},
                             {"site_file", fs::path(plan.site_file).filename().string()},
                             {"created_ms", plan.created_ms},
                             {"created", TimeZone::utc().format_iso(plan.created_ms)}};
    if (Status st = w.add_bytes("gridlet-backup.json", header.dump(1) + "\n"); !st) return st;
    const std::vector<fs::path> skip = config_skips(plan);
    if (Status st = w.add_tree("config", dir, skip, kMaxConfigBytes); !st) return st;
    for (const std::string& f : plan.outside_files)
        if (Status st = w.add_file("outside" + f, f); !st) return st;
    if (!plan.http_data_dir.empty())
        if (Status st = w.add_tree("http", plan.http_data_dir, {}); !st) return st;
    if (!plan.store_checkpoint.empty())
        if (Status st = w.add_tree("store", plan.store_checkpoint, {}); !st) return st;
    return w.finish();
}

Expected<uint64_t> write_archive_file(const BackupPlan& plan, const std::string& path) {
    const std::string tmp = path + ".partial";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
    uint64_t bytes = 0;
    Status st = write_archive(plan, [&](const void* d, size_t n) {
        const char* p = static_cast<const char*>(d);
        size_t left = n;
        while (left > 0) {
            const ssize_t w = ::write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            p += w;
            left -= static_cast<size_t>(w);
        }
        bytes += n;
        return true;
    });
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (st && !synced) st = Status::io_error("cannot write " + tmp + " to disk");
    if (st && ::rename(tmp.c_str(), path.c_str()) != 0)
        st = Status::io_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    if (!st) {
        ::unlink(tmp.c_str());
        if (st.message() == "the reader went away")
            return Status::io_error("cannot write " + path + " (disk full?)");
        return st;
    }
    return bytes;
}

Expected<RestoreReport> restore_archive(const RestoreOptions& o, int64_t now_ms) {
    RestoreReport report;
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_filter_gzip(a.get());
    archive_read_support_format_tar(a.get());
    std::error_code ec;
    if (!fs::is_regular_file(o.archive, ec)) return Status::not_found(o.archive + " is not a file");
    if (archive_read_open_filename(a.get(), o.archive.c_str(), kBlock) != ARCHIVE_OK)
        return Status::corruption(o.archive + " is damaged or not a gridlet backup (" +
                                  (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unreadable") +
                                  "); nothing was changed");
    const fs::path site_file = fs::absolute(o.site_file).lexically_normal();
    const fs::path site_dir = site_file.parent_path();
    fs::create_directories(site_dir, ec);
    const fs::path staging = site_dir / (".gridlet-restore-" + std::to_string(::getpid()));
    fs::remove_all(staging, ec);
    if (!fs::create_directories(staging, ec))
        return Status::io_error("cannot create " + staging.string() + ": " + ec.message());
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{staging};
    auto damaged = [&](const std::string& why) {
        return Status::corruption(o.archive + " is damaged: " + why + "; nothing was changed");
    };

    // Pass: stage every file, hashing it; the header first, the manifest last.
    std::map<std::string, std::pair<uint64_t, std::string>> seen;  // name -> size, sha256
    bool manifest_seen = false;
    nlohmann::json manifest;
    bool first = true;
    std::vector<char> buf(kBlock);
    for (;;) {
        archive_entry* e = nullptr;
        const int rc = archive_read_next_header(a.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return damaged(archive_error_string(a.get()) ? archive_error_string(a.get()) : "unreadable");
        const std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        if (first && name != "gridlet-backup.json")
            return Status::invalid(o.archive + " is not a gridlet backup (its first entry is '" + name + "')");
        if (!safe_relative(name)) return Status::invalid(o.archive + ": entry '" + name + "' leaves its folder");
        const bool known = name == "gridlet-backup.json" || name == "manifest.json" || name.rfind("config/", 0) == 0 ||
                           name.rfind("outside/", 0) == 0 || name.rfind("http/", 0) == 0 || name.rfind("store/", 0) == 0;
        if (!known) return Status::invalid(o.archive + ": entry '" + name + "' is not part of a gridlet backup");
        if (archive_entry_filetype(e) != AE_IFREG)
            return Status::invalid(o.archive + ": entry '" + name + "' is not a plain file");
        std::string content;  // small entries kept in memory (header, manifest)
        const bool small = name == "gridlet-backup.json" || name == "manifest.json";
        const fs::path dest = staging / name;
        std::ofstream out;
        if (!small) {
            fs::create_directories(dest.parent_path(), ec);
            out.open(dest, std::ios::binary | std::ios::trunc);
            if (!out) return Status::io_error("cannot write " + dest.string());
        }
        Sha256 h;
        uint64_t size = 0;
        for (;;) {
            const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
            if (n < 0) return damaged(archive_error_string(a.get()) ? archive_error_string(a.get()) : "truncated");
            if (n == 0) break;
            h.add(buf.data(), static_cast<size_t>(n));
            size += static_cast<uint64_t>(n);
            if (small) {
                if (content.size() > (16 << 20)) return damaged("'" + name + "' is too large");
                content.append(buf.data(), static_cast<size_t>(n));
            } else {
                out.write(buf.data(), n);
                if (!out) return Status::io_error("cannot write " + dest.string() + " (disk full?)");
            }
        }
        if (!small) {
            out.close();
            // Never set-id, never writable by others, whatever the archive says.
            ::chmod(dest.c_str(), archive_entry_perm(e) & 0755);
        }
        if (first) {
            first = false;
            report.header = nlohmann::json::parse(content, nullptr, false);
            if (!report.header.is_object() || !report.header.contains("format") || !report.header["format"].is_number_integer())
                return damaged("its gridlet-backup.json is not readable");
            const int format = report.header["format"].get<int>();
            if (format > kFormat)
                return Status::unsupported(o.archive + " was made by a newer gridlet (" +
                                           report.header.value("gridlet", std::string("?")) + ", archive format " +
                                           std::to_string(format) + "); this one reads format " +
                                           std::to_string(kFormat) + " and older: restore it with that version or later");
            seen[name] = {size, h.hex_digest()};
            continue;
        }
        if (name == "manifest.json") {
            manifest = nlohmann::json::parse(content, nullptr, false);
            manifest_seen = true;
            continue;
        }
        if (seen.count(name)) return damaged("'" + name + "' appears twice");
        seen[name] = {size, h.hex_digest()};
        ++report.files;
        report.bytes += size;
    }
    if (first) return damaged("it is empty");
    if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_object())
        return damaged(manifest_seen
                           ? "its manifest.json is not a gridlet manifest ({\"files\": {...}})"
                           : "its manifest.json is missing (the archive was cut short?)");
    for (const auto& [name, info] : manifest["files"].items()) {
        auto it = seen.find(name);
        if (it == seen.end()) return damaged("'" + name + "' is missing");
        if (!info.is_object() || info.value("size", uint64_t{0}) != it->second.first ||
            info.value("sha256", std::string()) != it->second.second)
            return damaged("'" + name + "' differs from the manifest");
    }
    for (const auto& [name, info] : seen)
        if (!manifest["files"].contains(name)) return damaged("'" + name + "' is not in the manifest");

    // Where things go: the site file and its folder; the restored site's
    // store and [http] data_dir (from the restored site file).
    const std::string site_name_in = report.header.value("site_file", std::string());
    if (site_name_in.empty() || !fs::exists(staging / "config" / site_name_in))
        return damaged("it holds no site file");
    std::vector<std::pair<fs::path, fs::path>> moves;  // staged -> final
    std::vector<fs::path> aside;                        // existing paths moved aside first
    const std::string stamp = utc_stamp(now_ms);
    auto plan_tree = [&](const fs::path& from, const fs::path& to, bool whole, const char* what) -> Status {
        if (!fs::exists(from, ec)) return Status::ok();
        if (whole) {
            const bool occupied = fs::exists(to, ec) && !(fs::is_directory(to, ec) && fs::is_empty(to, ec));
            if (occupied) {
                if (!o.force)
                    return Status(StatusCode::already_exists,
                                  std::string(what) + " " + to.string() +
                                      " already exists; give --force to replace it (it is moved aside, not deleted)");
                aside.push_back(to);
                report.actions.push_back(std::string("move the present ") + what + " aside: " + to.string() +
                                         ".before-restore-" + stamp);
            }
            moves.push_back({from, to});
            report.actions.push_back(std::string("restore the ") + what + " into " + to.string());
            return Status::ok();
        }
        for (fs::recursive_directory_iterator it(from, ec), end; it != end; it.increment(ec)) {
            if (!it->is_regular_file()) continue;
            const fs::path target = to / fs::relative(it->path(), from);
            if (fs::exists(target, ec) && same_content(target, it->path())) continue;  // already so
            if (fs::exists(target, ec)) {
                aside.push_back(target);
                report.actions.push_back("keep the present " + target.string() + " as " + target.string() +
                                         ".before-restore-" + stamp);
            }
            moves.push_back({it->path(), target});
            if (to == "/") report.actions.push_back("restore the rule file " + target.string());
        }
        if (to != "/") report.actions.push_back(std::string("restore the ") + what + " into " + to.string());
        return Status::ok();
    };
    // The restored site file names the store and the http data folder.
    const fs::path staged_site = staging / "config" / site_name_in;
    std::set<fs::path> rule_files;  // where the restored site's [[rules]] files are
    {
        toml::table root;
        try {
            root = toml::parse_file(staged_site.string());
        } catch (const toml::parse_error& e) {
            return damaged("its site file does not parse: " + std::string(e.description()));
        }
        // Paths in it are relative to where it goes.
        auto at_site = [&](const std::string& p) {
            const fs::path path(p);
            return (path.is_relative() ? site_dir / path : path).lexically_normal();
        };
        if (const toml::array* rules = root["rules"].as_array())
            for (const toml::node& r : *rules)
                if (const toml::table* t = r.as_table(); t && (*t)["file"].value<std::string>())
                    rule_files.insert(at_site(*(*t)["file"].value<std::string>()));
        // A file outside the site's folder goes back only where the restored
        // site file names a rule: an archive cannot write anywhere else.
        if (fs::exists(staging / "outside", ec))
            for (fs::recursive_directory_iterator it(staging / "outside", ec), end; it != end; it.increment(ec))
                if (it->is_regular_file()) {
                    const fs::path target = "/" / fs::relative(it->path(), staging / "outside");
                    if (!rule_files.count(target.lexically_normal()))
                        return Status::invalid(o.archive + ": '" + target.string() +
                                               "' is outside the site's folder and not one of its [[rules]] files; nothing was changed");
                }
        fs::path store_path;
        if (const toml::table* st = root["store"].as_table(); st && (*st)["path"].value<std::string>())
            store_path = at_site(*(*st)["path"].value<std::string>());
        if (fs::exists(staging / "store")) {
            if (store_path.empty()) return damaged("it holds a store but its site file has no [store] path");
            if (Status s = plan_tree(staging / "store", store_path, true, "store"); !s) return s;
        }
        if (fs::exists(staging / "http")) {
            fs::path data_dir;
            if (const toml::table* h = root["http"].as_table(); h && (*h)["data_dir"].value<std::string>())
                data_dir = at_site(*(*h)["data_dir"].value<std::string>());
            else if (!store_path.empty())
                data_dir = (store_path.has_filename() ? store_path : store_path.parent_path()).parent_path() / "http";
            if (data_dir.empty()) return damaged("it holds accounts but its site file says not where they go");
            if (Status s = plan_tree(staging / "http", data_dir, true, "accounts and certificates folder"); !s) return s;
        }
    }
    if (Status s = plan_tree(staging / "config", site_dir, false, "configuration"); !s) return s;
    if (Status s = plan_tree(staging / "outside", "/", false, "rule files outside the site folder"); !s) return s;
    if (o.dry_run) return report;

    for (const fs::path& p : aside)
        if (Status s = move_path(p, p.string() + ".before-restore-" + stamp); !s) return s;
    for (const auto& [from, to] : moves)
        if (Status s = move_path(from, to); !s) return s;
    // The accounts folder and its tls/ are private again (the archive keeps
    // files' modes, not folders').
    for (const auto& [from, to] : moves)
        if (from == staging / "http")
            for (const fs::path& d : {to, to / "tls"})
                if (fs::is_directory(d, ec)) fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace, ec);
    // A restored store gets its creation record (store/db.h): if its folder
    // later vanishes, gridlet refuses to start on an empty one.
    for (const auto& [from, to] : moves) {
        if (from != staging / "store") continue;
        std::ofstream record(store::creation_record(to), std::ios::trunc);
        record << TimeZone::utc().format_iso(now_ms) << "\n" << to.string() << "\n";
    }
    return report;
}

}  // namespace gridlet::backup
