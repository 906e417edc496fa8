#include "export/export_target.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <filesystem>
#include <set>

#include "core/pattern.h"
#include "store/time_spec.h"

namespace gridlet::exporter {

using config::KeySpec;
using config::ValueType;

const char* protocol_name(Protocol p) {
    switch (p) {
        case Protocol::ftp: return "ftp";
        case Protocol::ftps: return "ftps";
        case Protocol::sftp: return "sftp";
        case Protocol::http: return "http";
        case Protocol::https: return "https";
        case Protocol::email: return "email";
    }
    return "?";
}

std::string outbox_queue(const std::string& target) { return "export/" + target; }

namespace {

const std::vector<KeySpec>& target_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("name", ValueType::string, "Unique name (letters, digits, _ - .)"));
        k.push_back(config::key("url", ValueType::string, std::nullopt,
                                "The folder: ftp://, ftps://, sftp://host/dir/; http(s)://host/path"));
        k.push_back(config::key("email", ValueType::string, std::nullopt,
                                "Instead of url: e-mail the files through this [[notifications]] e-mail entry"));
        k.push_back(config::key("to", ValueType::array, std::nullopt,
                                "email: the recipients [\"a@b.xy\", \"c@d.wz\"] (default: the entry's to)"));
        KeySpec tls = config::key("tls", ValueType::string, "\"explicit\"", "ftp:// only: explicit or none");
        tls.one_of = {"explicit", "none"};
        k.push_back(tls);
        KeySpec method = config::key("method", ValueType::string, "\"put\"", "http(s) only: put or post");
        method.one_of = {"put", "post"};
        k.push_back(method);
        k.push_back(config::key("username", ValueType::string, std::nullopt, "The login"));
        k.push_back(config::key("password_env", ValueType::string, std::nullopt,
                                "The environment variable holding the password"));
        k.push_back(config::key("key_file", ValueType::string, std::nullopt, "sftp: a private key file"));
        k.push_back(config::key("key_passphrase_env", ValueType::string, std::nullopt,
                                "sftp: the environment variable holding the key's passphrase"));
        k.push_back(config::key("host_key_sha256", ValueType::string, std::nullopt,
                                "sftp: the server's host key fingerprint, SHA256:... as ssh-keygen -lf prints it"));
        k.push_back(config::key("known_hosts", ValueType::string, std::nullopt, "sftp: an OpenSSH known_hosts file"));
        k.push_back(config::key("ca_file", ValueType::string, std::nullopt, "TLS: CA certificates (PEM) to trust"));
        k.push_back(config::key("pinned_key", ValueType::string, std::nullopt,
                                "TLS: sha256//<base64> of the server's public key (; between several)"));
        k.push_back(config::key("timeout", ValueType::string, "\"10m\"", "One transfer at most this long"));
        k.push_back(config::key("retry", ValueType::string, "\"10s\"",
                                "After a failure, the first retry (it doubles up to 10 min)"));
        k.push_back(config::key("max_files", ValueType::integer, "10000",
                                "Files waiting in the outbox at most (then the exports wait)", 1, 1'000'000));
        return k;
    }();
    return keys;
}

bool is_base64(const std::string& s) {
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') return false;
    return !s.empty();
}

using TargetBadKey = std::function<void(const char*, const std::string&)>;

void parse_limits(const nlohmann::json& j, TargetConfig& c, const TargetBadKey& bad) {
    const std::string timeout = j.value("timeout", "10m");
    auto ms = store::parse_duration_ms(timeout);
    if (!ms || *ms < 1000 || *ms > 86'400'000) bad("timeout", "timeout: '" + timeout + "': 1s to 1d, such as \"10m\"");
    else c.timeout_ms = *ms;
    c.connect_timeout_ms = std::min<int64_t>(c.timeout_ms, 10'000);
    const std::string retry = j.value("retry", "10s");
    auto rms = store::parse_duration_ms(retry);
    if (!rms || *rms < 1000 || *rms > 600'000) bad("retry", "retry: '" + retry + "': 1s to 10m, such as \"10s\"");
    else c.retry_ms = *rms;
    c.max_files = j.value("max_files", uint64_t{10'000});
}

// A value shown in a message: control characters as \xNN (an address with
// a line break stays on the message's one line).
std::string shown_value(const std::string& v) {
    std::string out;
    for (unsigned char ch : v) {
        if (ch < 0x20 || ch == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02X", ch);
            out += b;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out;
}

// `written`: the names of the [[notifications]] entries in the file, also
// those refused (their own errors are said; no second one here).
void parse_email_target(const toml::table& t, const nlohmann::json& j, TargetConfig& c,
                        const std::vector<notify::NotificationConfig>& notifications,
                        const std::set<std::string>& written, const TargetBadKey& bad) {
    c.protocol = Protocol::email;
    c.email = j.value("email", "");
    for (const char* key : {"tls", "method", "username", "password_env", "key_file", "key_passphrase_env",
                            "host_key_sha256", "known_hosts", "ca_file", "pinned_key"})
        if (t.contains(key))
            bad(key, std::string(key) + ": an e-mail target takes the server, login and TLS of its [[notifications]] "
                                        "entry '" + c.email + "'");
    const auto n = std::find_if(notifications.begin(), notifications.end(),
                                [&](const notify::NotificationConfig& x) { return x.name == c.email; });
    const bool usable = n != notifications.end() && n->kind == notify::Kind::email;
    if (n == notifications.end() && written.count(c.email)) {
        // Refused itself (said above): nothing more to say.
    } else if (!usable) {
        std::string emails;
        for (const auto& x : notifications)
            if (x.kind == notify::Kind::email) emails += (emails.empty() ? "" : ", ") + x.name;
        bad("email", "email: '" + c.email + "' is not a [[notifications]] entry of kind email" +
                         (n != notifications.end() ? " (it is a " + std::string(notify::kind_name(n->kind)) + ")" : "") +
                         (emails.empty() ? " (the site has none: add one with smtp_url, from, to)" : " (there are: " + emails + ")"));
    } else {
        c.smtp = *n;
        c.url = n->smtp_url;
        c.to = n->to;
    }
    bool to_ok = true;
    if (const toml::node* to = t.get("to")) {
        std::vector<std::string> list;
        std::set<std::string> seen, repeated;
        size_t k = 0;
        for (const toml::node& x : *to->as_array()) {
            ++k;
            if (!x.is_string()) {
                bad("to", "to: entry " + std::to_string(k) + " is of type " + std::string(config::toml_type_name(x)) +
                              ", not an address in quotes");
                to_ok = false;
                continue;
            }
            const std::string a = x.as_string()->get();
            if (!notify::plausible_address(a)) {
                bad("to", "to: '" + shown_value(a) + "' is not an e-mail address (name@domain, no name or <>)");
                to_ok = false;
            } else if (!seen.insert(a).second) {
                if (repeated.insert(a).second) bad("to", "to: '" + a + "' is named more than once");
                to_ok = false;
            } else {
                list.push_back(a);
            }
        }
        c.to = list;
        if (to_ok && list.empty()) bad("to", "to is empty: list the addresses the files go to (or leave it out for "
                                             "the [[notifications]] entry's)");
    } else if (usable && c.to.empty()) {
        bad("email", "email: '" + c.email + "' has no recipient: give to = [...]");
    }
    c.smtp.to = c.to;
    parse_limits(j, c, bad);
    c.smtp.timeout_ms = c.timeout_ms;  // the target's timeout: an attachment takes longer than an alarm
}

}  // namespace

std::vector<TargetConfig> parse_export_targets(const toml::table& root, const std::string& file,
                                               config::Diagnostics& diags, TargetSecrets secrets,
                                               const std::vector<notify::NotificationConfig>& notifications) {
    std::vector<TargetConfig> out;
    const toml::node* n = root.get("export_targets");
    if (!n) return out;
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), "'export_targets' must be an array of tables: [[export_targets]]"});
        return out;
    }
    std::set<std::string> names;
    size_t number = 0;
    const std::string site = root["site"]["name"].value_or(std::string());
    std::set<std::string> written;  // [[notifications]] names in the file
    if (const toml::array* a = root["notifications"].as_array())
        for (const toml::node& x : *a)
            if (const toml::table* nt = x.as_table())
                if (const auto name = (*nt)["name"].value<std::string>()) written.insert(*name);
    const std::filesystem::path base = std::filesystem::path(file).parent_path();
    for (const toml::node& e : *n->as_array()) {
        ++number;
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each [[export_targets]] entry must be a table"});
            continue;
        }
        const toml::table& t = *e.as_table();
        const size_t before = diags.size();
        const toml::node* named = t.get("name");
        const std::string label = named && named->is_string() && !named->as_string()->get().empty()
                                      ? "[[export_targets]] '" + named->as_string()->get() + "'"
                                      : "[[export_targets]] #" + std::to_string(number);
        nlohmann::json j = config::validate_table(t, target_keys(), file, label, diags, config::line_of(t));
        if (diags.size() != before) {
            // Refused (said above), but kept by name: an export naming it is
            // not told again that it does not exist.
            if (named && named->is_string()) {
                TargetConfig c;
                c.name = named->as_string()->get();
                c.line = config::line_of(t);
                out.push_back(std::move(c));
            }
            continue;
        }
        TargetConfig c;
        c.site = site;
        c.line = config::line_of(t);
        c.name = j.value("name", "");
        const auto bad = [&](const char* key, const std::string& what) {
            diags.push_back({file, config::key_line(t, key), label + ": " + what});
        };
        if (const std::string why = config_name_problem(c.name); !why.empty()) bad("name", why);
        if (!names.insert(c.name).second) bad("name", "a target named '" + c.name + "' is already defined");

        if (t.contains("url") == t.contains("email")) {
            bad(t.contains("url") ? "email" : "name",
                t.contains("url") ? "url and email: one or the other (a file server, or e-mail)"
                                  : "url (a file server: ftp://, ftps://, sftp://, http(s)://) or email (a "
                                    "[[notifications]] e-mail entry) is required");
            out.push_back(std::move(c));
            continue;
        }
        if (t.contains("to") && !t.contains("email")) bad("to", "to is for e-mail targets (email = \"...\")");
        if (t.contains("email")) {
            parse_email_target(t, j, c, notifications, written, bad);
            out.push_back(std::move(c));
            continue;
        }
        c.url = j.value("url", "");
        const size_t colon = c.url.find("://");
        const std::string scheme = colon == std::string::npos ? "" : c.url.substr(0, colon);
        const std::string rest = colon == std::string::npos ? "" : c.url.substr(colon + 3);
        const std::string authority = rest.substr(0, rest.find('/'));
        // What error messages show of the URL: a login in it never.
        const std::string shown = authority.find('@') == std::string::npos
                                      ? c.url
                                      : scheme + "://***@" + rest.substr(authority.rfind('@') + 1);
        if (scheme == "ftp") c.protocol = Protocol::ftp;
        else if (scheme == "ftps") c.protocol = Protocol::ftps;
        else if (scheme == "sftp") c.protocol = Protocol::sftp;
        else if (scheme == "http") c.protocol = Protocol::http;
        else if (scheme == "https") c.protocol = Protocol::https;
        else {
            bad("url", "url '" + shown + "': ftp://, ftps://, sftp://, http:// or https:// followed by the host");
            out.push_back(std::move(c));
            continue;
        }
        const bool web = c.protocol == Protocol::http || c.protocol == Protocol::https;
        c.post = j.value("method", "put") == "post";
        if (authority.find('@') != std::string::npos) {
            bad("url", "url '" + shown + "': no login in the URL; use username and password_env (the password "
                       "comes from the environment)");
            c.url = shown;  // never kept, never printed
        } else if (c.url.find_first_of(" \t") != std::string::npos) {
            bad("url", "url '" + c.url + "': spaces must be written %20");
        } else if (std::any_of(c.url.begin(), c.url.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; })) {
            bad("url", "url: a control character (a line break?) in the URL");
        } else if (authority.empty() || authority.front() == ':') {
            bad("url", "url '" + c.url + "': no host");
        } else if (const size_t pc = authority.rfind(':'); pc != std::string::npos && authority.back() != ']') {
            const std::string port = authority.substr(pc + 1);
            const bool digits = !port.empty() && port.size() <= 5 &&
                                std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
            if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535)
                bad("url", "url '" + c.url + "': the port '" + port + "' is not 1 to 65535");
        }
        if (!(web && c.post) && c.url.find_first_of("?#") != std::string::npos)
            bad("url", "url '" + shown + "': a query (?...) or fragment (#...) cannot take a file name after it; "
                       "a folder URL ends with '/'" + (web ? " (method = \"post\" sends to the URL as it is)" : ""));
        else if (!(web && c.post) && (rest.find('/') == std::string::npos || c.url.back() != '/'))
            bad("url", "url '" + shown + "': the folder the files go to, ending with '/' (the file name is added)");
        if (t.contains("method") && !web) bad("method", "method is for http:// and https:// targets");
        if (t.contains("tls") && c.protocol != Protocol::ftp)
            bad("tls", "tls is for ftp:// targets (ftps:// is implicit TLS, https:// and sftp:// always encrypt)");
        c.explicit_tls = j.value("tls", "explicit") == "explicit";
        c.username = j.value("username", "");
        if (c.protocol == Protocol::http && j.contains("password_env"))
            bad("password_env", "a login over http:// would send the password in clear text: use https://");
        const auto secret = [&](const char* key, std::string& into) {
            if (!j.contains(key) || secrets == TargetSecrets::skip) return;
            const std::string var = j[key].get<std::string>();
            const char* v = std::getenv(var.c_str());
            if (!v) bad(key, std::string(key) + ": the environment variable '" + var + "' is not set");
            else into = v;
        };
        secret("password_env", c.password);
        secret("key_passphrase_env", c.key_passphrase);
        if (j.contains("password_env") && c.username.empty())
            bad("password_env", "password_env without username: set username too");
        // A file that must exist, and start with what it must hold.
        const auto path = [&](const char* key, std::string& into, const char* must_hold, const char* what) {
            if (!j.contains(key)) return;
            into = std::filesystem::absolute(base / j[key].get<std::string>()).lexically_normal().string();
            std::error_code ec;
            if (!std::filesystem::is_regular_file(into, ec)) {
                bad(key, std::string(key) + ": no file " + into);
                return;
            }
            std::ifstream f(into, std::ios::binary);
            std::string head(64 * 1024, '\0');
            f.read(head.data(), static_cast<std::streamsize>(head.size()));
            head.resize(static_cast<size_t>(f.gcount()));
            if (head.find(must_hold) == std::string::npos)
                bad(key, std::string(key) + ": " + into + " is not " + what);
        };
        path("key_file", c.key_file, "PRIVATE KEY-----", "a private key (PEM or OpenSSH; the .pub file is the public one)");
        path("known_hosts", c.known_hosts, " ", "an OpenSSH known_hosts file (ssh-keyscan -p PORT HOST > file)");
        path("ca_file", c.ca_file, "-----BEGIN CERTIFICATE-----", "PEM CA certificates (-----BEGIN CERTIFICATE-----)");
        if (c.protocol == Protocol::sftp) {
            if (c.username.empty()) bad("url", "an sftp target needs username");
            if (c.password.empty() && c.key_file.empty() && !j.contains("password_env"))
                bad("url", "an sftp target needs key_file or password_env");
            std::string fp = j.value("host_key_sha256", "");
            if (fp.rfind("SHA256:", 0) == 0) fp = fp.substr(7);
            while (!fp.empty() && fp.size() % 4 != 0) fp += '=';
            if (j.contains("host_key_sha256") && (fp.size() != 44 || !is_base64(fp)))
                bad("host_key_sha256", "host_key_sha256: the SHA256:... fingerprint (43 characters of base64) that "
                                       "`ssh-keyscan -p PORT HOST | ssh-keygen -lf -` prints");
            c.host_key_sha256 = fp;
            if (j.contains("host_key_sha256") && j.contains("known_hosts"))
                bad("known_hosts", "host_key_sha256 and known_hosts: one or the other");
            if (!j.contains("host_key_sha256") && !j.contains("known_hosts"))
                bad("url", "an sftp target needs the server's host key: host_key_sha256 = \"SHA256:...\" (from "
                           "`ssh-keyscan -p PORT HOST | ssh-keygen -lf -`) or known_hosts = \"file\"; gridlet "
                           "never trusts an unknown server");
        } else {
            for (const char* key : {"key_file", "key_passphrase_env", "host_key_sha256", "known_hosts"})
                if (t.contains(key)) bad(key, std::string(key) + " is for sftp:// targets");
        }
        c.pinned_key = j.value("pinned_key", "");
        if (!c.pinned_key.empty()) {
            if (c.protocol == Protocol::sftp || (c.protocol == Protocol::ftp && !c.explicit_tls) ||
                c.protocol == Protocol::http)
                bad("pinned_key", "pinned_key is for TLS targets (ftp:// with tls, ftps://, https://)");
            size_t from = 0;
            while (from <= c.pinned_key.size()) {
                const size_t end = std::min(c.pinned_key.find(';', from), c.pinned_key.size());
                const std::string one = c.pinned_key.substr(from, end - from);
                if (one.rfind("sha256//", 0) != 0 || one.size() != 8 + 44 || !is_base64(one.substr(8))) {
                    bad("pinned_key", "pinned_key: '" + one + "' is not sha256//<44 characters of base64> (openssl "
                                      "x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst "
                                      "-sha256 -binary | base64)");
                    break;
                }
                from = end + 1;
            }
        }
        if (!c.ca_file.empty() && !(c.protocol == Protocol::https || c.protocol == Protocol::ftps ||
                                    (c.protocol == Protocol::ftp && c.explicit_tls)))
            bad("ca_file", "ca_file is for TLS targets (ftp:// with tls, ftps://, https://)");
        parse_limits(j, c, bad);
        // Kept even with errors (reported above): an export naming it is not
        // told again that it does not exist.
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace gridlet::exporter
