#include "http/live_hub.h"

#include <gridlet/glob.hpp>
#include <gridlet/json_text.hpp>

#include <charconv>
#include <chrono>
#include <cmath>

namespace gridlet::http {

namespace {

using json_text::append_int;
using json_text::severity_name;

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    json_text::append_escaped(out, s);
    out += '"';
}

void append_number(std::string& out, double v) {
    if (std::isfinite(v)) json_text::append_double(out, v);
    else out += std::isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
}

}  // namespace

bool LiveClient::push(const std::string& text) {
    std::lock_guard g(mu_);
    if (closed_) return true;
    if (queued_.size() + text.size() > max_bytes_) {
        dropped_ = true;
        reason_ = "the client did not read fast enough: " + std::to_string(queued_.size()) +
                  " bytes waited (the bound is " + std::to_string(max_bytes_) + ")";
        closed_ = true;
        queued_.clear();
        cv_.notify_all();
        return false;
    }
    const bool was_empty = queued_.empty();
    queued_ += text;
    if (was_empty) cv_.notify_all();
    return true;
}

void LiveClient::close() {
    std::lock_guard g(mu_);
    closed_ = true;
    cv_.notify_all();
}

std::string LiveClient::drop_reason() const {
    std::lock_guard g(mu_);
    return reason_;
}

bool LiveClient::next(std::string& out, int64_t wait_ms) {
    std::unique_lock g(mu_);
    cv_.wait_for(g, std::chrono::milliseconds(wait_ms), [&] { return closed_ || !queued_.empty(); });
    out.clear();
    if (closed_) return false;
    out.swap(queued_);
    return true;
}

std::shared_ptr<LiveClient> LiveHub::add(std::vector<std::string> series, std::vector<std::string> events,
                                         size_t max_bytes, bool audit) {
    auto c = std::make_shared<LiveClient>(std::move(series), std::move(events), max_bytes, audit);
    std::lock_guard g(mu_);
    clients_.push_back(c);
    wanted_ = true;
    return c;
}

void LiveHub::remove(const std::shared_ptr<LiveClient>& c) {
    std::lock_guard g(mu_);
    std::erase(clients_, c);
}

void LiveHub::close_all() {
    std::lock_guard g(mu_);
    for (auto& c : clients_) c->close();
}

size_t LiveHub::clients() const {
    std::lock_guard g(mu_);
    return clients_.size();
}

const std::string& LiveHub::name_of(uint32_t id) {
    if (id >= names_.size()) names_.resize(id + 1);
    if (names_[id].empty()) names_[id] = series_name_(id);
    return names_[id];
}

void LiveHub::on_samples(const gl_sample* samples, size_t n) {
    std::vector<std::shared_ptr<LiveClient>> clients;
    {
        std::lock_guard g(mu_);
        if (clients_.empty()) return;
        clients = clients_;
    }
    // Each sample's text is made once, for every client that wants it; each
    // client gets one push for the whole batch.
    std::vector<std::string> texts(n);
    std::string batch;
    for (auto& c : clients) {
        if (c->series_.empty()) continue;
        batch.clear();
        size_t items = 0;
        for (size_t i = 0; i < n; ++i) {
            const uint32_t id = samples[i].series_id;
            if (id >= c->matches_.size()) c->matches_.resize(id + 1, 0);
            uint8_t& m = c->matches_[id];
            if (m == 0) {
                const std::string& name = name_of(id);
                m = 1;
                for (const std::string& p : c->series_)
                    if (!name.empty() && glob_match(p, name)) m = 2;
            }
            if (m != 2) continue;
            std::string& t = texts[i];
            if (t.empty()) {
                t = "event: sample\ndata: {\"series\":";
                append_json_string(t, name_of(id));
                t += ",\"ts\":";
                append_int(t, samples[i].ts_ms);
                t += ",\"value\":";
                append_number(t, samples[i].value);
                t += ",\"quality\":";
                append_int(t, samples[i].quality);
                t += "}\n\n";
            }
            batch += t;
            ++items;
        }
        if (batch.empty()) continue;
        if (c->push(batch)) items_ += items;
        else ++dropped_clients_;
    }
}

void LiveHub::on_event(const gl_event& e) {
    std::vector<std::shared_ptr<LiveClient>> clients;
    {
        std::lock_guard g(mu_);
        if (clients_.empty()) return;
        clients = clients_;
    }
    const std::string name = std::string(e.source ? e.source : "") + "/" + (e.type ? e.type : "");
    std::string text;
    for (auto& c : clients) {
        bool wanted = false;
        for (const std::string& p : c->events_) wanted = wanted || glob_match(p, name);
        if (!c->audit_ && e.type && std::string_view(e.type) == "audit") wanted = false;
        if (!wanted) continue;
        if (text.empty()) {
            text = "event: event\ndata: {\"ts\":";
            append_int(text, e.ts_ms);
            text += ",\"source\":";
            append_json_string(text, e.source ? e.source : "");
            text += ",\"type\":";
            append_json_string(text, e.type ? e.type : "");
            text += ",\"severity\":\"";
            text += severity_name(e.severity);
            text += "\",\"body\":";
            // One data line: a raw line break of a body (JSON whitespace,
            // never inside a valid string) becomes a space.
            if (e.body_json && e.body_len)
                for (size_t i = 0; i < e.body_len; ++i)
                    text += e.body_json[i] == '\n' || e.body_json[i] == '\r' ? ' ' : e.body_json[i];
            else
                text += "{}";
            text += "}\n\n";
        }
        if (c->push(text)) ++items_;
        else ++dropped_clients_;
    }
}

}  // namespace gridlet::http
