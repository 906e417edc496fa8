#include "notify/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"
#include "core/text.h"
#include "notify/delivery.h"

namespace gridlet::notify {

namespace {
constexpr int64_t kFirstRetryMs = 5'000, kMaxRetryMs = 600'000;
constexpr int kFailuresBeforeAlarm = 3;
}  // namespace

Notifier::Notifier(std::vector<NotificationConfig> configs, store::Outbox& outbox, store::StateStore& state,
                   std::string site, TimeZone zone, alarm::AlarmTable* alarms)
    : configs_(std::move(configs)), outbox_(outbox), state_(state), site_(std::move(site)), zone_(std::move(zone)),
      alarms_(alarms) {
    for (const NotificationConfig& n : configs_)
        if (n.kind == Kind::telegram) bots_[n.name] = std::make_unique<TelegramBot>(n, state_, site_);
}

TelegramBot* Notifier::telegram_bot(const std::string& name) const {
    auto it = bots_.find(name);
    return it == bots_.end() ? nullptr : it->second.get();
}

namespace {
std::string telegram_text(const std::string& site, const TimeZone& zone, const Batch& b) {
    const EmailText t = email_text(site, zone, b);
    return t.subject + "\n\n" + t.body;
}
}  // namespace

Expected<size_t> send_test_message(const NotificationConfig& n, const std::string& site, const TimeZone& zone,
                                   TelegramBot* bot, int64_t now_ms, const std::function<bool()>& cancel) {
    Batch b;
    b.id = site + "." + n.name + ".test-" + std::to_string(now_ms);
    alarm::Alarm a;
    a.id = 0;
    a.name = "notification_test";
    a.source = "kernel";
    a.category = "test";
    a.origin = "cli";
    a.type = alarm::AlarmType::system;
    a.criticality = alarm::Criticality::information;
    a.start_ms = now_ms;
    a.message = "A test of notification '" + n.name + "' of site " + site + " (gridlet notify test): it works.";
    b.changes.push_back({"raised", a});
    Status st = Status::invalid("unknown kind");
    switch (n.kind) {
        case Kind::email: st = send_email(n, email_message(n, site, zone, b, now_ms), cancel); break;
        case Kind::webhook: st = post_webhook(n, dump_json(webhook_body(site, n, b)), b.id, cancel); break;
        case Kind::telegram:
            if (!bot) return Status::invalid("no bot for '" + n.name + "'");
            return bot->send_test(telegram_text(site, zone, b), cancel);
    }
    if (!st) return st;
    return size_t{1};
}

void Notifier::use_default_sender(std::function<bool()> cancel) {
    cancel_ = cancel;
    sender_ = [this, cancel](const NotificationConfig& n, const Batch& b) -> Status {
        switch (n.kind) {
            case Kind::email:
                return send_email(n, email_message(n, site_, zone_, b, SystemClock::instance().now_ms()), cancel);
            case Kind::webhook: return post_webhook(n, dump_json(webhook_body(site_, n, b)), b.id, cancel);
            case Kind::telegram: return bots_.at(n.name)->deliver(b.id, telegram_text(site_, zone_, b), cancel);
        }
        return Status::invalid("unknown kind");
    };
}

Status Notifier::start(int64_t now_ms) {
    for (auto& [name, bot] : bots_)
        if (Status st = bot->load(); !st) return st;
    std::lock_guard lock(mu_);
    for (const NotificationConfig& n : configs_) {
        Queue& q = queues_[n.name];
        auto size = outbox_.size(queue_name(n));
        if (!size) return size.status();
        q.waiting = *size;
        if (q.waiting > 0) {
            auto first = outbox_.read(queue_name(n), 0, 1);
            if (first && !first->empty()) {
                auto j = nlohmann::json::parse(first->front().payload, nullptr, false);
                q.oldest_ms = j.is_object() ? j.value("enqueued_ms", now_ms) : now_ms;
            }
        }
        auto inflight = state_.get(kNotifyStateNamespace, n.name + "/inflight");
        if (inflight && *inflight) {
            auto j = nlohmann::json::parse(**inflight, nullptr, false);
            if (j.is_object()) {
                q.in_first = j.value("first", uint64_t{0});
                q.in_last = j.value("last", uint64_t{0});
                // Failed attempts go on counting across restarts (a crash
                // loop during an outage still raises notification_failed);
                // the next attempt is at once.
                q.attempts = j.value("attempts", 0);
            }
        }
        if (q.waiting > 0)
            spdlog::info("notification '{}': {} alarm change(s) still to send from the last run", n.name, q.waiting);
    }
    return Status::ok();
}

Status Notifier::on_change(const std::string& transition, const alarm::Alarm& a, int64_t now_ms) {
    Status out = Status::ok();
    for (const NotificationConfig& n : configs_) {
        if (!n.wants(transition, a)) continue;
        nlohmann::json j = {{"transition", transition}, {"alarm", alarm::to_json(a)}, {"enqueued_ms", now_ms}};
        auto seq = outbox_.append(queue_name(n), dump_json(j));
        if (!seq) {
            spdlog::error("notification '{}': alarm {} {} not queued: {}", n.name, a.id, transition,
                          seq.status().message());
            out = seq.status();
            continue;
        }
        std::lock_guard lock(mu_);
        Queue& q = queues_[n.name];
        if (q.waiting == 0) q.oldest_ms = now_ms;
        ++q.waiting;
        ++counters_.queued;
    }
    return out;
}

Status Notifier::send_batch(const NotificationConfig& n, int64_t now_ms) {
    const std::string name = queue_name(n);
    uint64_t first = 0, last = 0;
    int attempts = 0;
    {
        std::lock_guard lock(mu_);
        Queue& q = queues_[n.name];
        if (q.in_first == 0) {
            // A new batch: its bounds are stored before the first attempt.
            auto entries = outbox_.read(name, 0, n.max_per_message);
            if (!entries) return entries.status();
            if (entries->empty()) {
                q.waiting = 0;
                q.oldest_ms = 0;
                return Status::ok();
            }
            Status st = state_.put(kNotifyStateNamespace, n.name + "/inflight",
                                   dump_json(nlohmann::json{{"first", entries->front().seq},
                                                            {"last", entries->back().seq}}));
            if (!st) return st;
            q.in_first = entries->front().seq;
            q.in_last = entries->back().seq;
        }
        first = q.in_first;
        last = q.in_last;
        attempts = q.attempts;
    }
    auto entries = outbox_.read(name, first - 1, last - first + 1);
    if (!entries) return entries.status();
    Batch b;
    b.first = first;
    b.last = last;
    b.id = batch_id(site_, n.name, first, last);
    for (const store::OutboxEntry& e : *entries) {
        if (e.seq > last) break;
        auto j = nlohmann::json::parse(e.payload, nullptr, false);
        auto a = j.is_object() ? alarm::alarm_from_json(j.value("alarm", nlohmann::json())) : Status::corruption("");
        if (!a) {
            spdlog::error("notification '{}': outbox entry {} does not decode; left out", n.name, e.seq);
            continue;
        }
        b.changes.push_back({j.value("transition", "?"), std::move(*a)});
    }
    if (!b.changes.empty()) {
        Status st = sender_(n, b);  // not under mu_: it may take seconds
        if (!st) return st;
    }
    Status acked = outbox_.ack(name, last);
    if (!acked) spdlog::error("notification '{}': sent {}, but its entries stay queued: {}", n.name, b.id, acked.message());
    (void)state_.erase(kNotifyStateNamespace, n.name + "/inflight");
    if (!b.changes.empty())
        spdlog::info("notification '{}': {} sent ({} change(s){})", n.name, b.id, b.changes.size(),
                     attempts > 0 ? ", after " + std::to_string(attempts) + " failed attempt(s)" : "");
    // (also when the failures were before a restart: attempts start at 0)
    if (alarms_ && alarms_->active("system/notification_failed|" + n.name))
        (void)alarms_->clear("system/notification_failed|" + n.name, now_ms, std::numeric_limits<double>::quiet_NaN(),
                             "delivered again");
    // What is left waits its own window, from its oldest change.
    auto next = outbox_.read(name, 0, 1);
    std::lock_guard lock(mu_);
    Queue& q = queues_[n.name];
    if (!b.changes.empty()) {
        ++counters_.messages;
        counters_.delivered += b.changes.size();
    }
    const uint64_t done = last - first + 1;
    q.waiting = q.waiting > done ? q.waiting - done : 0;
    q.attempts = 0;
    q.next_try_ms = 0;
    q.last_error.clear();
    q.in_first = q.in_last = 0;
    if (q.waiting > 0) {
        auto j = next && !next->empty() ? nlohmann::json::parse(next->front().payload, nullptr, false) : nlohmann::json();
        q.oldest_ms = j.is_object() ? j.value("enqueued_ms", now_ms) : now_ms;
    } else {
        q.oldest_ms = 0;
    }
    return Status::ok();
}

void Notifier::failed(const NotificationConfig& n, Queue& q, const Status& st, int64_t now_ms) {
    ++q.attempts;
    ++counters_.failures;
    const int64_t delay = std::min(kMaxRetryMs, kFirstRetryMs << std::min(q.attempts - 1, 20));
    q.next_try_ms = now_ms + delay;
    q.last_error = st.message();
    spdlog::warn("notification '{}': not delivered ({} attempt(s)): {}; next try in {} s; {} change(s) wait in the store",
                 n.name, q.attempts, st.message(), delay / 1000, q.waiting);
    if (q.attempts >= kFailuresBeforeAlarm && alarms_ && !alarms_->active("system/notification_failed|" + n.name)) {
        alarm::RaiseRequest r =
            alarm::system_raise("notification_failed", "kernel", "delivery", alarm::Criticality::critical, now_ms);
        r.key = "system/notification_failed|" + n.name;
        r.value = static_cast<double>(q.waiting);
        r.message = "notification '" + n.name + "' cannot be delivered (" + st.message() + "); " +
                    std::to_string(q.waiting) + " alarm change(s) wait in the store and are retried";
        r.detail = {{"notification", n.name}, {"error", st.message()}};
        (void)alarms_->raise(r);
    }
}

void Notifier::poll(int64_t now_ms) {
    // Telegram subscriptions: the bots' new messages. A failure is logged
    // when it changes (it does not hold up delivery, which has its own
    // retries and alarm).
    for (auto& [name, bot] : bots_) {
        if (!read_subscriptions_ || now_ms < bot->next_updates_ms()) continue;
        Status st = bot->poll_updates(now_ms, cancel_);
        std::string& last = update_errors_[name];
        if (!st && st.message() != last)
            spdlog::warn("telegram '{}': cannot read the bot's messages (subscriptions): {}", name, st.message());
        else if (st && !last.empty())
            spdlog::info("telegram '{}': reading the bot's messages again", name);
        last = st ? "" : st.message();
    }
    for (const NotificationConfig& n : configs_) {
        {
            std::lock_guard lock(mu_);
            Queue& q = queues_[n.name];
            if (q.waiting == 0 && q.in_first == 0) continue;
            if (q.next_try_ms > now_ms) continue;
            if (q.in_first == 0 && now_ms - q.oldest_ms < n.max_wait_ms) continue;
        }
        Status st = send_batch(n, now_ms);
        if (!st) {
            nlohmann::json inflight;
            {
                std::lock_guard lock(mu_);
                Queue& q = queues_[n.name];
                failed(n, q, st, now_ms);
                if (q.in_first != 0)
                    inflight = {{"first", q.in_first}, {"last", q.in_last}, {"attempts", q.attempts}};
            }
            if (!inflight.is_null()) (void)state_.put(kNotifyStateNamespace, n.name + "/inflight", dump_json(inflight));
        }
    }
}

std::optional<int64_t> Notifier::next_due_ms() const {
    std::lock_guard lock(mu_);
    std::optional<int64_t> next;
    if (read_subscriptions_)
        for (const auto& [name, bot] : bots_)
            if (!next || bot->next_updates_ms() < *next) next = bot->next_updates_ms();
    for (const NotificationConfig& n : configs_) {
        auto it = queues_.find(n.name);
        if (it == queues_.end()) continue;
        const Queue& q = it->second;
        if (q.waiting == 0 && q.in_first == 0) continue;
        int64_t t = q.in_first != 0 ? q.next_try_ms : std::max(q.oldest_ms + n.max_wait_ms, q.next_try_ms);
        if (!next || t < *next) next = t;
    }
    return next;
}

NotifierCounters Notifier::counters() const {
    std::lock_guard lock(mu_);
    NotifierCounters c = counters_;
    c.pending = 0;
    for (const auto& [name, q] : queues_) c.pending += q.waiting;
    return c;
}

}  // namespace gridlet::notify
