// Delivering one message with libcurl: SMTP (STARTTLS or SMTPS, optional
// login) and HTTP(S) POST. Blocking, bounded by the notification's timeout;
// `cancel` (polled about every second) aborts a transfer (gridlet
// stopping). Call curl_global_init once per process first
// (init_delivery()). Any thread; one transfer per call.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "notify/notification_config.h"

namespace gridlet::notify {

void init_delivery();

// An HTTP(S) exchange whose answer matters (the Telegram Bot API): any
// status code is a reply; transport errors (connect, TLS, timeout, an answer
// above 1 MiB) are unavailable. `what` names the server in errors (a URL
// that carries a secret, like a bot token, is never printed).
struct HttpReply {
    long code = 0;
    std::string body;
};
Expected<HttpReply> http_exchange(const NotificationConfig& n, const std::string& url, const std::string* json_body,
                                  const std::string& what, const std::function<bool()>& cancel);

// Sends `message` (RFC 5322, CRLF) from n.from to n.to. Errors say which
// server and what it answered (unavailable: try again later; invalid: the
// server refused the message or the login).
Status send_email(const NotificationConfig& n, const std::string& message, const std::function<bool()>& cancel);

// One e-mail with a text part and files attached, the MIME message built
// by libcurl (attachments base64-encoded, RFC 2045): from n.from to `to`
// through n's SMTP server and login. `headers` are whole header lines
// ("Subject: ...", "Message-ID: <...>"; no CR or LF inside). Errors: as
// send_email.
struct Attachment {
    std::string file_name, media_type;
    const std::string* bytes = nullptr;
};
Status send_email_with_files(const NotificationConfig& n, const std::vector<std::string>& to,
                             const std::vector<std::string>& headers, const std::string& text,
                             const std::vector<Attachment>& files, const std::function<bool()>& cancel);

// POSTs `json` to n.url with Content-Type application/json and
// Idempotency-Key: `id`; a 2xx answer is success.
Status post_webhook(const NotificationConfig& n, const std::string& json, const std::string& id,
                    const std::function<bool()>& cancel);

}  // namespace gridlet::notify
