#include "notify/digest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "alarm/alarm.h"

namespace gridlet::notify {

std::string batch_id(const std::string& site, const std::string& notification, uint64_t first, uint64_t last) {
    return site + "." + notification + "." + std::to_string(first) + "-" + std::to_string(last);
}

namespace {
std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string number(double v) {
    if (!std::isfinite(v)) return "";
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}
// Text from names, messages and comments: a line break inside goes on,
// indented, on the next line (never a line of its own in the body).
std::string indent(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') continue;
        out += c;
        if (c == '\n') out += "     ";
    }
    return out;
}
}  // namespace

// RFC 5322 date.
std::string rfc5322(int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[64];
    std::strftime(b, sizeof b, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return b;
}
// No CR or LF in a header (a name or message cannot inject headers).
std::string header_safe(std::string s) {
    for (char& c : s)
        if (c == '\r' || c == '\n') c = ' ';
    return s;
}

EmailText email_text(const std::string& site, const TimeZone& zone, const Batch& batch) {
    // One entry per condition (alarm key), in order of its first change: an
    // alarm that chatters (raised, finished, raised again as a new alarm
    // within the window) is one entry listing all its changes.
    std::vector<std::string> order;
    std::map<std::string, std::vector<const Change*>> by_key;
    for (const Change& c : batch.changes) {
        const std::string k = c.alarm.key.empty() ? "#" + std::to_string(c.alarm.id) : c.alarm.key;
        if (!by_key.count(k)) order.push_back(k);
        by_key[k].push_back(&c);
    }
    EmailText t;
    const Change& first = batch.changes.front();
    const std::string crit = upper(alarm::criticality_name(first.alarm.criticality));
    t.subject = "[gridlet " + site + "] " + crit + " " + first.alarm.name + " " + first.transition + " (" +
                first.alarm.source + ")";
    if (order.size() > 1) t.subject += " and " + std::to_string(order.size() - 1) + " more alarm(s)";
    std::string& b = t.body;
    b = "Site " + site + ": " + std::to_string(batch.changes.size()) + " alarm change(s), " +
        std::to_string(order.size()) + " alarm(s).\n\n";
    for (const std::string& k : order) {
        const auto& changes = by_key[k];
        const alarm::Alarm& a = changes.back()->alarm;  // the latest state
        std::vector<uint64_t> unique_ids;
        for (const Change* c : changes)
            if (std::find(unique_ids.begin(), unique_ids.end(), c->alarm.id) == unique_ids.end())
                unique_ids.push_back(c->alarm.id);
        std::string ids;
        for (uint64_t id : unique_ids) ids += (ids.empty() ? "#" : " #") + std::to_string(id);
        b += ids + " " + a.name + " - " + alarm::criticality_name(a.criticality) + " - " + a.source +
             (a.series.empty() ? "" : " - " + a.series) + "\n";
        b += "   " + indent(a.message) + "\n";
        std::string seen;
        const bool several = unique_ids.size() > 1;
        for (const Change* c : changes) {
            const auto tr = alarm::parse_transition(c->transition);
            const int64_t at = tr ? alarm::transition_ms(*tr, c->alarm) : 0;
            seen += (seen.empty() ? "" : ", ") + c->transition + " " + zone.format_iso(at) +
                    (several ? " (#" + std::to_string(c->alarm.id) + ")" : "");
        }
        b += "   " + seen + "\n";
        // Where each alarm stands now (its latest change in the window).
        for (uint64_t id : unique_ids) {
            const alarm::Alarm* x = nullptr;
            for (const Change* c : changes)
                if (c->alarm.id == id) x = &c->alarm;
            b += "   now " + (several ? "#" + std::to_string(id) + " " : std::string()) +
                 alarm::alarm_status_name(x->status());
            if (std::isfinite(x->value_start)) b += ", value at start " + number(x->value_start);
            if (std::isfinite(x->value_extreme) && x->value_extreme != x->value_start)
                b += ", extreme " + number(x->value_extreme);
            if (x->ack)
                b += ", acknowledged by " + indent(x->ack->by) + (x->ack->comment.empty() ? "" : ": " + indent(x->ack->comment));
            b += "\n";
        }
        b += "\n";
    }
    b += "Notification " + batch.id + " (gridlet alarms --config <site file> lists the site's alarms)\n";
    return t;
}

std::string email_message(const NotificationConfig& n, const std::string& site, const TimeZone& zone,
                          const Batch& batch, int64_t now_ms) {
    const EmailText t = email_text(site, zone, batch);
    std::string to;
    for (const std::string& a : n.to) to += (to.empty() ? "" : ", ") + a;
    std::string m;
    m += "Date: " + rfc5322(now_ms) + "\r\n";
    m += "From: " + header_safe(n.from) + "\r\n";
    m += "To: " + header_safe(to) + "\r\n";
    m += "Message-ID: <" + header_safe(batch.id) + "@gridlet>\r\n";
    m += "Subject: " + header_safe(t.subject) + "\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += "Content-Type: text/plain; charset=utf-8\r\n";
    m += "Content-Transfer-Encoding: 8bit\r\n";
    m += "\r\n";
    // Body lines end in CRLF; a stray CR (from a name or message) is dropped.
    // (A line that is a lone "." is escaped by libcurl, RFC 5321 4.5.2.)
    std::string body;
    for (char c : t.body)
        if (c != '\r') body += c;
    size_t start = 0;
    while (start < body.size()) {
        size_t end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        m += body.substr(start, end - start) + "\r\n";
        start = end + 1;
    }
    return m;
}

nlohmann::json webhook_body(const std::string& site, const NotificationConfig& n, const Batch& batch) {
    nlohmann::json changes = nlohmann::json::array();
    for (const Change& c : batch.changes)
        changes.push_back({{"transition", c.transition}, {"alarm", alarm::to_json(c.alarm)}});
    return {{"id", batch.id}, {"site", site}, {"notification", n.name}, {"changes", std::move(changes)}};
}

}  // namespace gridlet::notify
