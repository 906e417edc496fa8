#include "http/sessions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace gridlet::http {

namespace {
constexpr int64_t kSaveEveryMs = 60'000;
}

Status SessionTable::persist(const std::string& file, int64_t now_ms) {
    std::lock_guard g(mu_);
    file_ = file;
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return Status::ok();
    std::ifstream in(file);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("sessions") || !j["sessions"].is_object()) {
        std::filesystem::rename(file, file + ".bad", ec);
        return Status::corruption(file + " does not parse: set aside as " + file + ".bad; everyone logs in again");
    }
    for (const auto& [hash, v] : j["sessions"].items()) {
        if (!v.is_object()) continue;
        Session s;
        const auto role = parse_role(v.value("role", std::string()));
        if (!role) continue;
        s.user = v.value("user", std::string());
        s.role = *role;
        s.csrf = v.value("csrf", std::string());
        s.password_hash = v.value("password_hash", std::string());
        s.must_change_password = v.value("must_change_password", false);
        s.created_ms = v.value("created_ms", int64_t{0});
        s.last_used_ms = v.value("last_used_ms", int64_t{0});
        if (s.user.empty() || s.csrf.empty() || now_ms - s.last_used_ms > idle_ms_ || now_ms - s.created_ms > max_ms_)
            continue;
        by_hash_[hash] = std::move(s);
    }
    return Status::ok();
}

void SessionTable::save_locked() {
    if (file_.empty()) return;
    nlohmann::json sessions = nlohmann::json::object();
    for (const auto& [hash, s] : by_hash_)
        sessions[hash] = {{"user", s.user},
                          {"role", role_name(s.role)},
                          {"csrf", s.csrf},
                          {"password_hash", s.password_hash},
                          {"must_change_password", s.must_change_password},
                          {"created_ms", s.created_ms},
                          {"last_used_ms", s.last_used_ms}};
    const std::string text = nlohmann::json{{"sessions", sessions}}.dump() + "\n";
    const std::string tmp = file_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    ok = ok && std::rename(tmp.c_str(), file_.c_str()) == 0;
    if (!ok) spdlog::warn("http: cannot write the sessions to {}: a restart will log everyone out", file_);
    dirty_ = false;
}

void SessionTable::flush() {
    std::lock_guard g(mu_);
    if (dirty_) save_locked();
}

std::string SessionTable::open(const User& user, int64_t now_ms, Session* out) {
    const std::string secret = random_token(32);
    Session s;
    s.user = user.name;
    s.role = user.role;
    s.csrf = random_token(24);
    s.password_hash = user.hash;
    s.must_change_password = user.must_change_password;
    s.created_ms = s.last_used_ms = now_ms;
    if (out) *out = s;
    std::lock_guard g(mu_);
    // Over sessions go when new ones come (no timer needed).
    for (auto it = by_hash_.begin(); it != by_hash_.end();)
        it = now_ms - it->second.last_used_ms > idle_ms_ || now_ms - it->second.created_ms > max_ms_ ? by_hash_.erase(it)
                                                                                                      : std::next(it);
    by_hash_[sha256_hex(secret)] = std::move(s);
    save_locked();
    saved_ms_ = now_ms;
    return secret;
}

std::optional<Session> SessionTable::use(const std::string& secret, int64_t now_ms) {
    if (secret.empty()) return std::nullopt;
    const std::string h = sha256_hex(secret);
    std::lock_guard g(mu_);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) return std::nullopt;
    Session& s = it->second;
    if (now_ms - s.last_used_ms > idle_ms_ || now_ms - s.created_ms > max_ms_) {
        by_hash_.erase(it);
        save_locked();
        return std::nullopt;
    }
    s.last_used_ms = now_ms;
    dirty_ = true;
    Session copy = s;
    if (now_ms - saved_ms_ >= kSaveEveryMs) {
        save_locked();
        saved_ms_ = now_ms;
    }
    return copy;
}

void SessionTable::close(const std::string& secret) {
    std::lock_guard g(mu_);
    if (by_hash_.erase(sha256_hex(secret))) save_locked();
}

void SessionTable::close_user(const std::string& user) {
    std::lock_guard g(mu_);
    if (std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.user == user; })) save_locked();
}

void SessionTable::password_changed(const std::string& secret) {
    std::lock_guard g(mu_);
    auto it = by_hash_.find(sha256_hex(secret));
    if (it != by_hash_.end()) {
        it->second.must_change_password = false;
        save_locked();
    }
}

size_t SessionTable::size() {
    std::lock_guard g(mu_);
    return by_hash_.size();
}

}  // namespace gridlet::http
