// `gridlet notify`: the site's [[notifications]] from the command line.
//   notify test NAME           a sample message now (the Legrand "Test" button)
//   notify subscribers NAME    who subscribed to a Telegram notification
//   notify enable|disable NAME CHAT_ID
//                              a Telegram subscriber on or off (running site:
//                              through its control socket; stopped: the store)
// CLI thread.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/store_access.h"
#include "core/clock.h"
#include "core/site_config.h"
#include "core/text.h"
#include "kernel/site_plan.h"
#include "notify/delivery.h"
#include "notify/notifier.h"
#include "store/site_file.h"

namespace gridlet::cli {

namespace {

struct NotifyArgs {
    std::string config, control, name, format = "table";
    int64_t chat_id = 0;
    int timeout_ms = 2000;
};

// The [[notifications]] entry `name` of the site file, kind and all: only
// its name and kind are read (a subscriber list needs no secret).
std::string kind_in_file(const char* cmd, const std::string& config, const std::string& name) {
    config::Diagnostics diags;
    SiteConfig site = load_site_config(config, kernel::section_schemas(), diags);
    if (!diags.empty() || !site.root) fail(cmd, 2, diags.empty() ? "cannot read " + config : diags.front().to_string());
    std::string known;
    if (const toml::array* list = site.root->get_as<toml::array>("notifications")) {
        for (const toml::node& e : *list) {
            const toml::table* t = e.as_table();
            if (!t) continue;
            const std::string n = t->get("name") ? t->get("name")->value_or(std::string()) : "";
            if (n == name) return t->get("kind") ? t->get("kind")->value_or(std::string()) : "";
            known += (known.empty() ? "" : ", ") + n;
        }
    }
    fail(cmd, 2, config + " has no [[notifications]] named '" + name + "'" +
                     (known.empty() ? "" : " (it has: " + known + ")"));
}

void require_telegram(const char* cmd, const NotifyArgs& a) {
    if (a.config.empty()) fail(cmd, 2, "give the site file: --config SITE.toml");
    const std::string kind = kind_in_file(cmd, a.config, a.name);
    if (kind != "telegram") fail(cmd, 2, "'" + a.name + "' is a " + kind + " notification, not a telegram one");
}

void run_test(const NotifyArgs& a) {
    const char* cmd = "notify test";
    if (a.config.empty()) fail(cmd, 2, "give the site file: --config SITE.toml");
    (void)kind_in_file(cmd, a.config, a.name);
    config::Diagnostics diags;
    SiteConfig site = load_site_config(a.config, kernel::section_schemas(), diags);
    std::vector<notify::NotificationConfig> configs;
    // Only this notification's secrets are needed (and checked).
    if (diags.empty() && site.root)
        configs = notify::parse_notifications(*site.root, a.config, diags, notify::Secrets::only_one, a.name);
    if (!diags.empty()) fail(cmd, 2, diags.front().to_string());
    const notify::NotificationConfig* n = nullptr;
    for (const auto& c : configs)
        if (c.name == a.name) n = &c;
    if (!n) fail(cmd, 2, "'" + a.name + "' is disabled (enabled = false)");
    auto zone = TimeZone::load(site.timezone);
    if (!zone) fail(cmd, 2, zone.status().message());
    std::unique_ptr<store::Store> st;
    std::unique_ptr<notify::TelegramBot> bot;
    if (n->kind == notify::Kind::telegram) {
        auto location = store::read_site_store(a.config);
        if (!location) fail(cmd, 2, location.status().message());
        st = open_store_read_only(cmd, location->options.path);
        bot = std::make_unique<notify::TelegramBot>(*n, st->state(), site.site_name);
        if (Status s = bot->load(); !s) fail(cmd, 1, s.message());
    }
    notify::init_delivery();
    const auto never = [] { return false; };
    auto sent = notify::send_test_message(*n, site.site_name, *zone, bot.get(), SystemClock::instance().now_ms(), never);
    if (!sent) fail(cmd, 1, sent.status().message());
    std::printf("notification '%s' (%s): test message sent%s\n", n->name.c_str(), notify::kind_name(n->kind),
                bot ? (" to " + std::to_string(*sent) + " enabled chat(s)").c_str() : "");
}

void print_subscribers(const std::vector<notify::TelegramSubscriber>& subs, const std::string& format,
                       const TimeZone& zone) {
    if (format == "json") {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : subs) j.push_back(notify::to_json(s));
        std::printf("%s\n", dump_json(j).c_str());
        return;
    }
    std::printf("%-14s %-8s %-25s %s\n", "chat_id", "enabled", "since", "name");
    for (const auto& s : subs) {
        std::string name = s.name;
        for (char& c : name)
            if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        std::printf("%-14lld %-8s %-25s %s%s\n", static_cast<long long>(s.chat_id), s.enabled ? "yes" : "no",
                    zone.format_iso(s.since_ms).c_str(), name.c_str(), s.note.empty() ? "" : ("  (" + s.note + ")").c_str());
    }
}

void run_subscribers(const NotifyArgs& a) {
    const char* cmd = "notify subscribers";
    if (a.format != "table" && a.format != "json") fail(cmd, 2, "--format must be table or json");
    require_telegram(cmd, a);
    StoreLocation loc = locate_store(cmd, "", a.config);
    auto zone = TimeZone::load(loc.timezone);
    if (!zone) fail(cmd, 2, zone.status().message());
    auto st = open_store_read_only(cmd, loc.path);
    auto subs = notify::read_subscribers(st->state(), a.name);
    if (!subs) fail(cmd, 1, subs.status().message());
    print_subscribers(*subs, a.format, *zone);
    if (subs->empty())
        std::fprintf(stderr, "gridlet notify subscribers: nobody has subscribed to '%s' yet (a person sends the "
                             "subscription password to the bot)\n", a.name.c_str());
}

void run_enable(const NotifyArgs& a, bool enabled) {
    const char* cmd = enabled ? "notify enable" : "notify disable";
    require_telegram(cmd, a);
    ControlTarget target;
    target.config_path = a.config;
    target.control = a.control;
    target.timeout_ms = a.timeout_ms;
    const bool running = !a.control.empty() || control_endpoint_live(target.endpoint());
    if (running) {
        nlohmann::json req = {
            {"telegram_subscriber", {{"notification", a.name}, {"chat_id", a.chat_id}, {"enabled", enabled}}}};
        (void)control_call(cmd, target.endpoint(), req, target.timeout_ms);
    } else {
        auto site = store::read_site_store(a.config);
        if (!site) fail(cmd, 2, site.status().message());
        store::StoreOptions o = site->options;
        o.create_if_missing = false;
        auto opened = store::Store::open(o);
        if (!opened) fail(cmd, opened.status().code() == StatusCode::not_found ? 2 : 1, opened.status().message());
        Status s = notify::write_subscriber_enabled((*opened)->state(), a.name, a.chat_id, enabled);
        if (!s) fail(cmd, s.code() == StatusCode::not_found ? 2 : 1, s.message());
        if (Status synced = (*opened)->sync(); !synced) fail(cmd, 1, synced.message());
    }
    std::printf("notification '%s': chat %lld %s\n", a.name.c_str(), static_cast<long long>(a.chat_id),
                enabled ? "enabled" : "disabled");
}

}  // namespace

void register_notify_command(CLI::App& app) {
    auto a = std::make_shared<NotifyArgs>();
    auto* cmd = app.add_subcommand("notify", "Test a notification; Telegram subscribers");
    cmd->require_subcommand(1);
    cmd->footer("Examples:\n"
                "  gridlet notify test ops_mail --config site.toml\n"
                "  gridlet notify subscribers ops_bot --config site.toml\n"
                "  gridlet notify disable ops_bot 123456789 --config site.toml\n"
                "Exit status: 0 done; 1 not delivered, store or socket error; 2 bad arguments, no such "
                "notification or subscriber.");

    auto* test = cmd->add_subcommand("test", "Send a sample message through a notification now");
    test->add_option("name", a->name, "The [[notifications]] name")->required();
    test->add_option("--config", a->config, "The site file")->required();
    test->footer("E-mail and webhook: one message to the configured recipients; Telegram: to every enabled\n"
                 "subscriber. Nothing is queued: a failure is printed, with what the server answered.");
    on_run(test, "notify test", [a] { run_test(*a); });

    auto* subs = cmd->add_subcommand("subscribers", "List who subscribed to a Telegram notification");
    subs->add_option("name", a->name, "The telegram [[notifications]] name")->required();
    subs->add_option("--config", a->config, "The site file")->required();
    subs->add_option("--format", a->format, "table (default) or json");
    on_run(subs, "notify subscribers", [a] { run_subscribers(*a); });

    for (bool enabled : {true, false}) {
        auto* sub = cmd->add_subcommand(enabled ? "enable" : "disable",
                                        enabled ? "Enable a Telegram subscriber again" : "Stop sending to a Telegram subscriber");
        sub->add_option("name", a->name, "The telegram [[notifications]] name")->required();
        sub->add_option("chat_id", a->chat_id, "The chat (first column of `gridlet notify subscribers`)")->required();
        sub->add_option("--config", a->config, "The site file (running or stopped site)")->required();
        sub->add_option("--control", a->control, "The control socket of a running gridlet");
        sub->add_option("--timeout-ms", a->timeout_ms, "How long to wait for a running gridlet's answer")
            ->check(CLI::Range(1, 3'600'000));
        on_run(sub, enabled ? "notify enable" : "notify disable", [a, enabled] { run_enable(*a, enabled); });
    }
}

}  // namespace gridlet::cli
