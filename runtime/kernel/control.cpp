// The kernel's main loop: signals (signalfd) and the control socket (a
// ZeroMQ REP socket on an ipc:// endpoint; requests "metrics", "ping").
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backup/backup.h"
#include "bus/socket.h"
#include "kernel/kernel.h"
#include "kernel/alarm_store.h"
#include "kernel/service_manager.h"
#include "store/store.h"

namespace gridlet::kernel {

// Requests: "ping", "metrics", or a JSON object
// {"publish": {"series": "dev/point", "value": 1.5, "unit": "A", "kind": "gauge"}} or
// {"alarm_ack": {"id": 12, "by": "cli", "comment": "text"}} or
// {"telegram_subscriber": {"notification": "ops_bot", "chat_id": 42, "enabled": false}} or
// {"reload": {}} (as SIGHUP; the answer says what was applied or why not) or
// {"audit": {...}} (an account change made on the command line: published as
// the event cli/audit) or
// {"backup_checkpoint": {"store": path}} (a checkpoint of the store for
// `gridlet backup`, which archives and removes it: {"ok": true, "dir": ...};
// another store asked for: code "conflict").
std::string Kernel::handle_control(std::string_view request) {
    if (request == "ping") return "pong";
    if (request == "metrics") return metrics_json().dump();
    auto j = nlohmann::json::parse(request, nullptr, false);
    if (j.is_object() && j.contains("publish")) return control_publish(j["publish"]).dump();
    if (j.is_object() && j.contains("alarm_ack")) return control_alarm_ack(j["alarm_ack"]).dump();
    if (j.is_object() && j.contains("telegram_subscriber"))
        return control_telegram_subscriber(j["telegram_subscriber"]).dump();
    if (j.is_object() && j.contains("backup_checkpoint")) return control_backup_checkpoint(j["backup_checkpoint"]).dump();
    if (j.is_object() && j.contains("audit")) return control_audit(j["audit"]).dump();
    if (j.is_object() && j.contains("status")) return status_json().dump();
    if (j.is_object() && j.contains("reload")) {
        spdlog::info("control: reload asked");
        return reload().dump();
    }
    return nlohmann::json{{"error", "unknown request (known: ping, metrics, {\"publish\": {...}}, "
                                    "{\"alarm_ack\": {...}}, {\"telegram_subscriber\": {...}}, {\"reload\": {}}, {\"status\": {}}, "
                                    "{\"backup_checkpoint\": {}})"}}
        .dump();
}

nlohmann::json Kernel::control_audit(const nlohmann::json& body) {
    if (!body.is_object() || !body.contains("action") || !body["action"].is_string())
        return {{"error", "audit needs {\"action\": \"...\", ...}"}};
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    bus::EventView ev{clock_.now_ms(), GL_SEV_INFO, "cli", "audit", text};
    if (Status st = control_publisher_->publish_frame(bus::encode_event("event/cli/audit", ev)); !st)
        return {{"error", st.message()}};
    spdlog::info("control: audit {} by {}", body["action"].get<std::string>(), body.value("user", std::string("?")));
    return {{"ok", true}};
}

nlohmann::json Kernel::control_backup_checkpoint(const nlohmann::json& body) {
    if (!store_) return {{"error", "the site has no [store]"}, {"code", "not_found"}};
    // Another folder's site of the same name shares the endpoint's name:
    // a checkpoint only of the store that was asked for.
    if (body.is_object() && body.contains("store") && body["store"].is_string()) {
        std::error_code ec;
        const auto mine = std::filesystem::weakly_canonical(store_->options().path, ec);
        const auto asked = std::filesystem::weakly_canonical(body["store"].get<std::string>(), ec);
        if (mine != asked)
            return {{"error", "this gridlet runs the store " + mine.string() + ", not " + asked.string()},
                    {"code", "conflict"}};
    }
    const std::string dir = backup::checkpoint_dir_for(store_->options().path.string());
    if (Status st = store_->checkpoint(dir); !st) return {{"error", st.message()}};
    spdlog::info("control: store checkpoint for a backup in {}", dir);
    return {{"ok", true}, {"dir", dir}};
}

// Acknowledges an alarm of the running site (the table is shared with the
// alarms component) and publishes the change. Main thread.
nlohmann::json Kernel::control_alarm_ack(const nlohmann::json& p) {
    if (!alarms_) return {{"error", "the alarm table is not open"}};
    if (!p.is_object() || !p.contains("id") || !p["id"].is_number_unsigned())
        return {{"error", "alarm_ack needs {\"id\": <alarm id>, \"by\": \"name\", \"comment\": \"text\"}"}};
    const std::string by = p.value("by", "cli");
    const std::string comment = p.value("comment", "");
    auto a = alarms_->acknowledge(p["id"].get<uint64_t>(), by, comment, clock_.now_ms());
    publish_alarm_changes();
    if (!a) return {{"error", a.status().message()}, {"code", status_code_name(a.status().code())}};
    spdlog::info("control: alarm {} ({}) acknowledged by {}", a->id, a->name, by);
    return {{"ok", true}, {"alarm", alarm::to_json(*a)}};
}

// Enables or disables a subscriber of a running Telegram notification (its
// bot keeps the list; the store has it too). Main thread.
nlohmann::json Kernel::control_telegram_subscriber(const nlohmann::json& p) {
    if (!p.is_object() || !p.contains("notification") || !p["notification"].is_string() || !p.contains("chat_id") ||
        !p["chat_id"].is_number_integer() || !p.contains("enabled") || !p["enabled"].is_boolean())
        return {{"error", "telegram_subscriber needs {\"notification\": \"name\", \"chat_id\": <id>, "
                          "\"enabled\": true|false}"}};
    const std::string name = p["notification"].get<std::string>();
    notify::TelegramBot* bot = notifier_ ? notifier_->telegram_bot(name) : nullptr;
    if (!bot)
        return {{"error", "no telegram notification '" + name + "' runs on this site"}, {"code", "not_found"}};
    const int64_t chat = p["chat_id"].get<int64_t>();
    Status st = bot->set_enabled(chat, p["enabled"].get<bool>());
    if (!st) return {{"error", st.message()}, {"code", status_code_name(st.code())}};
    spdlog::info("control: telegram '{}': chat {} {}", name, chat, p["enabled"].get<bool>() ? "enabled" : "disabled");
    nlohmann::json subs = nlohmann::json::array();
    for (const auto& s : bot->subscribers()) subs.push_back(notify::to_json(s));
    return {{"ok", true}, {"subscribers", subs}};
}

void Kernel::publish_alarm_changes() {
    for (const alarm::AlarmChange& c : alarms_->take_transitions()) {
        if (notifier_) (void)notifier_->on_change(alarm::transition_name(c.transition), c.alarm, clock_.now_ms());
        const std::string body = alarm::to_json(c.alarm).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        const std::string type = alarm::transition_event_type(c.transition);
        bus::EventView ev{clock_.now_ms(), alarm_event_severity(c), c.alarm.source, type, body};
        Status st = control_publisher_->publish_frame(bus::encode_event("event/" + c.alarm.source + "/" + type, ev));
        if (!st) spdlog::error("alarm {} {}: event not published: {}", c.alarm.id, type, st.message());
    }
}

// Publishes one sample on the bus, as a driver would: for manual values and
// run-time overrides (e.g. greenup/ev1/start_wait). Main thread.
nlohmann::json Kernel::control_publish(const nlohmann::json& p) {
    if (!p.is_object() || !p.contains("series") || !p["series"].is_string() || !p.contains("value") ||
        !p["value"].is_number())
        return {{"error", "publish needs {\"series\": \"device/point\", \"value\": <number>}"}};
    SeriesMeta meta;
    meta.name = p["series"].get<std::string>();
    const auto existing = registry_.find(meta.name);
    if (existing) meta = *registry_.get(*existing);
    // Unit and kind describe a new series. An existing one keeps its own:
    // a counter turned gauge would change what its stored history means.
    if (p.contains("unit") && p["unit"].is_string()) {
        const std::string unit = p["unit"].get<std::string>();
        if (existing && unit != meta.unit)
            return {{"error", "series " + meta.name + " exists with unit '" + meta.unit + "'; --unit '" + unit +
                                  "' would change it (unit and kind are set only for a new series)"}};
        meta.unit = unit;
    }
    if (p.contains("kind") && p["kind"].is_string()) {
        auto k = parse_series_kind(p["kind"].get<std::string>());
        if (!k) return {{"error", "kind must be gauge, counter or state, not '" + p["kind"].get<std::string>() + "'"}};
        if (existing && *k != meta.kind)
            return {{"error", "series " + meta.name + " exists as a " + std::string(series_kind_name(meta.kind)) +
                                  "; --kind " + p["kind"].get<std::string>() +
                                  " would change it (unit and kind are set only for a new series)"}};
        meta.kind = *k;
    }
    if (!meta.tags.count("device")) meta.tags["device"] = std::string(meta.device());
    auto id = registry_.intern(meta);
    if (!id) return {{"error", id.status().message()}};
    gl_sample s{};
    s.series_id = *id;
    s.ts_ms = clock_.now_ms();
    s.value = p["value"].get<double>();
    s.quality = GL_QUALITY_GOOD;
    Status st = control_publisher_->publish_samples(&s, 1);
    if (!st) return {{"error", st.message()}};
    // The reply is the acknowledgement: the sample is in the store's WAL
    // (written here, not only queued on the bus for the store writer; its bus
    // copy rewrites the same sample, which the store takes as an overwrite).
    if (store_) {
        Status stored = store_->accept_window_holds(s.ts_ms)
                            ? store_->append(std::span<const gl_sample>(&s, 1))
                            : Status::invalid("the clock is outside [store] accept_from_year / accept_ahead_hours");
        if (!stored) {
            spdlog::error("control: published {} = {} to the rules, but it is not stored: {}", meta.name, s.value,
                          stored.message());
            return {{"error", "published to the rules, but the store refused it now (" + stored.message() +
                                  "); the store writer may still write it once writes resume: check with "
                                  "`gridlet query`"}};
        }
    }
    spdlog::info("control: published {} = {}{}", meta.name, s.value, store_ ? " (stored)" : "");
    return {{"ok", true}, {"series", meta.name}, {"id", *id}, {"ts_ms", s.ts_ms}, {"stored", store_ != nullptr}};
}


int Kernel::run_until_signal() {
    sigset_t set = kernel_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        spdlog::critical("signalfd: {}", std::strerror(errno));
        stop();
        return 1;
    }
    bus::ZmqSocket control(bus_->context(), ZMQ_REP);
    const std::string& ep = plan_.site.control_endpoint;
    Status st = control.bind(ep);
    if (!st) {
        spdlog::warn("control socket: {}; `gridlet metrics` will not reach this process", st.message());
        control.close();
    } else {
        spdlog::info("control socket {} (gridlet metrics --control {})", ep, ep);
    }
    // Under systemd: ready now (every plugin started, the control socket
    // bound), the watchdog fed by this loop, the status line kept current.
    ServiceManager service;
    service.ready(status_line());
    if (service.watchdog_interval_ms() > 0)
        spdlog::info("systemd watchdog: {} ms, fed every {} ms by the main loop", service.watchdog_interval_ms(),
                     service.poll_timeout_ms());
    constexpr int kStatusEveryMs = 10000;
    const int poll_ms = !service.notifying()            ? -1
                        : service.poll_timeout_ms() < 0 ? kStatusEveryMs
                                                        : std::min(service.poll_timeout_ms(), kStatusEveryMs);
    int code = 0;
    for (;;) {
        zmq_pollitem_t items[2] = {{nullptr, sfd, ZMQ_POLLIN, 0}, {control.get(), 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, control ? 2 : 1, poll_ms);
        if (service.notifying()) {
            service.feed_watchdog(clock_.monotonic_ms());
            if (n == 0) service.status(status_line());
        }
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            spdlog::critical("kernel poll: {}", zmq_strerror(zmq_errno()));
            code = 1;
            break;
        }
        if (items[0].revents) {
            signalfd_siginfo si{};
            if (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
                if (si.ssi_signo == SIGHUP) {
                    spdlog::info("SIGHUP: reloading");
                    service.reloading();
                    (void)reload();
                    service.ready(status_line());
                    continue;
                }
                spdlog::info("{}: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
                break;
            }
        }
        if (control && items[1].revents) {
            bus::ZmqMessage req;
            if (zmq_msg_recv(req.get(), control.get(), ZMQ_DONTWAIT) >= 0) {
                std::string reply = handle_control(req.view());
                zmq_send(control.get(), reply.data(), reply.size(), 0);
            }
        }
    }
    service.stopping();
    // Remove the socket file only if it is ours (a bind that failed leaves another's alone).
    const bool bound = static_cast<bool>(control);
    control.close();
    if (bound && ep.rfind("ipc://", 0) == 0) ::unlink(ep.c_str() + 6);
    close(sfd);
    // A component that failed, or a device left out, is a failure of the
    // run even when the stop itself is clean.
    nlohmann::json problems = problems_json();
    if (!stop()) code = 1;
    for (const auto& p : problems) {
        spdlog::error("exit 1: {}", p.get<std::string>());
        code = 1;
    }
    return code;
}

}  // namespace gridlet::kernel
