// TelegramBot: a [[notifications]] entry of kind "telegram", as the Legrand
// server has it (../shared/spec/legrand-energy-web-server.md §7.4, manual
// L2609-2664): a bot (its token from @BotFather), and a password; a person
// subscribes by sending the password to the bot as a message. Subscribers
// can be disabled and enabled one by one (`gridlet notify disable`), and a
// test message goes to every enabled one (`gridlet notify test`).
//
// Talks to the Telegram Bot API (https://core.telegram.org/bots/api) at
// `api_url` (configurable, so tests use a local server): getUpdates (short
// polls, every `updates_every_s`), sendMessage, deleteMessage.
//
// Conversation, in a chat with the bot:
//   the password        -> subscribed (the password message is deleted)
//   /stop               -> unsubscribed
//   /start, /help       -> how to subscribe (or that the chat is subscribed)
//   any other text      -> a wrong password (the password is text too)
//   5 wrong passwords in an hour -> the chat is ignored for the rest of it
//                          (also across restarts)
//
// State in the store (`#notify` state namespace, keys under "<name>/telegram/"):
// the subscribers, the next update offset, and for a batch in flight the
// chats that have it already, so a batch sent again after a failure or a
// restart reaches only the chats that did not get it (nothing twice per
// chat; a crash between Telegram's answer and that write can repeat it for
// that one chat).
//
// Threads: poll_updates() and deliver() on the notifier's thread (they
// block on the network, bounded by timeout_s); subscribers() and
// set_enabled() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "notify/notification_config.h"
#include "store/state_store.h"

namespace gridlet::notify {

struct TelegramSubscriber {
    int64_t chat_id = 0;
    std::string name;       // the person's name and @username, or the group's title
    int64_t since_ms = 0;   // when the password arrived
    bool enabled = true;    // false: disabled by an administrator, or the chat blocked the bot
    std::string note;       // why disabled, when it was not an administrator
};

nlohmann::json to_json(const TelegramSubscriber& s);

// The message split for Telegram's 4096-character limit, at line breaks
// where possible and never inside a UTF-8 sequence; each part at most
// `max_bytes` bytes.
std::vector<std::string> split_message(const std::string& text, size_t max_bytes = 4000);

// Reads the subscribers a notification has in the store (the CLI's view of
// a stopped or running site).
Expected<std::vector<TelegramSubscriber>> read_subscribers(const store::StateStore& state,
                                                           const std::string& notification);

// Enables or disables a subscriber in the store (a stopped site; a running
// one is asked through its control socket). Errors: not_found for a chat
// that is not subscribed; the store's.
Status write_subscriber_enabled(store::StateStore& state, const std::string& notification, int64_t chat_id,
                                bool enabled);

class TelegramBot {
public:
    TelegramBot(const NotificationConfig& n, store::StateStore& state, std::string site);

    // Reads subscribers and the update offset from the store.
    Status load();

    // Reads the bot's new messages and answers them (subscriptions). Errors:
    // the API unreachable or refusing the token (said by the caller).
    Status poll_updates(int64_t now_ms, const std::function<bool()>& cancel);
    int64_t next_updates_ms() const { return next_updates_ms_; }

    // Sends `text` (one message, split if long) to every enabled subscriber
    // that does not have batch `batch_id` yet. Ok once each has it. A chat
    // that blocked the bot or no longer exists is disabled (with a note) and
    // skipped. Errors: unavailable when no chat is subscribed, or a send
    // failed (the others are kept: a retry goes only to those missing).
    Status deliver(const std::string& batch_id, const std::string& text, const std::function<bool()>& cancel);

    // A sample message to every enabled subscriber, nothing stored (the
    // Legrand "Test" button); returns how many chats got it. Errors: none
    // enabled, or a send failed.
    Expected<size_t> send_test(const std::string& text, const std::function<bool()>& cancel);

    std::vector<TelegramSubscriber> subscribers() const;
    // Errors: not_found for a chat that never subscribed.
    Status set_enabled(int64_t chat_id, bool enabled);

private:
    struct ApiResult {
        bool ok = false;
        bool permanent = false;  // the chat is gone or blocked the bot (403, 400 chat not found)
        nlohmann::json result;
        std::string error;
    };
    ApiResult call(const std::string& method, const nlohmann::json* body, const std::function<bool()>& cancel) const;
    Status send_text(int64_t chat_id, const std::string& text, const std::function<bool()>& cancel, bool& permanent);
    void handle_message(const nlohmann::json& message, int64_t now_ms, const std::function<bool()>& cancel);
    Status save_subscribers();  // under mu_

    NotificationConfig n_;
    store::StateStore& state_;
    std::string site_;
    int64_t offset_ = 0;
    int64_t next_updates_ms_ = 0;
    int update_failures_ = 0;  // getUpdates failures in a row (backoff)
    struct Attempts {
        int wrong = 0;
        int64_t window_start_ms = 0;
    };
    std::map<int64_t, Attempts> attempts_;  // poll thread only; stored ("attempts"), so a restart keeps a lockout
    void save_attempts();
    mutable std::mutex mu_;                 // subscribers_
    std::map<int64_t, TelegramSubscriber> subscribers_;
};

}  // namespace gridlet::notify
