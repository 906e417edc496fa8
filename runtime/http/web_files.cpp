#include "http/web_files.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace gridlet::http {

namespace {

constexpr size_t kMaxBytes = 16u << 20;

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string type_of(const std::string& name) {
    const size_t dot = name.rfind('.');
    const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "json") return "application/json";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "woff2") return "font/woff2";
    if (ext == "txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

// esbuild's hashed names: "<name>-<8 or more of A-Z0-9>.<ext>".
bool hashed(const std::string& name) {
    const size_t dash = name.rfind('-'), dot = name.rfind('.');
    if (dash == std::string::npos || dot == std::string::npos || dot < dash + 9) return false;
    for (size_t i = dash + 1; i < dot; ++i)
        if (!std::isalnum(static_cast<unsigned char>(name[i]))) return false;
    return true;
}

}  // namespace

Status WebFiles::load(const std::string& dir) {
    namespace fs = std::filesystem;
    dir_ = dir;
    files_.clear();
    bytes_ = 0;
    std::error_code ec;
    if (dir.empty() || !fs::is_regular_file(fs::path(dir) / "index.html", ec))
        return Status::not_found("no dashboard in " + (dir.empty() ? std::string("(no folder)") : dir) +
                                 " (no index.html: build the web target, or set [http] web_dir)");
    for (fs::recursive_directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string rel = fs::relative(it->path(), dir, ec).generic_string();
        std::string bytes = read_all(it->path());
        bytes_ += bytes.size();
        if (bytes_ > kMaxBytes)
            return Status::invalid(dir + " holds more than 16 MB: it is not a gridlet dashboard build");
        WebFile f;
        f.bytes = std::move(bytes);
        f.content_type = type_of(rel);
        f.immutable = hashed(fs::path(rel).filename().string());
        files_[rel] = std::move(f);
    }
    if (ec) return Status::io_error(dir + ": " + ec.message());
    return Status::ok();
}

const WebFile* WebFiles::find(const std::string& path) const {
    if (files_.empty() || path.empty() || path[0] != '/' || path.find("..") != std::string::npos ||
        path.find('\\') != std::string::npos)
        return nullptr;
    std::string rel = path.substr(1);
    const size_t slash = rel.rfind('/');
    const std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
    if (rel.empty() || leaf.find('.') == std::string::npos) rel = "index.html";  // a page of the application
    auto it = files_.find(rel);
    return it == files_.end() ? nullptr : &it->second;
}

}  // namespace gridlet::http
