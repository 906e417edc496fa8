// SessionTable: the browser sessions of the API (cookie "gridlet_session").
// A session is 32 random bytes; the table keeps their SHA-256 only, with the
// user, role, the CSRF token the client must echo in X-CSRF-Token on every
// request that changes something, and the times. A session ends after
// `idle_ms` unused, after `max_ms` in all, at logout, or when its user is
// removed, disabled or changes password. With a file (persist()), the
// table is kept in <data_dir>/sessions.json (0600, written whole: a temporary
// file renamed), so that a restart of gridlet does not log everyone out: a
// dashboard goes on after the gateway restarts. The file is written when a
// session opens or ends, and the last-use times at most once a minute (an
// idle limit is in minutes).
//
// Threads: any (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/status.h"
#include "http/users.h"

namespace gridlet::http {

struct Session {
    std::string user;
    Role role = Role::viewer;
    std::string csrf;
    std::string password_hash;  // the user's when the session opened: a change ends it
    bool must_change_password = false;
    int64_t created_ms = 0, last_used_ms = 0;
};

class SessionTable {
public:
    SessionTable(int64_t idle_ms, int64_t max_ms) : idle_ms_(idle_ms), max_ms_(max_ms) {}

    // Keeps the table in `file` from now on, after reading the sessions it
    // holds that are not over at `now_ms`. A file that does not parse is
    // set aside (<file>.bad) and said: nobody is logged in.
    Status persist(const std::string& file, int64_t now_ms);
    // Writes the table now (at stop).
    void flush();

    // A new session; returns its secret (the cookie value).
    std::string open(const User& user, int64_t now_ms, Session* out = nullptr);
    // The session of `secret`, touched; nullopt when unknown or over.
    std::optional<Session> use(const std::string& secret, int64_t now_ms);
    void close(const std::string& secret);
    // Ends every session of `user` (password changed, removed, disabled).
    void close_user(const std::string& user);
    // After a password change: the session may be used fully.
    void password_changed(const std::string& secret);
    size_t size();
    int64_t max_ms() const { return max_ms_; }

private:
    void save_locked();  // mu_ held

    int64_t idle_ms_, max_ms_;
    std::mutex mu_;
    std::map<std::string, Session> by_hash_;
    std::string file_;           // "" = in memory only
    int64_t saved_ms_ = 0;       // last write
    bool dirty_ = false;         // last-use times newer than the file
};

}  // namespace gridlet::http
