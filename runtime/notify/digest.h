// One message for a batch of alarm changes (a digest): the e-mail (subject,
// body, RFC 5322 text) and the webhook's JSON. Each batch has a stable id
// "<site>.<notification>.<first>-<last>" (outbox sequence numbers): a batch
// sent again after a failure or a restart carries the same id (e-mail
// Message-ID, webhook Idempotency-Key), so a receiver can drop a repeat.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alarm/alarm_table.h"
#include "core/timezone.h"
#include "notify/notification_config.h"

namespace gridlet::notify {

struct Change {
    std::string transition;  // raised, acknowledged, returned, reactivated, finished
    alarm::Alarm alarm;
};

struct Batch {
    std::string id;
    uint64_t first = 0, last = 0;  // outbox sequence numbers
    std::vector<Change> changes;
};

std::string batch_id(const std::string& site, const std::string& notification, uint64_t first, uint64_t last);

// An RFC 5322 date ("Wed, 02 Dec 2026 10:00:00 +0000") of UTC ms.
std::string rfc5322(int64_t ms);
// `s` with CR and LF as spaces: a name or message cannot add headers.
std::string header_safe(std::string s);

// "Subject" and the plain-text body: each alarm once (its changes in the
// window on one line: a chattering alarm is one entry), newest state last.
struct EmailText {
    std::string subject, body;
};
EmailText email_text(const std::string& site, const TimeZone& zone, const Batch& batch);
// The whole message (headers CRLF, body) for SMTP.
std::string email_message(const NotificationConfig& n, const std::string& site, const TimeZone& zone,
                          const Batch& batch, int64_t now_ms);
// {"id", "site", "notification", "changes": [{"transition", "alarm": {...}}]}
nlohmann::json webhook_body(const std::string& site, const NotificationConfig& n, const Batch& batch);

}  // namespace gridlet::notify
