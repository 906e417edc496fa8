#include "http/users.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <semaphore>

#include <nlohmann/json.hpp>

namespace gridlet::http {

namespace {

constexpr int kFormat = 1;

bool sodium_ready() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

// An flock held for the life of the object.
class FileLock {
public:
    FileLock(const std::filesystem::path& path, int op) {
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ >= 0 && ::flock(fd_, op) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    bool ok() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool valid_user_name(const std::string& n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '@')) return false;
    return true;
}

nlohmann::json to_json(const User& u) {
    return {{"name", u.name},          {"role", role_name(u.role)},   {"hash", u.hash},
            {"must_change_password", u.must_change_password},         {"disabled", u.disabled},
            {"failed_logins", u.failed_logins}, {"locked_until_ms", u.locked_until_ms}, {"created_ms", u.created_ms}};
}
nlohmann::json to_json(const ApiToken& t) {
    return {{"id", t.id},       {"name", t.name},       {"role", role_name(t.role)}, {"owner", t.owner},
            {"sha256", t.sha256}, {"created_ms", t.created_ms}, {"expires_ms", t.expires_ms}};
}

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

UserStore::FileStamp UserStore::stamp_of(const std::filesystem::path& p) {
    struct stat st {};
    FileStamp s;
    if (::stat(p.c_str(), &st) != 0) return s;
    s.exists = true;
    s.inode = st.st_ino;
    s.size = st.st_size;
    s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
    return s;
}

Expected<std::string> hash_password(const std::string& password) {
    if (!sodium_ready()) return Status::internal("libsodium could not start");
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return Status::io_error("hashing the password failed (out of memory)");
    return std::string(out);
}

bool verify_password(const std::string& hash, const std::string& password) {
    if (!sodium_ready() || hash.empty()) return false;
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string random_token(size_t bytes) {
    sodium_ready();
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), raw.size());
    std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::string sha256_hex(const std::string& text) {
    sodium_ready();
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    return hex;
}

UserStore::UserStore(std::filesystem::path data_dir, PasswordPolicy policy, Lockout lockout)
    : dir_(std::move(data_dir)), file_(dir_ / "users.json"), lock_(dir_ / "users.lock"), policy_(policy),
      lockout_(lockout) {}

std::string UserStore::password_problem(const std::string& user, const std::string& password) const {
    if (static_cast<int>(password.size()) < policy_.min_length)
        return "a password has at least " + std::to_string(policy_.min_length) + " characters";
    if (password.size() > 1024) return "a password has at most 1024 characters";
    if (lower(password) == lower(user)) return "the password must not be the user name";
    if (std::all_of(password.begin(), password.end(), [&](char c) { return c == password[0]; }))
        return "the password must not repeat one character";
    return "";
}

Status UserStore::read_locked(Data& d) const {
    d = {};
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec)) return Status::ok();
    std::ifstream in(file_);
    if (!in) return Status::io_error("cannot read " + file_.string());
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::corruption(file_.string() + " is not a JSON object");
    if (j.value("format", 0) > kFormat)
        return Status::unsupported(file_.string() + " is of a newer format (" + std::to_string(j.value("format", 0)) +
                                   "); this gridlet reads format " + std::to_string(kFormat));
    try {
        for (const auto& u : j.value("users", nlohmann::json::array())) {
            User x;
            x.name = u.at("name").get<std::string>();
            x.role = parse_role(u.at("role").get<std::string>()).value_or(Role::viewer);
            x.hash = u.at("hash").get<std::string>();
            x.must_change_password = u.value("must_change_password", false);
            x.disabled = u.value("disabled", false);
            x.failed_logins = u.value("failed_logins", 0);
            x.locked_until_ms = u.value("locked_until_ms", int64_t{0});
            x.created_ms = u.value("created_ms", int64_t{0});
            d.users.push_back(std::move(x));
        }
        for (const auto& t : j.value("tokens", nlohmann::json::array())) {
            ApiToken x;
            x.id = t.at("id").get<std::string>();
            x.name = t.value("name", "");
            x.role = parse_role(t.at("role").get<std::string>()).value_or(Role::viewer);
            x.owner = t.value("owner", "");
            x.sha256 = t.at("sha256").get<std::string>();
            x.created_ms = t.value("created_ms", int64_t{0});
            x.expires_ms = t.value("expires_ms", int64_t{0});
            d.tokens.push_back(std::move(x));
        }
    } catch (const std::exception& e) {
        return Status::corruption(file_.string() + ": " + e.what());
    }
    return Status::ok();
}

Status UserStore::write_locked(const Data& d) const {
    nlohmann::json j = {{"format", kFormat}, {"users", nlohmann::json::array()}, {"tokens", nlohmann::json::array()}};
    for (const User& u : d.users) j["users"].push_back(to_json(u));
    for (const ApiToken& t : d.tokens) j["tokens"].push_back(to_json(t));
    const std::string text = j.dump(2) + "\n";
    const std::filesystem::path tmp = file_.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::io_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), file_.c_str()) != 0)
        return Status::io_error("cannot write " + file_.string() + ": " + std::strerror(errno));
    if (const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return Status::ok();
}

Status UserStore::modify(const std::function<Status(Data&)>& change) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status::io_error("cannot make " + dir_.string() + ": " + ec.message());
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
    std::lock_guard g(mu_);
    FileLock lock(lock_, LOCK_EX);
    if (!lock.ok()) return Status::io_error("cannot lock " + lock_.string() + ": " + std::strerror(errno));
    Data d;
    if (Status st = read_locked(d); !st) return st;
    if (Status st = change(d); !st) return st;
    if (Status st = write_locked(d); !st) return st;
    cache_ = std::move(d);
    cached_ = true;
    cache_stamp_ = stamp_of(file_);
    cache_read_ms_ = steady_ms();
    return Status::ok();
}

// The cached copy is used while the file's inode, change time and size are
// those it was read at, and for at most a second: file times are coarse
// (a tick of some milliseconds), so two writes in one tick could look alike.
Expected<UserStore::Data> UserStore::snapshot() {
    std::lock_guard g(mu_);
    const FileStamp now = stamp_of(file_);
    if (cached_ && now.exists && now == cache_stamp_ && steady_ms() - cache_read_ms_ < 1000) return cache_;
    if (!now.exists) {
        cache_ = {};
        cached_ = false;
        return cache_;
    }
    FileLock lock(lock_, LOCK_SH);
    Data d;
    if (Status st = read_locked(d); !st) return st;
    cache_ = d;
    cached_ = true;
    cache_stamp_ = stamp_of(file_);
    cache_read_ms_ = steady_ms();
    return d;
}

Status UserStore::add_user(const std::string& name, Role role, const std::string& password, bool must_change,
                           int64_t now_ms) {
    if (!valid_user_name(name))
        return Status::invalid("user name '" + name + "': 1..64 letters, digits, '_', '.', '-' or '@'");
    if (std::string why = password_problem(name, password); !why.empty()) return Status::invalid(why);
    auto hash = hash_password(password);
    if (!hash) return hash.status();
    return modify([&](Data& d) {
        // Names differing only in case would be told apart by nobody.
        for (const User& u : d.users)
            if (lower(u.name) == lower(name))
                return Status(StatusCode::already_exists, "user '" + u.name + "' already exists");
        User u;
        u.name = name;
        u.role = role;
        u.hash = *hash;
        u.must_change_password = must_change;
        u.created_ms = now_ms;
        d.users.push_back(std::move(u));
        return Status::ok();
    });
}

Status UserStore::set_password(const std::string& name, const std::string& password, bool must_change) {
    if (std::string why = password_problem(name, password); !why.empty()) return Status::invalid(why);
    auto hash = hash_password(password);
    if (!hash) return hash.status();
    return modify([&](Data& d) {
        for (User& u : d.users)
            if (u.name == name) {
                u.hash = *hash;
                u.must_change_password = must_change;
                u.failed_logins = 0;
                u.locked_until_ms = 0;
                return Status::ok();
            }
        return Status::not_found("no user '" + name + "'");
    });
}

Status UserStore::remove_user(const std::string& name) {
    return modify([&](Data& d) {
        const auto it = std::find_if(d.users.begin(), d.users.end(), [&](const User& u) { return u.name == name; });
        if (it == d.users.end()) return Status::not_found("no user '" + name + "'");
        d.users.erase(it);
        // Its tokens go with it.
        std::erase_if(d.tokens, [&](const ApiToken& t) { return t.owner == name; });
        return Status::ok();
    });
}

Status UserStore::set_disabled(const std::string& name, bool disabled) {
    return modify([&](Data& d) {
        for (User& u : d.users)
            if (u.name == name) {
                u.disabled = disabled;
                return Status::ok();
            }
        return Status::not_found("no user '" + name + "'");
    });
}

Status UserStore::unlock(const std::string& name) {
    return modify([&](Data& d) {
        for (User& u : d.users)
            if (u.name == name) {
                u.failed_logins = 0;
                u.locked_until_ms = 0;
                return Status::ok();
            }
        return Status::not_found("no user '" + name + "'");
    });
}

Expected<std::vector<User>> UserStore::users() {
    auto d = snapshot();
    if (!d) return d.status();
    return d->users;
}

Expected<std::optional<User>> UserStore::user(const std::string& name) {
    auto d = snapshot();
    if (!d) return d.status();
    // Names are unique whatever their case: "DAVE" finds dave.
    for (const User& u : d->users)
        if (u.name == name) return std::optional<User>(u);
    for (const User& u : d->users)
        if (lower(u.name) == lower(name)) return std::optional<User>(u);
    return std::optional<User>();
}

Expected<UserStore::Login> UserStore::login(const std::string& name, const std::string& password, int64_t now_ms) {
    auto d = snapshot();
    if (!d) return d.status();
    const User* found = nullptr;
    for (const User& u : d->users)
        if (u.name == name) found = &u;
    // The same work for an unknown name (a hash of a fixed text).
    // At most two hashes at once: each takes 64 MiB, and a flood of logins
    // must not take the gateway's memory (they wait their turn instead).
    static std::counting_semaphore<64> hashing(2);
    static const std::string dummy = [] {
        auto h = hash_password("gridlet: no such user");
        return h ? *h : std::string();
    }();
    hashing.acquire();
    const bool right = verify_password(found ? found->hash : dummy, password);
    hashing.release();
    Login out;
    if (!found) {
        // An unknown name locks like a known one, so that the answers do not
        // tell which names exist (counted in memory only; a name no account
        // could have tells nothing and is not kept).
        if (!valid_user_name(name)) return out;
        std::lock_guard g(mu_);
        if (phantoms_.size() > 10'000) phantoms_.clear();
        Phantom& p = phantoms_[name];
        if (p.locked_until_ms > now_ms) {
            out.result = LoginResult::locked;
            out.locked_until_ms = p.locked_until_ms;
        } else if (++p.failures >= lockout_.after) {
            p.failures = 0;
            p.locked_until_ms = now_ms + lockout_.duration_ms;
            out.result = LoginResult::locked;
            out.locked_until_ms = p.locked_until_ms;
        }
        return out;
    }
    out.user = *found;
    if (found->disabled) {
        out.result = LoginResult::disabled;
        return out;
    }
    if (found->locked_until_ms > now_ms) {
        out.result = LoginResult::locked;
        out.locked_until_ms = found->locked_until_ms;
        return out;
    }
    if (right && found->failed_logins == 0) {
        out.result = LoginResult::ok;
        return out;
    }
    Status st = modify([&](Data& fresh) {
        for (User& u : fresh.users)
            if (u.name == name) {
                if (right) {
                    u.failed_logins = 0;
                    u.locked_until_ms = 0;
                } else if (++u.failed_logins >= lockout_.after) {
                    u.locked_until_ms = now_ms + lockout_.duration_ms;
                    u.failed_logins = 0;
                }
                out.user = u;
            }
        return Status::ok();
    });
    if (!st) return st;
    out.result = right ? LoginResult::ok : out.user.locked_until_ms > now_ms ? LoginResult::locked : LoginResult::wrong;
    out.locked_until_ms = out.user.locked_until_ms;
    return out;
}

Expected<std::pair<std::string, ApiToken>> UserStore::add_token(const std::string& name, Role role,
                                                                const std::string& owner, int64_t expires_ms,
                                                                int64_t now_ms) {
    if (name.empty() || name.size() > 128) return Status::invalid("a token needs a name (1..128 characters)");
    const std::string secret = "glt_" + random_token(32);
    ApiToken t;
    t.id = "tk_" + sha256_hex(secret).substr(0, 8);
    t.name = name;
    t.role = role;
    t.owner = owner;
    t.sha256 = sha256_hex(secret);
    t.created_ms = now_ms;
    t.expires_ms = expires_ms;
    Status st = modify([&](Data& d) {
        bool owner_found = owner.empty();
        for (const User& u : d.users)
            if (u.name == owner) {
                owner_found = true;
                if (role != u.role && !(role == Role::viewer || (role == Role::operator_role && u.role == Role::admin)))
                    return Status::invalid("a token cannot have more rights than its owner (" +
                                           std::string(role_name(u.role)) + ")");
            }
        if (!owner_found) return Status::not_found("no user '" + owner + "'");
        d.tokens.push_back(t);
        return Status::ok();
    });
    if (!st) return st;
    return std::make_pair(secret, t);
}

Status UserStore::remove_token(const std::string& id) {
    return modify([&](Data& d) {
        const auto n = std::erase_if(d.tokens, [&](const ApiToken& t) { return t.id == id; });
        return n ? Status::ok() : Status::not_found("no token '" + id + "'");
    });
}

Expected<std::vector<ApiToken>> UserStore::tokens() {
    auto d = snapshot();
    if (!d) return d.status();
    return d->tokens;
}

std::optional<ApiToken> UserStore::check_token(const std::string& secret, int64_t now_ms) {
    if (secret.rfind("glt_", 0) != 0) return std::nullopt;
    auto d = snapshot();
    if (!d) return std::nullopt;
    const std::string h = sha256_hex(secret);
    for (const ApiToken& t : d->tokens)
        if (sodium_memcmp(t.sha256.data(), h.data(), std::min(t.sha256.size(), h.size())) == 0 && t.sha256.size() == h.size())
            return t.expires_ms && t.expires_ms <= now_ms ? std::nullopt : std::optional<ApiToken>(t);
    return std::nullopt;
}

}  // namespace gridlet::http
