// `gridlet user` and `gridlet token`: the accounts and API tokens of the
// HTTP API (http/users.h), on the gateway itself. They change the same file
// the running server reads (under its lock), so they work with the site
// running or stopped. The first admin is made here: the API has no default
// account and no default password.
#include <CLI/CLI.hpp>
#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <memory>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/timezone.h"
#include "http/http_config.h"
#include "http/users.h"
#include "kernel/site_plan.h"
#include "store/site_file.h"
#include "store/store.h"

namespace gridlet::cli {

namespace {

struct UserArgs {
    std::string config, data_dir, name, role, owner, id;
    bool temporary = false, password_stdin = false;
    int expires_days = 0;
};

// The [http] of --config (its data_dir and password policy), or --data-dir.
// Files root makes in the service's data folder go to its owner when the
// command ends (a static: destroyed as the process exits, however).
std::optional<KeepOwner>& keep_owner() {
    static std::optional<KeepOwner> keep;
    return keep;
}

http::HttpConfig http_settings(const char* command, const UserArgs& a) {
    if (a.config.empty() == a.data_dir.empty()) fail(command, 2, "give exactly one of --config <site.toml> or --data-dir <dir>");
    if (!a.data_dir.empty()) {
        http::HttpConfig c;
        c.data_dir = a.data_dir;
        keep_owner().emplace(c.data_dir);
        return c;
    }
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    std::optional<http::HttpConfig> c;
    if (diags.empty() && site.root) c = http::parse_http_config(*site.root, site, diags);
    if (!diags.empty()) {
        for (const config::Diagnostic& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        fail(command, 2, a.config + ": fix the problems above first");
    }
    if (!c) fail(command, 2, a.config + " has no [http] (or it is not enabled): the API has no users to manage");
    keep_owner().emplace(c->data_dir);
    return *c;
}

http::UserStore user_store(const http::HttpConfig& c) {
    return http::UserStore(c.data_dir, http::PasswordPolicy{c.password_min_length},
                           http::Lockout{c.lockout_after, int64_t{c.lockout_minutes} * 60'000});
}

std::string read_line_quiet(const char* prompt) {
    std::fprintf(stderr, "%s", prompt);
    std::fflush(stderr);
    termios old{};
    const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    return line;
}

// The new password: one line of stdin (--password-stdin), or asked twice on
// the terminal.
std::string new_password(const char* command, const UserArgs& a, const http::UserStore& store) {
    if (a.password_stdin) {
        std::string line;
        std::getline(std::cin, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (std::string why = store.password_problem(a.name, line); !why.empty()) fail(command, 2, why);
        return line;
    }
    if (!::isatty(STDIN_FILENO)) fail(command, 2, "no terminal to ask the password on: use --password-stdin");
    for (int tries = 0; tries < 3; ++tries) {
        const std::string p = read_line_quiet("New password: ");
        if (std::string why = store.password_problem(a.name, p); !why.empty()) {
            std::fprintf(stderr, "%s\n", why.c_str());
            continue;
        }
        if (read_line_quiet("Again: ") != p) {
            std::fprintf(stderr, "the two do not match\n");
            continue;
        }
        return p;
    }
    fail(command, 2, "no password set");
}

// Who runs this command: the system user (and whom sudo ran it for).
std::string system_user() {
    const passwd* pw = ::getpwuid(::geteuid());
    std::string who = pw ? pw->pw_name : "uid " + std::to_string(::geteuid());
    if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) who += " (sudo by " + std::string(sudo) + ")";
    return who;
}

// An account change made here is an audit event of the site, as the API's
// are: through the running gridlet (control socket), or into the stopped
// site's store. Without --config there is no site to record it in: said.
void record_audit(const UserArgs& a, const std::string& action, const nlohmann::json& detail) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    nlohmann::json body = {{"action", action}, {"user", system_user()}, {"from", std::string("command line on ") + host},
                           {"ok", true}, {"detail", detail}};
    if (a.config.empty()) {
        std::fprintf(stderr, "note: with --data-dir the change is not recorded in a site's audit events (give --config)\n");
        return;
    }
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    if (!diags.empty()) return;  // http_settings() already refused such a file
    if (control_endpoint_live(site.control_endpoint)) {
        auto reply = control_request(site.control_endpoint, nlohmann::json{{"audit", body}}.dump(), 5000);
        if (reply && nlohmann::json::parse(*reply, nullptr, false).value("ok", false)) return;
        std::fprintf(stderr, "warning: the running gridlet did not record the audit event\n");
        return;
    }
    if (!site.has_store) return;
    auto loc = store::read_site_store(a.config);
    if (!loc) return;
    std::error_code ec;
    if (!std::filesystem::exists(loc->options.path / "CURRENT", ec)) return;  // no store yet: nothing to record into
    store::StoreOptions o = loc->options;
    o.create_if_missing = false;
    auto st = store::Store::open(o);
    store::Event e;
    e.ts = SystemClock::instance().now_ms();
    e.source = "cli";
    e.type = "audit";
    e.severity = store::Severity::info;
    e.body = body.dump();
    if (!st || !(*st)->events().append(e))
        std::fprintf(stderr, "warning: the audit event could not be written to the store%s\n",
                     st ? "" : (": " + st.status().message()).c_str());
}

void check(const char* command, const Status& st) {
    if (!st) fail(command, st.code() == StatusCode::io_error || st.code() == StatusCode::internal ? 1 : 2, st.message());
}

void add_location(CLI::App* cmd, UserArgs& a) {
    cmd->add_option("--config", a.config, "Site file: its [http] data_dir and password policy");
    cmd->add_option("--data-dir", a.data_dir, "The API's data folder (instead of --config)");
}

}  // namespace

void register_user_command(CLI::App& app) {
    auto a = std::make_shared<UserArgs>();
    auto* cmd = app.add_subcommand("user", "Accounts of the HTTP API: add, list, passwd, remove, unlock, disable, enable");
    cmd->require_subcommand(1);
    cmd->footer("Roles: viewer (read), operator (also acknowledge alarms, overrides, commands), admin (also\n"
                "configuration and users), security_officer (users, security policy, certificates).\n"
                "Example: gridlet user add alice --role admin --config site.toml\n"
                "Exit status: 0 ok; 1 the file cannot be written; 2 bad arguments or password.");

    auto* add = cmd->add_subcommand("add", "Make an account (the first admin: on the gateway, here)");
    add->add_option("name", a->name, "User name (letters, digits, _ . - @)")->required();
    add->add_option("--role", a->role, "viewer, operator, admin or security_officer")->required();
    add->add_flag("--temporary", a->temporary, "The user must change the password at the first login");
    add->add_flag("--password-stdin", a->password_stdin, "Read the password from one line of stdin");
    add_location(add, *a);
    on_run(add, "user add", [a] {
        const auto role = http::parse_role(a->role);
        if (!role) fail("user add", 2, "--role: '" + a->role + "' is not viewer, operator, admin or security_officer");
        auto store = user_store(http_settings("user add", *a));
        const std::string pw = new_password("user add", *a, store);
        check("user add", store.add_user(a->name, *role, pw, a->temporary, SystemClock::instance().now_ms()));
        std::printf("user '%s' (%s) added to %s\n", a->name.c_str(), a->role.c_str(), store.file().c_str());
        record_audit(*a, "user_add", {{"name", a->name}, {"role", a->role}});
    });

    auto* list = cmd->add_subcommand("list", "List the accounts");
    add_location(list, *a);
    on_run(list, "user list", [a] {
        auto store = user_store(http_settings("user list", *a));
        auto users = store.users();
        if (!users) fail("user list", 1, users.status().message());
        const int64_t now = SystemClock::instance().now_ms();
        std::printf("%-24s %-17s %s\n", "name", "role", "state");
        for (const http::User& u : *users) {
            std::string state = u.disabled ? "disabled" : u.locked_until_ms > now ? "locked until " +
                                TimeZone::utc().format_iso(u.locked_until_ms) : "active";
            if (u.must_change_password) state += ", must change password";
            std::printf("%-24s %-17s %s\n", u.name.c_str(), http::role_name(u.role), state.c_str());
        }
    });

    auto* passwd = cmd->add_subcommand("passwd", "Set an account's password (also unlocks it)");
    passwd->add_option("name", a->name, "User name")->required();
    passwd->add_flag("--temporary", a->temporary, "The user must change it at the next login");
    passwd->add_flag("--password-stdin", a->password_stdin, "Read the password from one line of stdin");
    add_location(passwd, *a);
    on_run(passwd, "user passwd", [a] {
        auto store = user_store(http_settings("user passwd", *a));
        auto u = store.user(a->name);
        if (!u) fail("user passwd", 1, u.status().message());
        if (!*u) fail("user passwd", 2, "no user '" + a->name + "'");
        const std::string pw = new_password("user passwd", *a, store);
        check("user passwd", store.set_password(a->name, pw, a->temporary));
        std::printf("password of '%s' set; a running server ends its sessions at their next request\n", a->name.c_str());
        record_audit(*a, "password_set", {{"name", a->name}});
    });

    struct Verb {
        const char* name;
        const char* command;  // for messages
        const char* help;
        const char* done;
    };
    for (const Verb v : {Verb{"remove", "user remove", "Remove an account and its tokens", "removed"},
                         Verb{"unlock", "user unlock", "Unlock an account locked by failed logins", "unlocked"},
                         Verb{"disable", "user disable", "Disable an account (kept, cannot log in)", "disabled"},
                         Verb{"enable", "user enable", "Enable a disabled account", "enabled"}}) {
        auto* sub = cmd->add_subcommand(v.name, v.help);
        sub->add_option("name", a->name, "User name")->required();
        add_location(sub, *a);
        on_run(sub, v.command, [a, v] {
            auto store = user_store(http_settings(v.command, *a));
            const char c = v.name[0];
            // The last enabled admin removed or disabled: allowed here (this
            // command can always make another), and said.
            bool last_admin = false;
            if (c == 'r' || c == 'd') {
                if (auto all = store.users()) {
                    const auto is_admin = [](const http::User& u) { return u.role == http::Role::admin && !u.disabled; };
                    const auto it = std::find_if(all->begin(), all->end(), [&](const http::User& u) { return u.name == a->name; });
                    last_admin = it != all->end() && is_admin(*it) &&
                                 std::count_if(all->begin(), all->end(), is_admin) == 1;
                }
            }
            Status st = c == 'r'   ? store.remove_user(a->name)
                        : c == 'u' ? store.unlock(a->name)
                                   : store.set_disabled(a->name, c == 'd');
            check(v.command, st);
            std::printf("user '%s': %s\n", a->name.c_str(), v.done);
            if (last_admin)
                std::fprintf(stderr,
                             "warning: '%s' was the last enabled admin: nobody can manage users through the API until "
                             "`gridlet user add <name> --role admin` (or `gridlet user enable`)\n",
                             a->name.c_str());
            record_audit(*a, std::string("user_") + v.name, {{"name", a->name}});
        });
    }
}

void register_token_command(CLI::App& app) {
    auto a = std::make_shared<UserArgs>();
    auto* cmd = app.add_subcommand("token", "API tokens for machines (Authorization: Bearer ...): add, list, remove");
    cmd->require_subcommand(1);
    cmd->footer("Example: gridlet token add pandas --user alice --role viewer --expires-days 365 --config site.toml\n"
                "The secret is printed once; the file keeps its SHA-256 only.");

    auto* add = cmd->add_subcommand("add", "Make a token; prints its secret once");
    add->add_option("name", a->name, "What it is for")->required();
    add->add_option("--user", a->owner, "Its owner (an existing account)")->required();
    add->add_option("--role", a->role, "Its scope: the owner's role or less (default: the owner's)");
    add->add_option("--expires-days", a->expires_days, "Days it is valid (default: until removed)")->check(CLI::Range(1, 3650));
    add_location(add, *a);
    on_run(add, "token add", [a] {
        auto store = user_store(http_settings("token add", *a));
        auto owner = store.user(a->owner);
        if (!owner) fail("token add", 1, owner.status().message());
        if (!*owner) fail("token add", 2, "--user: no user '" + a->owner + "'");
        http::Role role = (*owner)->role;
        if (!a->role.empty()) {
            auto r = http::parse_role(a->role);
            if (!r) fail("token add", 2, "--role: '" + a->role + "' is not viewer, operator, admin or security_officer");
            role = *r;
        }
        const int64_t now = SystemClock::instance().now_ms();
        auto t = store.add_token(a->name, role, a->owner, a->expires_days ? now + int64_t{a->expires_days} * 86'400'000 : 0,
                                 now);
        if (!t) check("token add", t.status());
        std::printf("%s\n", t->first.c_str());
        std::fprintf(stderr, "token %s (%s, role %s) for %s: keep the line above, it is not shown again\n",
                     t->second.id.c_str(), a->name.c_str(), http::role_name(role), a->owner.c_str());
        record_audit(*a, "token_add", {{"id", t->second.id}, {"name", a->name}, {"role", http::role_name(role)},
                                       {"owner", a->owner}});
    });

    auto* list = cmd->add_subcommand("list", "List the tokens (never their secrets)");
    add_location(list, *a);
    on_run(list, "token list", [a] {
        auto store = user_store(http_settings("token list", *a));
        auto tokens = store.tokens();
        if (!tokens) fail("token list", 1, tokens.status().message());
        std::printf("%-12s %-20s %-17s %-16s %s\n", "id", "name", "role", "owner", "expires (UTC)");
        for (const http::ApiToken& t : *tokens)
            std::printf("%-12s %-20s %-17s %-16s %s\n", t.id.c_str(), t.name.c_str(), http::role_name(t.role),
                        t.owner.c_str(), t.expires_ms ? TimeZone::utc().format_iso(t.expires_ms).c_str() : "never");
    });

    auto* remove = cmd->add_subcommand("remove", "Revoke a token (at once, also for a running server)");
    remove->add_option("id", a->id, "Its id (tk_...)")->required();
    add_location(remove, *a);
    on_run(remove, "token remove", [a] {
        auto store = user_store(http_settings("token remove", *a));
        check("token remove", store.remove_token(a->id));
        std::printf("token %s removed\n", a->id.c_str());
        record_audit(*a, "token_remove", {{"id", a->id}});
    });
}

}  // namespace gridlet::cli
