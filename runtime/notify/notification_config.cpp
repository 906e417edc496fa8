#include "notify/notification_config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/pattern.h"

namespace gridlet::notify {

using config::KeySpec;
using config::ValueType;

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::email: return "email";
        case Kind::webhook: return "webhook";
        case Kind::telegram: return "telegram";
    }
    return "?";
}

std::string alert_type_of(const alarm::Alarm& a) {
    if (a.category == "communication") return "communication";
    if (a.category == "configuration" || a.name == "rule_load_failed") return "configuration";
    if (a.type == alarm::AlarmType::system) return "system";
    if (a.origin == "device") return "state_change";  // the device's own alarm bit
    static const std::set<std::string> levels = {"high", "high_high", "low", "low_low", "rate"};
    if (levels.count(a.condition)) return "threshold";
    return "state_change";
}

bool NotificationConfig::wants(const std::string& transition, const alarm::Alarm& a) const {
    if (a.criticality < min_criticality) return false;
    if (std::find(transitions.begin(), transitions.end(), transition) == transitions.end()) return false;
    if (!alert_types.empty() &&
        std::find(alert_types.begin(), alert_types.end(), alert_type_of(a)) == alert_types.end())
        return false;
    if (sources.empty()) return true;
    for (const std::string& p : sources)
        if (pattern_match(p, a.source)) return true;
    return false;
}

const std::vector<KeySpec>& notification_keys() {
    static const std::vector<KeySpec> keys = [] {
        std::vector<KeySpec> k;
        k.push_back(config::required_key("name", ValueType::string, "Unique name (letters, digits, _ - .)"));
        KeySpec kind = config::required_key("kind", ValueType::string, "email, webhook or telegram");
        kind.one_of = {"email", "webhook", "telegram"};
        k.push_back(kind);
        KeySpec crit = config::key("min_criticality", ValueType::string, "\"non_critical\"",
                                   "Lowest criticality told: information, non_critical, critical");
        crit.one_of = {"information", "non_critical", "critical"};
        k.push_back(crit);
        k.push_back(config::key("transitions", ValueType::array, "[\"raised\", \"finished\"]",
                                "Which changes: raised, acknowledged, returned, reactivated, finished"));
        k.push_back(config::key("alert_types", ValueType::array, "[]",
                                "threshold, state_change, communication, configuration, system (empty: all)"));
        k.push_back(config::key("sources", ValueType::array, "[]", "Source patterns (empty: all)"));
        k.push_back(config::key("max_wait_s", ValueType::number, "60",
                                "Changes within this window go out as one message (0: at once)", 0, 86400));
        k.push_back(config::key("max_per_message", ValueType::integer, "100", "Changes in one message at most", 1,
                                10000));
        k.push_back(config::key("smtp_url", ValueType::string, std::nullopt,
                                "email: smtp://host:port (STARTTLS) or smtps://host:port (TLS)"));
        KeySpec tls = config::key("starttls", ValueType::string, "\"required\"", "email, smtp://: required, try, none");
        tls.one_of = {"required", "try", "none"};
        k.push_back(tls);
        k.push_back(config::key("username", ValueType::string, std::nullopt, "email: SMTP user"));
        k.push_back(config::key("password_env", ValueType::string, std::nullopt,
                                "email: the environment variable holding the SMTP password; telegram: the one "
                                "holding the password people send to the bot to subscribe"));
        k.push_back(config::key("from", ValueType::string, std::nullopt, "email: the sender address"));
        k.push_back(config::key("to", ValueType::array, std::nullopt, "email: 1 to 10 recipient addresses"));
        k.push_back(config::key("ca_file", ValueType::string, std::nullopt,
                                "email/webhook: CA certificates (PEM) to trust instead of the system's"));
        k.push_back(config::key("url", ValueType::string, std::nullopt, "webhook: http:// or https:// URL (POST)"));
        k.push_back(config::key("token_env", ValueType::string, std::nullopt,
                                "telegram: the environment variable holding the bot's token (from @BotFather)"));
        k.push_back(config::key("api_url", ValueType::string, "\"https://api.telegram.org\"",
                                "telegram: the Bot API's base URL"));
        k.push_back(config::key("updates_every_s", ValueType::number, "5",
                                "telegram: how often the bot reads its messages (subscriptions)", 1, 3600));
        k.push_back(config::key("timeout_s", ValueType::number, "15", "One delivery attempt at most", 1, 300));
        k.push_back(config::key("enabled", ValueType::boolean, "true", "false: checked, not run"));
        return k;
    }();
    return keys;
}

bool plausible_address(const std::string& a) {
    const size_t at = a.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= a.size() || a.find('@', at + 1) != std::string::npos) return false;
    return std::none_of(a.begin(), a.end(), [](char ch) {
        return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == ';' ||
               ch == '"';
    });
}

namespace {

std::vector<std::string> strings(const nlohmann::json& j, const char* key, const std::string& where,
                                 const toml::table& t, const std::string& file, config::Diagnostics& diags) {
    std::vector<std::string> out;
    if (!j.contains(key)) return out;
    for (const auto& v : j[key]) {
        if (!v.is_string()) {
            diags.push_back({file, config::key_line(t, key), where + ": " + key + ": a list of strings"});
            return {};
        }
        out.push_back(v.get<std::string>());
    }
    return out;
}

}  // namespace

std::vector<NotificationConfig> parse_notifications(const toml::table& root, const std::string& file,
                                                    config::Diagnostics& diags, Secrets secrets,
                                                    const std::string& secrets_of) {
    std::vector<NotificationConfig> out;
    const toml::node* n = root.get("notifications");
    if (!n) return out;
    if (!n->is_array()) {
        diags.push_back({file, config::line_of(*n), "'notifications' must be an array of tables: [[notifications]]"});
        return out;
    }
    std::set<std::string> names;
    size_t index = 0;
    for (const toml::node& e : *n->as_array()) {
        ++index;
        if (!e.is_table()) {
            diags.push_back({file, config::line_of(e), "each [[notifications]] entry must be a table"});
            continue;
        }
        const toml::table& t = *e.as_table();
        const size_t before = diags.size();
        const toml::node* named = t.get("name");
        nlohmann::json j = config::validate_table(t, notification_keys(), file,
                                                  named && named->is_string() && !named->as_string()->get().empty()
                                                      ? "[[notifications]] '" + named->as_string()->get() + "'"
                                                      : "[[notifications]] #" + std::to_string(index),
                                                  diags, config::line_of(t));
        if (diags.size() != before) continue;
        NotificationConfig c;
        c.line = config::line_of(t);
        c.name = j.value("name", "");
        const std::string where = "[[notifications]] '" + c.name + "'";
        const auto bad = [&](const char* key, const std::string& what) {
            diags.push_back({file, config::key_line(t, key), where + ": " + what});
        };
        if (const std::string why = config_name_problem(c.name); !why.empty()) bad("name", why);
        const bool read_secrets =
            secrets == Secrets::read || (secrets == Secrets::only_one && c.name == secrets_of);
        if (!names.insert(c.name).second) bad("name", "a notification named '" + c.name + "' is already defined");
        const std::string kind = j.value("kind", "email");
        c.kind = kind == "webhook" ? Kind::webhook : kind == "telegram" ? Kind::telegram : Kind::email;
        c.min_criticality = *alarm::parse_criticality(j.value("min_criticality", "non_critical"));
        c.transitions = strings(j, "transitions", where, t, file, diags);
        for (const auto& x : c.transitions)
            if (!alarm::parse_transition(x))
                bad("transitions",
                    "transitions: '" + x + "' (known: raised, acknowledged, returned, reactivated, finished)");
        if (c.transitions.empty()) bad("transitions", "transitions: empty (nothing would be sent)");
        c.alert_types = strings(j, "alert_types", where, t, file, diags);
        static const std::set<std::string> known_a = {"threshold", "state_change", "communication", "configuration",
                                                      "system"};
        for (const auto& x : c.alert_types)
            if (!known_a.count(x))
                bad("alert_types",
                    "alert_types: '" + x + "' (known: threshold, state_change, communication, configuration, system)");
        c.sources = strings(j, "sources", where, t, file, diags);
        for (const auto& x : c.sources)
            if (x.empty()) bad("sources", "sources: an empty pattern (a source such as \"panel*\", \"rule/*\", \"kernel\")");
        c.max_wait_ms = static_cast<int64_t>(j.value("max_wait_s", 60.0) * 1000);
        c.max_per_message = j.value("max_per_message", size_t{100});
        c.timeout_ms = static_cast<int64_t>(j.value("timeout_s", 15.0) * 1000);
        c.ca_file = j.value("ca_file", "");
        if (!c.ca_file.empty()) {
            std::FILE* f = std::fopen(c.ca_file.c_str(), "r");
            if (!f) bad("ca_file", "ca_file: cannot read '" + c.ca_file + "' (PEM certificates of the CA to trust)");
            else std::fclose(f);
        }
        // Keys of another kind are refused (written in the file: the schema
        // fills in defaults).
        static const std::vector<std::pair<const char*, std::set<Kind>>> kinds_of = {
            {"smtp_url", {Kind::email}},     {"starttls", {Kind::email}},
            {"username", {Kind::email}},     {"from", {Kind::email}},
            {"to", {Kind::email}},           {"password_env", {Kind::email, Kind::telegram}},
            {"url", {Kind::webhook}},        {"token_env", {Kind::telegram}},
            {"api_url", {Kind::telegram}},   {"updates_every_s", {Kind::telegram}}};
        for (const auto& [key, kinds] : kinds_of)
            if (t.contains(key) && !kinds.count(c.kind)) {
                std::string for_kinds;
                for (Kind k : kinds) for_kinds += std::string(for_kinds.empty() ? "" : " or ") + kind_name(k);
                bad(key, std::string(key) + " is for kind = " + for_kinds + ", not " + kind_name(c.kind));
            }
        if (c.kind == Kind::email) {
            c.smtp_url = j.value("smtp_url", "");
            c.starttls = j.value("starttls", "required");
            c.username = j.value("username", "");
            c.from = j.value("from", "");
            c.to = strings(j, "to", where, t, file, diags);
            if (c.smtp_url.rfind("smtp://", 0) != 0 && c.smtp_url.rfind("smtps://", 0) != 0)
                bad(j.contains("smtp_url") ? "smtp_url" : "kind",
                    "an email notification needs smtp_url = \"smtp://host:port\" or \"smtps://host:port\"");
            if (!plausible_address(c.from)) bad(j.contains("from") ? "from" : "kind", "from: a sender address (name@domain)");
            if (c.to.empty() || c.to.size() > 10) bad(j.contains("to") ? "to" : "kind", "to: 1 to 10 recipient addresses");
            for (const auto& a : c.to)
                if (!plausible_address(a)) bad("to", "to: '" + a + "' is not an address (name@domain)");
            if (j.contains("password_env") != !c.username.empty())
                bad(j.contains("password_env") ? "password_env" : "username",
                    "an SMTP login needs both username and password_env (or neither)");
            if (j.contains("password_env") && read_secrets) {
                const std::string var = j["password_env"].get<std::string>();
                const char* v = std::getenv(var.c_str());
                if (!v) bad("password_env", "password_env: the environment variable '" + var + "' is not set");
                else c.password = v;
            }
        } else if (c.kind == Kind::webhook) {
            c.url = j.value("url", "");
            if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0)
                bad(j.contains("url") ? "url" : "kind", "a webhook needs url = \"http://...\" or \"https://...\"");
        } else {
            c.api_url = j.value("api_url", "https://api.telegram.org");
            while (!c.api_url.empty() && c.api_url.back() == '/') c.api_url.pop_back();
            if (c.api_url.rfind("http://", 0) != 0 && c.api_url.rfind("https://", 0) != 0)
                bad("api_url", "api_url: \"https://...\" (the Bot API's base URL)");
            // The token is part of every request's URL: in clear text only
            // to this machine.
            static const std::vector<std::string> loopback = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
            bool local = false;
            for (const std::string& l : loopback)
                local = local || (c.api_url.rfind(l, 0) == 0 &&
                                  (c.api_url.size() == l.size() || c.api_url[l.size()] == ':' || c.api_url[l.size()] == '/'));
            if (c.api_url.rfind("http://", 0) == 0 && !local)
                bad("api_url", "api_url: http:// only to this machine (127.0.0.1, localhost): the bot's token is in "
                               "every request; use https://");
            c.updates_every_ms = static_cast<int64_t>(j.value("updates_every_s", 5.0) * 1000);
            // The secrets come from the environment, never from the file.
            const auto secret = [&](const char* key, const char* what, std::string& into) {
                if (!j.contains(key)) {
                    bad("kind", std::string("a telegram notification needs ") + key + " (the environment variable "
                                "holding " + what + ")");
                    return;
                }
                if (!read_secrets) return;
                const std::string var = j[key].get<std::string>();
                const char* v = std::getenv(var.c_str());
                if (!v || !*v) bad(key, std::string(key) + ": the environment variable '" + var + "' is not set");
                else into = v;
            };
            secret("token_env", "the bot's token", c.token);
            secret("password_env", "the subscription password", c.subscribe_password);
            if (!c.token.empty() && (c.token.find(':') == std::string::npos ||
                                     c.token.find_first_of("/?#% \r\n") != std::string::npos))
                bad("token_env", "token_env: the variable's value is not a bot token (<digits>:<letters>)");
            if (!c.subscribe_password.empty() && c.subscribe_password.size() < 8)
                bad("password_env", "password_env: the subscription password needs 8 characters or more");
        }
        if (j.value("enabled", true) && diags.size() == before) out.push_back(std::move(c));
    }
    return out;
}

std::vector<NotificationConfig> notifications_from_json(const nlohmann::json& array, const std::string& file,
                                                        config::Diagnostics& diags) {
    const size_t before = diags.size();
    const toml::table root = config::array_of_tables_from_json(array, "notifications", file, diags);
    if (diags.size() != before) return {};
    return parse_notifications(root, file, diags, Secrets::skip);
}

}  // namespace gridlet::notify
