// Notifier: the [[notifications]] of a site. Every alarm change a
// notification wants is appended at once to its queue in the store's
// outbox ("notify/<name>"), so nothing is lost across a server outage or a
// restart. poll() sends a queue's changes as one message (a digest) once
// the oldest has waited max_wait_s; the batch's bounds are written to the
// store before the first attempt ("#notify" state), so a batch sent again
// after a failure or a restart is the same message with the same id, and
// its entries leave the outbox only once the server accepted it (nothing
// twice, nothing lost). A failed attempt is retried after 5 s, doubling up
// to 10 min; three failures in a row (counted across restarts: the count is
// stored with the batch's bounds) raise the system alarm
// "notification_failed" (critical), which ends at the next success.
//
// Threads: on_change() and counters() from any thread (the threads that
// take alarm changes from the table: the change is in the outbox before
// they publish it); start(), poll() and next_due_ms() on one owner thread
// (the notifier component's), which sending blocks (bounded by the
// notification's timeout and `cancel`).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alarm/alarm_table.h"
#include "core/timezone.h"
#include "notify/digest.h"
#include "notify/notification_config.h"
#include "notify/telegram.h"
#include "store/outbox.h"
#include "store/state_store.h"

namespace gridlet::notify {

// Delivers one batch; ok when the server accepted it. The default sends by
// e-mail, webhook (delivery.h) or Telegram (telegram.h); tests may replace it.
using Sender = std::function<Status(const NotificationConfig&, const Batch&)>;

struct NotifierCounters {
    uint64_t queued = 0;       // changes appended to a queue
    uint64_t messages = 0;     // messages delivered
    uint64_t delivered = 0;    // changes delivered
    uint64_t failures = 0;     // failed attempts
    uint64_t pending = 0;      // changes waiting (all queues)
};

class Notifier {
public:
    Notifier(std::vector<NotificationConfig> configs, store::Outbox& outbox, store::StateStore& state,
             std::string site, TimeZone zone, alarm::AlarmTable* alarms);

    // The default sender, with `cancel` polled during a transfer.
    void use_default_sender(std::function<bool()> cancel);
    void set_sender(Sender s) { sender_ = std::move(s); }
    // Whether poll() reads the Telegram bots' messages (subscriptions); on
    // by default. The offline harness, which has no bot server, turns it off.
    void set_read_subscriptions(bool on) { read_subscriptions_ = on; }

    // Reads what waits from the last run. Call once, first.
    Status start(int64_t now_ms);
    // An alarm change (transition: raised, acknowledged, returned, reactivated, finished).
    // Errors: the outbox refused it (the store failing); said, counted.
    Status on_change(const std::string& transition, const alarm::Alarm& a, int64_t now_ms);
    // Sends what is due. Call about once a second.
    void poll(int64_t now_ms);
    // When poll() has something to do next (UTC ms), or nullopt.
    std::optional<int64_t> next_due_ms() const;

    NotifierCounters counters() const;
    const std::vector<NotificationConfig>& configs() const { return configs_; }
    // The bot of a telegram notification, or nullptr. Its subscribers may be
    // read and changed from any thread.
    TelegramBot* telegram_bot(const std::string& name) const;

private:
    struct Queue {
        int64_t oldest_ms = 0;    // enqueue time of the oldest waiting change (0: none)
        uint64_t waiting = 0;
        uint64_t in_first = 0, in_last = 0;  // the batch in flight (0: none)
        int attempts = 0;
        int64_t next_try_ms = 0;
        std::string last_error;
    };
    std::string queue_name(const NotificationConfig& n) const { return "notify/" + n.name; }
    Status send_batch(const NotificationConfig& n, int64_t now_ms);
    void failed(const NotificationConfig& n, Queue& q, const Status& st, int64_t now_ms);  // under mu_

    std::vector<NotificationConfig> configs_;
    store::Outbox& outbox_;
    store::StateStore& state_;
    std::string site_;
    TimeZone zone_;
    alarm::AlarmTable* alarms_;
    Sender sender_;
    std::function<bool()> cancel_;
    bool read_subscriptions_ = true;
    std::map<std::string, std::unique_ptr<TelegramBot>> bots_;  // fixed after construction
    std::map<std::string, std::string> update_errors_;          // owner thread: the last getUpdates error
    mutable std::mutex mu_;  // queues_ and counters_
    std::map<std::string, Queue> queues_;
    NotifierCounters counters_;
};

// A sample message through `n` now (the Legrand "Test" button), outside the
// outbox: e-mail, webhook, or Telegram to `bot`'s enabled subscribers.
// Returns how many recipients got it (e-mail, webhook: 1; Telegram: the
// chats). Errors: what the server answered.
Expected<size_t> send_test_message(const NotificationConfig& n, const std::string& site, const TimeZone& zone, TelegramBot* bot,
                         int64_t now_ms, const std::function<bool()>& cancel);

}  // namespace gridlet::notify
