#include "http/http_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gridlet/glob.hpp>

#include "core/install_paths/install_paths.h"
#include "http/tls_identity.h"
#include "store/options.h"

namespace gridlet::http {

namespace {

const std::vector<config::KeySpec>& http_keys() {
    using config::key;
    using config::ValueType;
    static const std::vector<config::KeySpec> keys = {
        key("enabled", ValueType::boolean, "true", "false: no HTTP server"),
        key("listen", ValueType::string, "\"127.0.0.1\"", "address to listen on (0.0.0.0 or :: for every interface)"),
        key("port", ValueType::integer, "8443", "TCP port", 1, 65535),
        key("tls", ValueType::boolean, "true", "HTTPS; false: plain HTTP, allowed on loopback only unless allow_plain_http"),
        key("allow_plain_http", ValueType::boolean, "false", "allow plain HTTP on an address other than loopback"),
        key("cert_file", ValueType::string, std::nullopt, "PEM certificate (RSA or ECDSA); with key_file"),
        key("key_file", ValueType::string, std::nullopt, "PEM private key of cert_file"),
        key("data_dir", ValueType::string, std::nullopt, "users, API tokens and the generated certificate (default: "
                                                         "the folder 'http' beside the store)"),
        key("threads", ValueType::integer, "32", "connections served at once", 2, 1024),
        key("session_idle_minutes", ValueType::integer, "30", "a session unused this long ends", 1, 10080),
        key("session_max_hours", ValueType::integer, "12", "any session ends after this long", 1, 8760),
        key("lockout_after", ValueType::integer, "5", "failed logins in a row that lock the account", 1, 100),
        key("lockout_minutes", ValueType::integer, "15", "how long a locked account stays locked", 1, 10080),
        key("password_min_length", ValueType::integer, "12", "shortest password accepted", 8, 128),
        key("max_body_kb", ValueType::integer, "1024", "largest request body", 1, 1048576),
        key("max_query_rows", ValueType::integer, "2000000", "largest query answer (rows)", 1000, 100000000),
        key("max_live_clients", ValueType::integer, "100", "live (server-sent events) clients at once", 1, 10000),
        key("live_queue_kb", ValueType::integer, "1024", "a live client further behind than this is dropped", 16, 1048576),
        key("commands", ValueType::array, "[]", "device points an operator may command through the API (globs, "
                                                "e.g. [\"bldg/relay*\"]); none by default"),
        key("command_timeout_ms", ValueType::integer, "5000", "how long a command through the API waits for the device",
            100, 60000),
        key("dashboard", ValueType::boolean, "true", "serve the web dashboard on every path outside /api/"),
        key("web_dir", ValueType::string, std::nullopt, "the dashboard's built files (default: gridlet's own, in the "
                                                        "build folder or installed)"),
    };
    return keys;
}

bool readable_pem(const std::string& path, std::string* why) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        *why = "'" + path + "' is not a readable file";
        return false;
    }
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("-----BEGIN ") == std::string::npos) {
        *why = "'" + path + "' holds no PEM block (-----BEGIN ...)";
        return false;
    }
    return true;
}

}  // namespace

bool is_loopback(const std::string& a) {
    if (a == "localhost") return true;
    in_addr v4{};
    if (::inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    const std::string bare = a.size() > 2 && a.front() == '[' && a.back() == ']' ? a.substr(1, a.size() - 2) : a;
    return ::inet_pton(AF_INET6, bare.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

static bool is_address(const std::string& a) {
    in_addr v4{};
    in6_addr v6{};
    return a == "localhost" || ::inet_pton(AF_INET, a.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, a.c_str(), &v6) == 1;
}

std::optional<HttpConfig> parse_http_config(const toml::table& root, const SiteConfig& site, config::Diagnostics& diags) {
    const toml::node* node = root.get("http");
    if (!node) return std::nullopt;
    const uint32_t line = config::line_of(*node);
    if (!node->is_table()) {
        diags.push_back({site.path, line, "[http] must be a table"});
        return std::nullopt;
    }
    const toml::table& t = *node->as_table();
    const size_t before = diags.size();
    const nlohmann::json j = config::validate_table(t, http_keys(), site.path, "[http]", diags, line);
    if (diags.size() != before || !j.value("enabled", true)) return std::nullopt;
    auto key_line = [&](const char* k) {
        const toml::node* n = t.get(k);
        return n ? config::line_of(*n) : line;
    };
    HttpConfig c;
    c.line = line;
    c.listen = j.value("listen", c.listen);
    c.port = j.value("port", c.port);
    c.tls = j.value("tls", c.tls);
    c.allow_plain_http = j.value("allow_plain_http", false);
    c.threads = j.value("threads", c.threads);
    c.session_idle_minutes = j.value("session_idle_minutes", c.session_idle_minutes);
    c.session_max_hours = j.value("session_max_hours", c.session_max_hours);
    c.lockout_after = j.value("lockout_after", c.lockout_after);
    c.lockout_minutes = j.value("lockout_minutes", c.lockout_minutes);
    c.password_min_length = j.value("password_min_length", c.password_min_length);
    c.max_body_bytes = j.value("max_body_kb", int64_t{1024}) * 1024;
    c.max_query_rows = j.value("max_query_rows", c.max_query_rows);
    c.max_live_clients = j.value("max_live_clients", c.max_live_clients);
    c.live_queue_bytes = j.value("live_queue_kb", int64_t{1024}) * 1024;
    c.command_timeout_ms = j.value("command_timeout_ms", c.command_timeout_ms);
    c.dashboard = j.value("dashboard", true);
    if (j.contains("web_dir")) {
        c.web_dir = site.resolve(j["web_dir"].get<std::string>());
        std::error_code ec;
        if (c.dashboard && !std::filesystem::is_regular_file(std::filesystem::path(c.web_dir) / "index.html", ec))
            diags.push_back({site.path, key_line("web_dir"),
                             "[http] web_dir: " + c.web_dir + " holds no index.html (a build of web/: npm run build)"});
    } else {
        c.web_dir = executable_install_paths().web_dir;
    }
    if (j.contains("commands")) {
        for (const auto& p : j["commands"]) {
            if (!p.is_string() || !plausible_series_pattern(p.get<std::string>()) ||
                p.get<std::string>().find('/') == std::string::npos) {
                diags.push_back({site.path, key_line("commands"),
                                 "[http] commands: " + p.dump() + " is not a \"device/point\" pattern (" +
                                     kSeriesPatternRule + ")"});
                continue;
            }
            // Its device part must name (or match) a device of the site: a
            // command can only go to a device's plugin.
            const std::string pattern = p.get<std::string>();
            const std::string device = pattern.substr(0, pattern.find('/'));
            const bool any = device.find("**") != std::string::npos ||
                             std::any_of(site.devices.begin(), site.devices.end(),
                                         [&](const DeviceEntry& d) { return glob_match(device, d.name); });
            if (!any) {
                std::string names;
                for (const DeviceEntry& d : site.devices) names += (names.empty() ? "" : ", ") + d.name;
                diags.push_back({site.path, key_line("commands"),
                                 "[http] commands: '" + pattern + "' matches no device of this site (devices: " +
                                     (names.empty() ? "none" : names) + ")"});
                continue;
            }
            c.commands.push_back(pattern);
        }
    }
    if (!is_address(c.listen))
        diags.push_back({site.path, key_line("listen"),
                         "[http] listen: '" + c.listen + "' is not an IP address (127.0.0.1, ::1, 0.0.0.0 or :: for every "
                         "interface, or an address of this machine) nor localhost"});
    if (!c.tls && !is_loopback(c.listen) && !c.allow_plain_http)
        diags.push_back({site.path, key_line("tls"),
                         "[http] tls = false on '" + c.listen +
                             "': plain HTTP sends passwords and sessions in clear text; it is allowed on loopback "
                             "(127.0.0.1) only, unless you also set allow_plain_http = true"});
    if (j.contains("cert_file") != j.contains("key_file"))
        diags.push_back({site.path, key_line(j.contains("cert_file") ? "cert_file" : "key_file"),
                         "[http] cert_file and key_file go together"});
    for (const char* k : {"cert_file", "key_file"}) {
        if (!j.contains(k)) continue;
        const std::string path = site.resolve(j[k].get<std::string>());
        std::string why;
        if (!readable_pem(path, &why)) diags.push_back({site.path, key_line(k), std::string("[http] ") + k + ": " + why});
        (k[0] == 'c' ? c.cert_file : c.key_file) = path;
    }
    if (!c.cert_file.empty() && !c.key_file.empty() && diags.size() == before)
        if (Status st = check_certificate_pair(c.cert_file, c.key_file); !st)
            diags.push_back({site.path, key_line("key_file"), "[http] key_file: " + st.message()});
    if (j.contains("data_dir")) {
        c.data_dir = site.resolve(j["data_dir"].get<std::string>());
    } else if (site.has_store) {
        if (auto o = store::store_options_from_json(site.store, site.dir))
            c.data_dir = (std::filesystem::path(o->path).parent_path() / "http").string();
    }
    if (c.data_dir.empty())
        diags.push_back({site.path, line, "[http] needs a data_dir for its users (or a [store], beside which it goes)"});
    if (diags.size() != before) return std::nullopt;
    return c;
}

}  // namespace gridlet::http
