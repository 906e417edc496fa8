// [http]: the kernel's HTTP(S) API server, as the site file configures it.
// Checked by prepare_site() (so `gridlet check` refuses what `run` would).
// Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/config_schema.h"
#include "core/site_config.h"

namespace gridlet::http {

struct HttpConfig {
    std::string listen = "127.0.0.1";  // address to bind (IPv4 or IPv6 literal, or a host name)
    int port = 8443;
    bool tls = true;                    // false: plain HTTP (only on loopback unless allow_plain_http)
    bool allow_plain_http = false;      // plain HTTP on an address other than loopback
    std::string cert_file, key_file;    // PEM (RSA or ECDSA); empty: the self-signed pair in data_dir/tls
    std::string data_dir;               // users.json, tls/ (default: <store's parent>/http)
    int threads = 32;                   // connections served at once
    int session_idle_minutes = 30;      // a session unused this long ends
    int session_max_hours = 12;         // and any session after this long
    int lockout_after = 5;              // failed logins in a row that lock an account
    int lockout_minutes = 15;           // for this long
    int password_min_length = 12;
    int64_t max_body_bytes = 1 << 20;   // larger request bodies are refused (413)
    int64_t max_query_rows = 2'000'000; // larger query answers are refused (400, use step/agg)
    int max_live_clients = 100;         // GET /api/v1/live at once (each holds a thread of its own)
    int64_t live_queue_bytes = 1 << 20; // a live client further behind than this is dropped
    std::vector<std::string> commands;  // globs of the device points POST /api/v1/commands may write
    int command_timeout_ms = 5000;      // a command's wait for the device's reply
    bool dashboard = true;              // serve the web dashboard outside /api/
    std::string web_dir;                // its built files (default: gridlet's own, built or installed)
    uint32_t line = 0;                  // of [http], for messages
};

// Whether `address` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& address);

// [http] of `root` (nullopt without one, or with enabled = false).
// Problems go to `diags` with file:line.
std::optional<HttpConfig> parse_http_config(const toml::table& root, const SiteConfig& site, config::Diagnostics& diags);

}  // namespace gridlet::http
