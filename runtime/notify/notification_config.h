// `[[notifications]]`: who is told about which alarm changes, how, and how
// often (../shared/spec/socomec-webview.md §3.2: recipients, minimum
// criticality, "maximum waiting time"; legrand-energy-web-server.md §7.3-7.7:
// alert types, e-mail). Checked key by key with file:line, in the one
// validation path of `gridlet check` and `gridlet run`.
//
//   [[notifications]]
//   name = "ops_mail"
//   kind = "email"                      # email or webhook
//   min_criticality = "non_critical"    # information, non_critical, critical
//   transitions = ["raised", "finished"]
//   alert_types = ["threshold", "state_change", "communication", "configuration"]
//   max_wait_s = 60                     # changes within the window go out as one digest
//   smtp_url = "smtp://mail.example.com:587"   # smtps://... for SMTP over TLS
//   starttls = "required"               # required, try, none (smtp:// only)
//   username = "gateway"
//   password_env = "GRIDLET_SMTP_PASSWORD"
//   from = "gateway@example.com"
//   to = ["ops@example.com", "site@example.com"]
//   # webhook: url = "https://hooks.example.com/gridlet"
//   # telegram: token_env = "GRIDLET_TELEGRAM_TOKEN", password_env = "GRIDLET_TELEGRAM_PASSWORD"
//   #           (people subscribe by sending that password to the bot; telegram.h)
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "alarm/alarm.h"
#include "alarm/alarm_table.h"
#include "core/config_schema.h"

namespace gridlet::notify {

// The store's state namespace of the notifications: batches in flight,
// Telegram subscribers and update offsets.
inline constexpr const char* kNotifyStateNamespace = "#notify";

enum class Kind : uint8_t { email, webhook, telegram };

const char* kind_name(Kind k);

// The Legrand alert event types (manual §7.3), as gridlet classifies alarms:
// threshold (an [[alarms]] level: high, low, rate), state_change (any other
// alarm of a measurement or a rule, and a device's own alarm points), communication (category
// communication), configuration (category configuration, a rule that did
// not load), system (the gateway's own faults: plugin, store, delivery,
// flood).
std::string alert_type_of(const alarm::Alarm& a);

struct NotificationConfig {
    std::string name;
    Kind kind = Kind::email;
    alarm::Criticality min_criticality = alarm::Criticality::non_critical;
    std::vector<std::string> transitions;   // raised, acknowledged, returned, reactivated, finished
    std::vector<std::string> alert_types;   // empty: all
    std::vector<std::string> sources;       // patterns; empty: all
    int64_t max_wait_ms = 60'000;
    size_t max_per_message = 100;
    // email
    std::string smtp_url, starttls = "required", username, password, from, ca_file;
    std::vector<std::string> to;
    // webhook
    std::string url;
    // telegram (Legrand manual §7.4): the bot's token, the Bot API's base
    // URL, the password a person sends to the bot to subscribe, and how often
    // the bot's messages are fetched (getUpdates).
    std::string token, api_url = "https://api.telegram.org", subscribe_password;
    int64_t updates_every_ms = 5'000;
    int64_t timeout_ms = 15'000;
    uint32_t line = 0;

    // Whether `transition` of `a` is for this notification.
    bool wants(const std::string& transition, const alarm::Alarm& a) const;
};

const std::vector<config::KeySpec>& notification_keys();

// An address as SMTP takes it: local@domain, one '@', no space, control
// character, display name or list separator (<>,;").
bool plausible_address(const std::string& address);

// Reads `[[notifications]]` of a site file's root. Secrets (SMTP password,
// bot token, subscription password) are read from the environment
// variables `password_env` / `token_env` at load (never written in the
// file). Problems go to `diags` with file:line.
//
// `secrets`: read (every entry's secrets must be set: `gridlet check` and
// `run`), skip (none is read nor required: queueing a change needs only the
// filters, e.g. `gridlet alarms ack` on a stopped site), or only the entry
// named `secrets_of` (`gridlet notify test NAME`).
enum class Secrets : uint8_t { read, skip, only_one };
std::vector<NotificationConfig> parse_notifications(const toml::table& root, const std::string& file,
                                                    config::Diagnostics& diags, Secrets secrets = Secrets::read,
                                                    const std::string& secrets_of = {});

// The same from a JSON array of entries (the offline harness's timeline
// header "notifications"), checked exactly as the site file's; no secret is
// read (the harness delivers nothing). Errors: as parse_notifications, with
// `file` (the timeline and its header's line).
std::vector<NotificationConfig> notifications_from_json(const nlohmann::json& array, const std::string& file,
                                                        config::Diagnostics& diags);

}  // namespace gridlet::notify
