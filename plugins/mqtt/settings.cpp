#include "settings.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <gridlet/glob.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "topic.h"

namespace gridlet::mqtt {

namespace {

// Why `key_file` is not the key of `cert_file` ("" when it is, or when
// either does not read: that is said on its own).
std::string key_mismatch(const std::string& cert_file, const std::string& key_file) {
    FILE* cf = std::fopen(cert_file.c_str(), "r");
    if (!cf) return "";
    X509* cert = PEM_read_X509(cf, nullptr, nullptr, nullptr);
    std::fclose(cf);
    FILE* kf = std::fopen(key_file.c_str(), "r");
    EVP_PKEY* key = kf ? PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr) : nullptr;
    if (kf) std::fclose(kf);
    std::string why;
    if (!cert) why = "'" + cert_file + "' holds no PEM certificate";
    else if (!key) why = "'" + key_file + "' holds no PEM private key (an encrypted key is not supported)";
    else if (X509_check_private_key(cert, key) != 1) why = "'" + key_file + "' is not the key of '" + cert_file + "'";
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return why;
}

struct Reader {
    const nlohmann::json& j;
    std::string where;  // "" or "north."
    std::vector<std::string>& problems;

    void bad(const std::string& key, const std::string& what) { problems.push_back(where + key + ": " + what); }

    // Every key of the table must be one of `known`.
    void known_keys(const std::set<std::string>& known) {
        for (const auto& [k, v] : j.items())
            if (!known.count(k)) {
                std::string list;
                for (const std::string& x : known) list += (list.empty() ? "" : ", ") + x;
                bad(k, "unknown key (known: " + list + ")");
            }
    }

    template <class T>
    bool get(const char* key, T& out, const char* type) {
        if (!j.contains(key)) return false;
        try {
            out = j.at(key).get<T>();
            return true;
        } catch (const std::exception&) {
            bad(key, std::string("must be ") + type);
            return false;
        }
    }
    void integer(const char* key, int64_t lo, int64_t hi, int& out) {
        int64_t v = out;
        if (!get(key, v, "an integer")) return;
        if (v < lo || v > hi) bad(key, "must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", not " +
                                           std::to_string(v));
        else out = static_cast<int>(v);
    }
    void patterns(const char* key, std::vector<std::string>& out) {
        if (!j.contains(key)) return;
        if (!j.at(key).is_array()) return bad(key, "must be an array of patterns");
        out.clear();
        for (const auto& p : j.at(key)) {
            if (!p.is_string()) return bad(key, "must be an array of strings");
            const std::string text = p.get<std::string>();
            if (!plausible_series_pattern(text)) bad(key, "'" + text + "' can never match: " + kSeriesPatternRule);
            out.push_back(text);
        }
    }
};

void parse_broker(const nlohmann::json& cfg, BrokerSettings& b, std::vector<std::string>& problems) {
    Reader r{cfg, "", problems};
    std::string url = "mqtt://127.0.0.1:1883";
    r.get("broker", url, "a string");
    {
        std::string rest;
        if (url.rfind("mqtt://", 0) == 0) {
            rest = url.substr(7);
        } else if (url.rfind("mqtts://", 0) == 0) {
            rest = url.substr(8);
            b.tls = true;
        } else {
            r.bad("broker", "'" + url + "' must start with mqtt:// or mqtts:// (e.g. mqtt://127.0.0.1:1883)");
        }
        if (!rest.empty() && rest.back() == '/') rest.pop_back();
        const size_t colon = rest.rfind(':');
        b.port = b.tls ? 8883 : 1883;
        b.host = rest;
        if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
            b.host = rest.substr(0, colon);
            const std::string port = rest.substr(colon + 1);
            char* end = nullptr;
            const long p = std::strtol(port.c_str(), &end, 10);
            if (port.empty() || *end || p < 1 || p > 65535) r.bad("broker", "'" + url + "': the port must be 1..65535");
            else b.port = static_cast<int>(p);
        }
        if (!b.host.empty() && b.host.front() == '[' && b.host.back() == ']') b.host = b.host.substr(1, b.host.size() - 2);
        if ((url.rfind("mqtt://", 0) == 0 || url.rfind("mqtts://", 0) == 0) &&
            (b.host.empty() || b.host.find_first_of("/?@ ") != std::string::npos))
            r.bad("broker", "'" + url + "': expected mqtt://host:port (no path, no user in the URL: use username)");
    }
    r.get("client_id", b.client_id, "a string");
    if (b.client_id.size() > 65535) r.bad("client_id", "is longer than 65535 bytes");
    r.get("username", b.username, "a string");
    std::string pw_env;
    if (r.get("password_env", pw_env, "a string")) {
        const char* v = std::getenv(pw_env.c_str());
        if (!v) r.bad("password_env", "the environment variable '" + pw_env + "' is not set");
        else b.password = v;
        if (b.username.empty()) r.bad("password_env", "a password needs a username");
    }
    r.integer("keepalive_s", 5, 65535, b.keepalive_s);
    std::string protocol = "5";
    if (r.get("protocol", protocol, "a string")) {
        if (protocol == "5") b.protocol = 5;
        else if (protocol == "3.1.1") b.protocol = 4;
        else r.bad("protocol", "must be \"5\" or \"3.1.1\", not '" + protocol + "'");
    }
    r.get("ca_file", b.ca_file, "a string");
    r.get("cert_file", b.cert_file, "a string");
    r.get("key_file", b.key_file, "a string");
    r.get("tls_min_version", b.tls_min_version, "a string");
    if (b.tls_min_version != "1.2" && b.tls_min_version != "1.3")
        r.bad("tls_min_version", "must be \"1.2\" or \"1.3\", not '" + b.tls_min_version + "'");
    if (!b.ca_file.empty()) b.tls = true;
    if (b.cert_file.empty() != b.key_file.empty()) r.bad("cert_file", "cert_file and key_file go together");
    if (!b.cert_file.empty() && !b.tls) r.bad("cert_file", "a client certificate needs TLS: use mqtts:// or a ca_file");
    for (const char* key : {"ca_file", "cert_file", "key_file"}) {
        const std::string& path = key[0] == 'c' && key[1] == 'a' ? b.ca_file : key[0] == 'c' ? b.cert_file : b.key_file;
        if (path.empty()) continue;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
            r.bad(key, "'" + path + "' is not a readable file (a relative path is taken from the folder gridlet runs in)");
            continue;
        }
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.good() && !in.eof()) r.bad(key, "cannot read '" + path + "'");
        else if (text.find("-----BEGIN ") == std::string::npos)
            r.bad(key, "'" + path + "' holds no PEM block (-----BEGIN ...): certificates and keys are read as PEM");
    }
    if (!b.cert_file.empty() && !b.key_file.empty())
        if (std::string why = key_mismatch(b.cert_file, b.key_file); !why.empty()) r.bad("key_file", why);
    r.integer("reconnect_min_ms", 100, 3'600'000, b.reconnect_min_ms);
    r.integer("reconnect_max_ms", 100, 3'600'000, b.reconnect_max_ms);
    if (b.reconnect_max_ms < b.reconnect_min_ms) r.bad("reconnect_max_ms", "must be at least reconnect_min_ms");
    r.get("status_topic", b.status_topic, "a string");
    if (!b.status_topic.empty())
        if (std::string p = topic_template_problem(b.status_topic, {"site", "instance"}); !p.empty())
            r.bad("status_topic", p);
}

void parse_north(const nlohmann::json& n, NorthSettings& s, std::vector<std::string>& problems) {
    Reader r{n, "north.", problems};
    r.known_keys({"enabled", "series", "events", "format", "topic", "event_topic", "qos", "retain", "measurement",
                  "max_inflight", "max_batch", "drain_rate", "max_backlog_mb"});
    s.enabled = true;
    r.get("enabled", s.enabled, "true or false");
    s.series = {"**"};
    r.patterns("series", s.series);
    s.events = {"kernel/alarm", "*/alarm"};
    if (n.contains("events")) {
        const auto& e = n.at("events");
        s.events.clear();
        if (!e.is_array()) {
            r.bad("events", "must be an array of \"source/type\" patterns");
        } else {
            for (const auto& p : e) {
                const std::string text = p.is_string() ? p.get<std::string>() : "";
                // An event is named "source/type": a pattern without '/' (or
                // "**") can never match one.
                if (!plausible_series_pattern(text) ||
                    (text.find('/') == std::string::npos && text.find("**") == std::string::npos))
                    r.bad("events", (p.is_string() ? "'" + text + "' can never match: each" : std::string("each")) +
                                        " entry is a \"source/type\" pattern such as \"*/alarm\" or \"kernel/*\"");
                else s.events.push_back(text);
            }
        }
    }
    if (s.enabled && s.series.empty() && s.events.empty())
        r.bad("series", "series and events are both empty: nothing would go north (set enabled = false to keep it off)");
    std::string format = "json_batch";
    r.get("format", format, "a string");
    if (format == "json") s.format = Format::json;
    else if (format == "json_batch") s.format = Format::json_batch;
    else if (format == "line") s.format = Format::line;
    else r.bad("format", "must be json, json_batch or line, not '" + format + "'");
    s.topic = s.format == Format::json ? "gridlet/{site}/{device}/{point}" : "gridlet/{site}/{device}";
    r.get("topic", s.topic, "a string");
    const bool per_sample = s.format == Format::json;
    const std::vector<std::string> allowed = per_sample
                                                 ? std::vector<std::string>{"site", "instance", "device", "point", "series"}
                                                 : std::vector<std::string>{"site", "instance", "device"};
    if (std::string p = topic_template_problem(s.topic, allowed); !p.empty()) {
        const bool point_in_batch = !per_sample && (p.find("{point}") != std::string::npos || p.find("{series}") != std::string::npos);
        r.bad("topic", p + (point_in_batch ? " ({point} and {series} need format = \"json\": a batch holds many)" : ""));
    } else if (per_sample) {
        const auto used = topic_placeholders(s.topic);
        const bool unique = std::find(used.begin(), used.end(), "series") != used.end() ||
                            (std::find(used.begin(), used.end(), "device") != used.end() &&
                             std::find(used.begin(), used.end(), "point") != used.end());
        if (!unique)
            r.bad("topic", "'" + s.topic + "': with format = \"json\" each series needs its own topic: use {series}, "
                           "or {device} and {point}");
    }
    r.get("event_topic", s.event_topic, "a string");
    if (std::string p = topic_template_problem(s.event_topic, {"site", "instance", "source", "type"}); !p.empty())
        r.bad("event_topic", p);
    r.integer("qos", 0, 2, s.qos);
    r.get("retain", s.retain, "true or false");
    r.get("measurement", s.measurement, "a string");
    if (s.measurement.empty() || s.measurement.find_first_of(" ,=\\\"\n") != std::string::npos)
        r.bad("measurement", "must be a non-empty name without spaces, commas, '=', quotes or backslashes");
    r.integer("max_inflight", 1, 65535, s.max_inflight);
    r.integer("max_batch", 1, 100'000, s.max_batch);
    int rate = static_cast<int>(s.drain_rate);
    r.integer("drain_rate", 1, 10'000'000, rate);
    s.drain_rate = rate;
    int mb = 1024;
    r.integer("max_backlog_mb", 1, 1'000'000, mb);
    s.max_backlog_bytes = static_cast<uint64_t>(mb) << 20;
}

}  // namespace

Settings parse_settings(const nlohmann::json& config, std::vector<std::string>& problems) {
    Settings s;
    parse_broker(config, s.broker, problems);
    if (config.contains("south")) {
        const auto& so = config.at("south");
        if (!so.is_object()) {
            problems.push_back("south: must be a table");
        } else {
            Reader r{so, "south.", problems};
            r.known_keys({"qos"});
            r.integer("qos", 0, 2, s.south.qos);
        }
    }
    if (config.contains("commands")) {
        const auto& c = config.at("commands");
        if (!c.is_object()) {
            problems.push_back("commands: must be a table");
        } else {
            Reader r{c, "commands.", problems};
            r.known_keys({"enabled", "topic", "allow", "timeout_ms"});
            s.commands.enabled = true;
            r.get("enabled", s.commands.enabled, "true or false");
            r.get("topic", s.commands.topic, "a string");
            if (std::string p = topic_template_problem(s.commands.topic, {"site", "instance"}); !p.empty())
                r.bad("topic", p);
            r.patterns("allow", s.commands.allow);
            r.integer("timeout_ms", 100, 600'000, s.commands.timeout_ms);
            if (s.commands.enabled && s.commands.allow.empty())
                r.bad("allow", "names no point: list the \"device/point\" patterns MQTT may write (nothing is "
                               "writable by default)");
        }
    }
    if (config.contains("fleet")) {
        const auto& f = config.at("fleet");
        if (!f.is_object()) {
            problems.push_back("fleet: must be a table");
        } else {
            Reader r{f, "fleet.", problems};
            r.known_keys({"enabled", "topics", "site_level", "qos"});
            s.fleet.enabled = true;
            r.get("enabled", s.fleet.enabled, "true or false");
            if (f.contains("topics")) {
                s.fleet.topics.clear();
                if (!f.at("topics").is_array() || f.at("topics").empty()) r.bad("topics", "must be a non-empty array of topic filters");
                else
                    for (const auto& t : f.at("topics")) {
                        if (!t.is_string() || !valid_topic_filter(t.get<std::string>()))
                            r.bad("topics", "each entry must be an MQTT topic filter ('+' one level, '#' last)");
                        else s.fleet.topics.push_back(t.get<std::string>());
                    }
            }
            r.integer("site_level", 1, 32, s.fleet.site_level);
            r.integer("qos", 0, 2, s.fleet.qos);
        }
    }
    if (config.contains("profiles_dir") && config.at("profiles_dir").is_string())
        s.south.profiles_dir = config.at("profiles_dir").get<std::string>();
    if (config.contains("north")) {
        if (!config.at("north").is_object()) problems.push_back("north: must be a table");
        else parse_north(config.at("north"), s.north, problems);
    }
    return s;
}

}  // namespace gridlet::mqtt
