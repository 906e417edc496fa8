#include "notify/telegram.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "core/text.h"
#include "notify/delivery.h"

namespace gridlet::notify {

namespace {

constexpr int kWrongPasswordsPerHour = 5;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kMinuteMs = 60'000;

std::string key(const std::string& notification, const std::string& what) {
    return notification + "/telegram/" + what;
}

// Compares without stopping at the first difference (no timing hint).
bool same_secret(const std::string& given, const std::string& secret) {
    if (secret.empty()) return false;
    unsigned char diff = given.size() == secret.size() ? 0 : 1;
    for (size_t i = 0; i < given.size(); ++i)
        diff |= static_cast<unsigned char>(given[i] ^ secret[i % secret.size()]);
    return diff == 0;
}

std::string trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    const size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string chat_name(const nlohmann::json& message) {
    const nlohmann::json chat = message.value("chat", nlohmann::json::object());
    if (chat.contains("title") && chat["title"].is_string()) return chat["title"].get<std::string>();
    const nlohmann::json from = message.value("from", nlohmann::json::object());
    std::string name = from.value("first_name", "");
    const std::string last = from.value("last_name", "");
    if (!last.empty()) name += (name.empty() ? "" : " ") + last;
    const std::string user = from.value("username", "");
    if (!user.empty()) name += (name.empty() ? "@" : " @") + user;
    return name;
}

TelegramSubscriber subscriber_from_json(const nlohmann::json& j) {
    TelegramSubscriber s;
    s.chat_id = j.value("chat_id", int64_t{0});
    s.name = j.value("name", "");
    s.since_ms = j.value("since_ms", int64_t{0});
    s.enabled = j.value("enabled", true);
    s.note = j.value("note", "");
    return s;
}

}  // namespace

nlohmann::json to_json(const TelegramSubscriber& s) {
    nlohmann::json j = {{"chat_id", s.chat_id}, {"name", s.name}, {"since_ms", s.since_ms}, {"enabled", s.enabled}};
    if (!s.note.empty()) j["note"] = s.note;
    return j;
}

std::vector<std::string> split_message(const std::string& text, size_t max_bytes) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < text.size()) {
        if (text.size() - start <= max_bytes) {
            parts.push_back(text.substr(start));
            break;
        }
        size_t cut = text.rfind('\n', start + max_bytes - 1);
        if (cut == std::string::npos || cut <= start) {
            cut = start + max_bytes;
            // Not inside a UTF-8 sequence: back off continuation bytes.
            while (cut > start + 1 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        } else {
            ++cut;  // keep the line break with its line
        }
        parts.push_back(text.substr(start, cut - start));
        start = cut;
    }
    return parts;
}

Expected<std::vector<TelegramSubscriber>> read_subscribers(const store::StateStore& state,
                                                           const std::string& notification) {
    auto v = state.get(kNotifyStateNamespace, key(notification, "subscribers"));
    if (!v) return v.status();
    std::vector<TelegramSubscriber> out;
    if (!*v) return out;
    auto j = nlohmann::json::parse(**v, nullptr, false);
    if (!j.is_array()) return Status::corruption("telegram subscribers of '" + notification + "' do not decode");
    for (const auto& e : j)
        if (e.is_object()) out.push_back(subscriber_from_json(e));
    return out;
}

Status write_subscriber_enabled(store::StateStore& state, const std::string& notification, int64_t chat_id,
                                bool enabled) {
    auto subs = read_subscribers(state, notification);
    if (!subs) return subs.status();
    nlohmann::json j = nlohmann::json::array();
    bool found = false;
    for (TelegramSubscriber& s : *subs) {
        if (s.chat_id == chat_id) {
            found = true;
            s.enabled = enabled;
            s.note = enabled ? "" : "disabled by an administrator";
        }
        j.push_back(to_json(s));
    }
    if (!found)
        return Status::not_found("chat " + std::to_string(chat_id) + " is not subscribed to '" + notification + "'");
    return state.put(kNotifyStateNamespace, key(notification, "subscribers"), dump_json(j));
}

TelegramBot::TelegramBot(const NotificationConfig& n, store::StateStore& state, std::string site)
    : n_(n), state_(state), site_(std::move(site)) {}

Status TelegramBot::load() {
    auto subs = read_subscribers(state_, n_.name);
    if (!subs) return subs.status();
    auto offset = state_.get(kNotifyStateNamespace, key(n_.name, "offset"));
    if (!offset) return offset.status();
    std::lock_guard lock(mu_);
    subscribers_.clear();
    for (TelegramSubscriber& s : *subs) subscribers_[s.chat_id] = std::move(s);
    offset_ = *offset ? std::strtoll((*offset)->c_str(), nullptr, 10) : 0;
    attempts_.clear();
    if (auto stored = state_.get(kNotifyStateNamespace, key(n_.name, "attempts")); stored && *stored) {
        auto j = nlohmann::json::parse(**stored, nullptr, false);
        if (j.is_array())
            for (const auto& e : j)
                if (e.is_object() && e.contains("chat_id") && e["chat_id"].is_number_integer())
                    attempts_[e["chat_id"].get<int64_t>()] = Attempts{e.value("wrong", 0), e.value("since_ms", int64_t{0})};
    }
    return Status::ok();
}

void TelegramBot::save_attempts() {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [chat, a] : attempts_)
        j.push_back({{"chat_id", chat}, {"wrong", a.wrong}, {"since_ms", a.window_start_ms}});
    if (Status st = state_.put(kNotifyStateNamespace, key(n_.name, "attempts"), dump_json(j)); !st)
        spdlog::error("telegram '{}': wrong-password counts not stored: {}", n_.name, st.message());
}

Status TelegramBot::save_subscribers() {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [id, s] : subscribers_) j.push_back(to_json(s));
    return state_.put(kNotifyStateNamespace, key(n_.name, "subscribers"), dump_json(j));
}

TelegramBot::ApiResult TelegramBot::call(const std::string& method, const nlohmann::json* body,
                                         const std::function<bool()>& cancel) const {
    ApiResult r;
    const std::string what = "Telegram " + n_.api_url + " " + method;
    const std::string payload = body ? dump_json(*body) : std::string();
    auto reply = http_exchange(n_, n_.api_url + "/bot" + n_.token + "/" + method, body ? &payload : nullptr, what,
                               cancel);
    if (!reply) {
        r.error = reply.status().message();
        return r;
    }
    auto j = nlohmann::json::parse(reply->body, nullptr, false);
    if (!j.is_object()) {
        r.error = what + ": HTTP " + std::to_string(reply->code) + ", an answer that is not the Bot API's JSON";
        return r;
    }
    // The server's answer is read field by field, whatever their types.
    const auto ok = j.find("ok");
    if (ok != j.end() && ok->is_boolean() && ok->get<bool>() && reply->code >= 200 && reply->code < 300) {
        r.ok = true;
        if (auto res = j.find("result"); res != j.end()) r.result = *res;
        return r;
    }
    const auto d = j.find("description");
    std::string description = d != j.end() && d->is_string() ? d->get<std::string>().substr(0, 200) : "";
    for (char& c : description)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    r.error = what + ": HTTP " + std::to_string(reply->code) + (description.empty() ? "" : " " + description);
    if (reply->code == 401) r.error += " (the bot's token was refused: check token_env)";
    if (j.contains("parameters") && j["parameters"].is_object() && j["parameters"].contains("retry_after"))
        r.error += " (retry after " + j["parameters"]["retry_after"].dump() + " s)";
    r.permanent = reply->code == 403 || (reply->code == 400 && description.find("chat not found") != std::string::npos);
    return r;
}

Status TelegramBot::send_text(int64_t chat_id, const std::string& text, const std::function<bool()>& cancel,
                              bool& permanent) {
    const std::vector<std::string> parts = split_message(text);
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string part =
            parts.size() > 1 ? "(" + std::to_string(i + 1) + "/" + std::to_string(parts.size()) + ") " + parts[i]
                             : parts[i];
        nlohmann::json body = {{"chat_id", chat_id}, {"text", part}, {"disable_web_page_preview", true}};
        ApiResult r = call("sendMessage", &body, cancel);
        if (!r.ok) {
            permanent = r.permanent;
            return Status::unavailable(r.error);
        }
    }
    permanent = false;
    return Status::ok();
}

void TelegramBot::handle_message(const nlohmann::json& m, int64_t now_ms, const std::function<bool()>& cancel) {
    if (!m.contains("chat") || !m["chat"].is_object() || !m["chat"].contains("id") ||
        !m["chat"]["id"].is_number_integer())
        return;
    const int64_t chat = m["chat"]["id"].get<int64_t>();
    if (!m.contains("text") || !m["text"].is_string()) return;  // photos, stickers, joins: nothing to answer
    const std::string text = trim(m["text"].get<std::string>());
    bool subscribed = false, enabled = false;
    {
        std::lock_guard lock(mu_);
        auto it = subscribers_.find(chat);
        subscribed = it != subscribers_.end();
        enabled = subscribed && it->second.enabled;
    }
    if (!subscribed) {
        // Hours-old counts are dropped, so the list stays short; a chat
        // locked out by wrong passwords gets no answer at all.
        for (auto it = attempts_.begin(); it != attempts_.end();)
            it = now_ms - it->second.window_start_ms >= kHourMs ? attempts_.erase(it) : std::next(it);
        if (auto it = attempts_.find(chat); it != attempts_.end() && it->second.wrong >= kWrongPasswordsPerHour) return;
    }
    std::string answer;
    bool delete_message = false;
    if (text == "/stop") {
        std::lock_guard lock(mu_);
        if (subscribers_.erase(chat)) {
            if (Status st = save_subscribers(); !st) spdlog::error("telegram '{}': {}", n_.name, st.message());
            spdlog::info("telegram '{}': chat {} unsubscribed", n_.name, chat);
            answer = "Unsubscribed: no more alarms of site " + site_ + " here.";
        } else {
            answer = "This chat is not subscribed.";
        }
    } else if (!subscribed && !text.empty() && text[0] != '/') {
        Attempts& a = attempts_[chat];
        if (a.window_start_ms == 0) a.window_start_ms = now_ms;
        if (same_secret(text, n_.subscribe_password)) {
            attempts_.erase(chat);
            save_attempts();
            TelegramSubscriber s;
            s.chat_id = chat;
            s.name = chat_name(m);
            s.since_ms = now_ms;
            std::lock_guard lock(mu_);
            subscribers_[chat] = s;
            if (Status st = save_subscribers(); !st) {
                spdlog::error("telegram '{}': subscription of chat {} not stored: {}", n_.name, chat, st.message());
                subscribers_.erase(chat);
                answer = "The gateway could not store your subscription now; please send the password again later.";
            } else {
                spdlog::info("telegram '{}': chat {} ({}) subscribed", n_.name, chat, s.name);
                answer = "Subscribed to the alarms of site " + site_ + ". Send /stop to unsubscribe.";
                delete_message = true;
            }
        } else {
            ++a.wrong;
            save_attempts();
            spdlog::warn("telegram '{}': wrong subscription password from chat {} ({} of {} this hour)", n_.name, chat,
                         a.wrong, kWrongPasswordsPerHour);
            answer = a.wrong >= kWrongPasswordsPerHour
                         ? "Wrong password. Too many attempts: this chat is ignored for an hour."
                         : "This bot sends the alarms of site " + site_ + "; that is not its subscription password (" +
                               std::to_string(a.wrong) + " of " + std::to_string(kWrongPasswordsPerHour) +
                               " attempts this hour).";
        }
    } else if (subscribed) {
        answer = enabled ? "This chat receives the alarms of site " + site_ + ". Send /stop to unsubscribe."
                         : "This chat is subscribed to site " + site_ +
                               ", but disabled by the site's administrator. Send /stop to unsubscribe.";
    } else {
        answer = "This bot sends the alarms of site " + site_ + ". Send the subscription password to subscribe.";
    }
    bool permanent = false;
    if (Status st = send_text(chat, answer, cancel, permanent); !st)
        spdlog::warn("telegram '{}': no answer to chat {}: {}", n_.name, chat, st.message());
    if (delete_message && m.contains("message_id")) {
        // The password should not stay in the chat's history.
        nlohmann::json body = {{"chat_id", chat}, {"message_id", m["message_id"]}};
        ApiResult r = call("deleteMessage", &body, cancel);
        if (!r.ok) spdlog::info("telegram '{}': the password message stays in chat {}: {}", n_.name, chat, r.error);
    }
}

Status TelegramBot::poll_updates(int64_t now_ms, const std::function<bool()>& cancel) {
    next_updates_ms_ = now_ms + n_.updates_every_ms;
    nlohmann::json body = {{"offset", offset_}, {"timeout", 0}, {"allowed_updates", {"message"}}};
    ApiResult r = call("getUpdates", &body, cancel);
    if (!r.ok) {
        // An API that does not answer is asked less often (up to once a
        // minute), so its timeouts do not hold up the other notifications.
        update_failures_ = std::min(update_failures_ + 1, 16);
        next_updates_ms_ = now_ms + std::min<int64_t>(kMinuteMs, n_.updates_every_ms << std::min(update_failures_, 6));
        return Status::unavailable(r.error);
    }
    update_failures_ = 0;
    if (!r.result.is_array()) return Status::unavailable("Telegram getUpdates: no list of updates in the answer");
    int64_t next = offset_;
    for (const auto& u : r.result) {
        if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer()) continue;
        next = std::max(next, u["update_id"].get<int64_t>() + 1);
        if (!u.contains("message") || !u["message"].is_object()) continue;
        try {
            handle_message(u["message"], now_ms, cancel);
        } catch (const nlohmann::json::exception& e) {
            // A message whose fields have unexpected types: skipped, said.
            spdlog::warn("telegram '{}': update {} skipped: {}", n_.name, u["update_id"].get<int64_t>(), e.what());
        }
    }
    if (next != offset_) {
        offset_ = next;
        // Handled again after a crash before this write: subscribing twice is harmless.
        if (Status st = state_.put(kNotifyStateNamespace, key(n_.name, "offset"), std::to_string(offset_)); !st)
            return st;
    }
    return Status::ok();
}

Status TelegramBot::deliver(const std::string& batch_id, const std::string& text,
                            const std::function<bool()>& cancel) {
    const std::string sent_key = key(n_.name, "sent/" + batch_id);
    std::vector<int64_t> have;
    if (auto v = state_.get(kNotifyStateNamespace, sent_key); v && *v) {
        auto j = nlohmann::json::parse(**v, nullptr, false);
        if (j.is_array())
            for (const auto& e : j)
                if (e.is_number_integer()) have.push_back(e.get<int64_t>());
    }
    std::vector<int64_t> to;
    for (const TelegramSubscriber& s : subscribers())
        if (s.enabled && std::find(have.begin(), have.end(), s.chat_id) == have.end()) to.push_back(s.chat_id);
    if (to.empty() && have.empty())
        return Status::unavailable("no Telegram chat is subscribed and enabled (send the subscription password to the "
                                   "bot; `gridlet notify subscribers` lists the chats)");
    Status first_error = Status::ok();
    for (int64_t chat : to) {
        bool permanent = false;
        Status st = send_text(chat, text, cancel, permanent);
        if (st) {
            have.push_back(chat);
            if (Status w = state_.put(kNotifyStateNamespace, sent_key, dump_json(nlohmann::json(have))); !w) return w;
            continue;
        }
        if (permanent) {
            spdlog::warn("telegram '{}': chat {} is disabled: {}", n_.name, chat, st.message());
            std::lock_guard lock(mu_);
            auto it = subscribers_.find(chat);
            if (it != subscribers_.end()) {
                it->second.enabled = false;
                it->second.note = st.message();
                (void)save_subscribers();
            }
            continue;
        }
        if (first_error) first_error = st;
    }
    if (!first_error) return first_error;
    if (have.empty())
        return Status::unavailable("no subscribed Telegram chat could receive it (each blocked the bot or is gone)");
    (void)state_.erase(kNotifyStateNamespace, sent_key);
    return Status::ok();
}

Expected<size_t> TelegramBot::send_test(const std::string& text, const std::function<bool()>& cancel) {
    size_t sent = 0;
    Status first_error = Status::ok();
    for (const TelegramSubscriber& s : subscribers()) {
        if (!s.enabled) continue;
        bool permanent = false;
        Status st = send_text(s.chat_id, text, cancel, permanent);
        if (st) ++sent;
        else if (first_error) first_error = Status::unavailable("chat " + std::to_string(s.chat_id) + ": " + st.message());
    }
    if (!first_error) return first_error;
    if (sent == 0)
        return Status::unavailable(subscribers().empty() ? "no Telegram chat is subscribed"
                                                         : "no enabled Telegram chat (every subscriber is disabled)");
    return sent;
}

std::vector<TelegramSubscriber> TelegramBot::subscribers() const {
    std::lock_guard lock(mu_);
    std::vector<TelegramSubscriber> out;
    for (const auto& [id, s] : subscribers_) out.push_back(s);
    return out;
}

Status TelegramBot::set_enabled(int64_t chat_id, bool enabled) {
    std::lock_guard lock(mu_);
    auto it = subscribers_.find(chat_id);
    if (it == subscribers_.end())
        return Status::not_found("chat " + std::to_string(chat_id) + " is not subscribed to '" + n_.name + "'");
    it->second.enabled = enabled;
    it->second.note = enabled ? "" : "disabled by an administrator";
    return save_subscribers();
}

}  // namespace gridlet::notify
