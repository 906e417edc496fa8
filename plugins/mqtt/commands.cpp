#include "commands.h"

#include <mosquitto.h>

#include <cmath>

#include <gridlet/glob.hpp>
#include <nlohmann/json.hpp>

namespace gridlet::mqtt {


bool command_allowed(const std::vector<std::string>& allow, const std::string& target) {
    for (const std::string& p : allow)
        if (gridlet::glob_match(p, target)) return true;
    return false;
}

std::optional<CommandRequest> parse_request(std::string_view payload, std::string* why, std::string* id_json,
                                            std::string* target) {
    *id_json = "null";
    if (payload.size() > 65'536) {
        *why = "the request is larger than 64 KB";
        return std::nullopt;
    }
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded()) {
        *why = "the request is not valid JSON (or holds a number out of range)";
        return std::nullopt;
    }
    if (!j.is_object()) {
        *why = "the request is not a JSON object";
        return std::nullopt;
    }
    if (j.contains("target") && j["target"].is_string() && target) *target = j["target"].get<std::string>().substr(0, 255);
    CommandRequest r;
    if (j.contains("id")) {
        if (!j["id"].is_string() && !j["id"].is_number()) {
            *why = "\"id\" must be a string or a number";
            return std::nullopt;
        }
        r.id_json = j["id"].dump();
        *id_json = r.id_json;
    }
    if (!j.contains("target") || !j["target"].is_string()) {
        *why = "\"target\" (\"device/point\") is missing";
        return std::nullopt;
    }
    r.target = j["target"].get<std::string>();
    if (r.target.find('/') == std::string::npos || r.target.size() > 255 ||
        r.target.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
            std::string::npos) {
        *why = "\"target\" must be a \"device/point\" name";
        return std::nullopt;
    }
    const bool has_value = j.contains("value"), has_text = j.contains("text");
    if (!has_value && !has_text) {
        *why = "a \"value\" (a number) or a \"text\" is needed";
        return std::nullopt;
    }
    if (has_value) {
        if (j["value"].is_boolean()) r.value = j["value"].get<bool>() ? 1 : 0;
        else if (j["value"].is_number() && std::isfinite(j["value"].get<double>())) r.value = j["value"].get<double>();
        else {
            *why = "\"value\" must be a finite number or a boolean";
            return std::nullopt;
        }
    }
    if (has_text) {
        if (!j["text"].is_string()) {
            *why = "\"text\" must be a string";
            return std::nullopt;
        }
        r.text = j["text"].get<std::string>();
    }
    return r;
}

std::string reply_payload(const std::string& id_json, const std::string& target, const char* status,
                          const std::string& error) {
    nlohmann::json j = {{"target", target}, {"status", status}, {"error", error}};
    j["id"] = nlohmann::json::parse(id_json, nullptr, false);
    if (j["id"].is_discarded()) j["id"] = nullptr;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void CommandQueue::reply(const CommandRequest& r, const char* status, const std::string& error) {
    std::lock_guard lock(mu_);
    replies_.push_back({r.reply_topic, r.correlation, reply_payload(r.id_json, r.target, status, error)});
}

void CommandQueue::submit(std::string_view payload, std::string response_topic, std::string correlation) {
    std::string why, id, target;
    auto r = parse_request(payload, &why, &id, &target);
    CommandRequest req = r ? *r : CommandRequest{};
    if (!r) {
        req.id_json = id;
        req.target = target;  // echoed when it could be read
    }
    // A response topic must be a topic name (no wildcard): else the default.
    if (!response_topic.empty() && mosquitto_pub_topic_check(response_topic.c_str()) != MOSQ_ERR_SUCCESS) {
        host_.warn("commands: the response topic '" + response_topic.substr(0, 200) +
                   "' is not a topic one can publish to (a wildcard?): the reply goes to " + topic_ + "/reply");
        response_topic.clear();
    }
    req.reply_topic = response_topic.empty() ? topic_ + "/reply" : std::move(response_topic);
    req.correlation = std::move(correlation);
    if (!r) {
        host_.warn("commands: invalid request on '" + topic_ + "': " + why);
        return reply(req, "invalid", why);
    }
    if (!command_allowed(settings_.allow, req.target)) {
        host_.warn("commands: '" + req.target + "' is not in commands.allow: refused");
        return reply(req, "refused", "'" + req.target + "' may not be written over MQTT (commands.allow)");
    }
    std::lock_guard lock(mu_);
    if (waiting_.size() >= 1000) {
        replies_.push_back({req.reply_topic, req.correlation,
                            reply_payload(req.id_json, req.target, "error", "too many commands waiting")});
        return;
    }
    waiting_.push_back(std::move(req));
}

void CommandQueue::drain() {
    std::deque<CommandRequest> now;
    {
        std::lock_guard lock(mu_);
        now.swap(waiting_);
    }
    for (CommandRequest& r : now) {
        auto shared = std::make_shared<CommandRequest>(std::move(r));
        host_.info("commands: " + shared->target + " <- " +
                   (shared->text.empty() ? std::to_string(shared->value) : shared->text) + " (over MQTT)");
        try {
            send(shared);
        } catch (const std::exception& e) {
            reply(*shared, "error", e.what());
        }
    }
}

void CommandQueue::send(const std::shared_ptr<CommandRequest>& shared) {
    host_.send_command(
        shared->target, shared->value, static_cast<uint32_t>(settings_.timeout_ms),
        [this, shared](const gridlet::CommandReply& rep) {
            const char* status = rep.status == GL_OK              ? "ok"
                                 : rep.status == GL_ERR_TIMEOUT   ? "timeout"
                                 : rep.status == GL_ERR_NOT_FOUND ? "not_found"
                                                                  : "error";
            reply(*shared, status, rep.status == GL_OK ? std::string() : rep.error);
        },
        shared->text.empty() ? nullptr : shared->text.c_str());
}

std::vector<MqttReply> CommandQueue::take_replies() {
    std::lock_guard lock(mu_);
    std::vector<MqttReply> out;
    out.swap(replies_);
    return out;
}

}  // namespace gridlet::mqtt
