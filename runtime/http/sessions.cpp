#include "http/sessions.h"

#include <iterator>

namespace gridlet::http {

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
        return std::nullopt;
    }
    s.last_used_ms = now_ms;
    return s;
}

void SessionTable::close(const std::string& secret) {
    std::lock_guard g(mu_);
    by_hash_.erase(sha256_hex(secret));
}

void SessionTable::close_user(const std::string& user) {
    std::lock_guard g(mu_);
    std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.user == user; });
}

void SessionTable::password_changed(const std::string& secret) {
    std::lock_guard g(mu_);
    auto it = by_hash_.find(sha256_hex(secret));
    if (it != by_hash_.end()) it->second.must_change_password = false;
}

size_t SessionTable::size() {
    std::lock_guard g(mu_);
    return by_hash_.size();
}

}  // namespace gridlet::http
