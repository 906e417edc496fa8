// UserStore: the API's accounts and machine tokens, in one JSON file
// (<data_dir>/users.json, mode 0600) shared by the running server and the
// `gridlet user` / `gridlet token` commands.
//
// - Passwords are hashed with Argon2id (libsodium crypto_pwhash_str, its
//   "interactive" limits: 2 passes over 64 MiB); the file never holds one.
// - A login with a wrong password counts against the account; `lockout_after`
//   failures in a row lock it for `lockout_minutes` (a right password then
//   does not open it either). An unknown name costs the same time as a known
//   one, and locks the same way, so that neither timing nor answers tell
//   which names exist. Names are unique whatever their case.
// - Tokens are 32 random bytes ("glt_" + base64url), shown once; the file
//   keeps their SHA-256. Each has a role (its scope), an owner and maybe an
//   expiry; removing it revokes it at once.
// - Every change takes an exclusive lock on <data_dir>/users.lock, reads the
//   file again, and replaces it atomically (write, fsync, rename): the CLI and
//   the server never lose each other's changes.
//
// Threads: every method may be called from any thread (a mutex guards the
// cached copy).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/roles.h"

namespace gridlet::http {

struct User {
    std::string name;
    Role role = Role::viewer;
    std::string hash;                // Argon2id, PHC string ($argon2id$v=19$...)
    bool must_change_password = false;
    bool disabled = false;
    int failed_logins = 0;           // in a row
    int64_t locked_until_ms = 0;     // UTC ms; 0: not locked
    int64_t created_ms = 0;
};

struct ApiToken {
    std::string id;                  // "tk_" + 8 hex characters: names it in lists and logs
    std::string name;                // what it is for
    Role role = Role::viewer;
    std::string owner;               // the user who made it
    std::string sha256;              // of the secret, hex
    int64_t created_ms = 0;
    int64_t expires_ms = 0;          // 0: never
};

struct PasswordPolicy {
    int min_length = 12;
};

struct Lockout {
    int after = 5;                   // failures in a row
    int64_t duration_ms = 15 * 60'000;
};

class UserStore {
public:
    explicit UserStore(std::filesystem::path data_dir, PasswordPolicy policy = {}, Lockout lockout = {});

    // What is wrong with `password` for `user` ("" when it is acceptable).
    std::string password_problem(const std::string& user, const std::string& password) const;

    // Accounts. Errors: already_exists, not_found, invalid_argument (name,
    // role, password policy), io_error.
    Status add_user(const std::string& name, Role role, const std::string& password, bool must_change, int64_t now_ms);
    Status set_password(const std::string& name, const std::string& password, bool must_change);
    Status remove_user(const std::string& name);
    Status set_disabled(const std::string& name, bool disabled);
    Status unlock(const std::string& name);
    Expected<std::vector<User>> users();
    Expected<std::optional<User>> user(const std::string& name);

    // A login: the user when the password is right and the account usable.
    // Errors: unauthenticated-like invalid_argument "wrong name or password",
    // unavailable "locked until <time>" (also for a right password), and
    // io_error. Counts failures and locks (persisted).
    enum class LoginResult { ok, wrong, locked, disabled };
    struct Login {
        LoginResult result = LoginResult::wrong;
        User user;
        int64_t locked_until_ms = 0;
    };
    Expected<Login> login(const std::string& name, const std::string& password, int64_t now_ms);

    // Tokens. add_token returns the secret (shown once) and the token.
    Expected<std::pair<std::string, ApiToken>> add_token(const std::string& name, Role role, const std::string& owner,
                                                         int64_t expires_ms, int64_t now_ms);
    Status remove_token(const std::string& id);
    Expected<std::vector<ApiToken>> tokens();
    // The token of `secret`, if it exists and has not expired.
    std::optional<ApiToken> check_token(const std::string& secret, int64_t now_ms);

    const std::filesystem::path& file() const { return file_; }

private:
    struct Data {
        std::vector<User> users;
        std::vector<ApiToken> tokens;
    };
    Status read_locked(Data& d) const;
    Status write_locked(const Data& d) const;
    // Runs `change` on a fresh read under the file lock, then writes.
    Status modify(const std::function<Status(Data&)>& change);
    Expected<Data> snapshot();

    std::filesystem::path dir_, file_, lock_;
    PasswordPolicy policy_;
    Lockout lockout_;
    std::mutex mu_;
    struct Phantom {
        int failures = 0;
        int64_t locked_until_ms = 0;
    };
    std::map<std::string, Phantom> phantoms_;  // failed logins of unknown names (under mu_)
    Data cache_;
    struct FileStamp {
        bool exists = false;
        uint64_t inode = 0;
        int64_t size = 0, ctime_ns = 0;
        bool operator==(const FileStamp&) const = default;
    };
    static FileStamp stamp_of(const std::filesystem::path& p);
    FileStamp cache_stamp_;
    int64_t cache_read_ms_ = 0;  // steady clock
    bool cached_ = false;
};

// Argon2id hash of `password` (libsodium's interactive limits); io_error if
// libsodium cannot allocate.
Expected<std::string> hash_password(const std::string& password);
bool verify_password(const std::string& hash, const std::string& password);
// n random bytes as base64url without padding.
std::string random_token(size_t bytes);
std::string sha256_hex(const std::string& text);

}  // namespace gridlet::http
