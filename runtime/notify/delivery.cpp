#include "notify/delivery.h"

#include "notify/curl_support.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace gridlet::notify {

void init_delivery() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

using curl::Easy;
using curl::read_upload;
using curl::Upload;

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

constexpr size_t kMaxReplyBytes = 1 << 20;

size_t collect(char* data, size_t size, size_t n, void* user) {
    auto* out = static_cast<std::string*>(user);
    if (out->size() + size * n > kMaxReplyBytes) return 0;  // aborts the transfer
    out->append(data, size * n);
    return size * n;
}

void common(CURL* h, const NotificationConfig& n, const std::function<bool()>& cancel, char* errbuf) {
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(n.timeout_ms, 10'000)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(n.timeout_ms));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &curl::cancel_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::function<bool()>*>(&cancel));
    if (!n.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, n.ca_file.c_str());
}

Status result(CURLcode rc, const char* errbuf, const std::string& where) {
    if (rc == CURLE_OK) return Status::ok();
    std::string why = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
    if (rc == CURLE_LOGIN_DENIED) why += " (check username and the password in password_env)";
    return Status::unavailable(where + ": " + why);
}

}  // namespace

namespace {

// The SMTP server's last reply line (curl's error for a refusal is often
// only "Weird server reply"): kept by curl's debug callback.
int keep_reply(CURL*, curl_infotype type, char* data, size_t size, void* user) {
    if (type != CURLINFO_HEADER_IN) return 0;
    std::string line(data, size);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (!line.empty()) *static_cast<std::string*>(user) = line.substr(0, 300);
    return 0;
}

void watch_replies(CURL* h, std::string* last) {
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &keep_reply);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, last);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
}

// A failed SMTP transfer, with what the server said last when it was a refusal (4xx, 5xx).
Status smtp_result(CURLcode rc, const char* errbuf, const std::string& where, const std::string& last) {
    Status st = result(rc, errbuf, where);
    if (st || last.size() < 3 || (last[0] != '4' && last[0] != '5') || st.message().find(last) != std::string::npos)
        return st;
    // The server's refusal first, libcurl's view of it ("Weird server reply") after.
    const std::string curl_text = st.message().substr(std::min(st.message().size(), where.size() + 2));
    return Status(st.code(), where + ": the server refused: " + last + " (" + curl_text + ")");
}

using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

// The server, TLS, login, sender and recipients of an SMTP transfer; the
// recipient list must outlive the transfer.
SlistPtr smtp_session(CURL* h, const NotificationConfig& n, const std::vector<std::string>& to) {
    curl_easy_setopt(h, CURLOPT_URL, n.smtp_url.c_str());
    if (n.smtp_url.rfind("smtp://", 0) == 0) {
        curl_easy_setopt(h, CURLOPT_USE_SSL, n.starttls == "required" ? static_cast<long>(CURLUSESSL_ALL)
                                             : n.starttls == "try"    ? static_cast<long>(CURLUSESSL_TRY)
                                                                      : static_cast<long>(CURLUSESSL_NONE));
    }
    if (!n.username.empty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, n.username.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, n.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + n.from + ">").c_str());  // libcurl copies strings
    curl_slist* rcpt = nullptr;
    for (const std::string& a : to) rcpt = curl_slist_append(rcpt, ("<" + a + ">").c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    return SlistPtr(rcpt, &curl_slist_free_all);
}

}  // namespace

Status send_email(const NotificationConfig& n, const std::string& message, const std::function<bool()>& cancel) {
    init_delivery();
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e.h, n, cancel, errbuf);
    const SlistPtr rcpt = smtp_session(e.h, n, n.to);
    std::string last;
    watch_replies(e.h, &last);
    Upload up{&message};
    curl_easy_setopt(e.h, CURLOPT_READFUNCTION, &read_upload);
    curl_easy_setopt(e.h, CURLOPT_READDATA, &up);
    curl_easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
    const CURLcode rc = curl_easy_perform(e.h);
    return smtp_result(rc, errbuf, "SMTP " + n.smtp_url, last);
}

Status send_email_with_files(const NotificationConfig& n, const std::vector<std::string>& to,
                             const std::vector<std::string>& headers, const std::string& text,
                             const std::vector<Attachment>& files, const std::function<bool()>& cancel) {
    init_delivery();
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e.h, n, cancel, errbuf);
    const SlistPtr rcpt = smtp_session(e.h, n, to);
    std::string last;
    watch_replies(e.h, &last);
    curl_slist* head = nullptr;
    for (const std::string& h : headers) head = curl_slist_append(head, h.c_str());
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, head);
    curl_mime* mime = curl_mime_init(e.h);
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_data(part, text.data(), text.size());
    curl_mime_type(part, "text/plain; charset=utf-8");
    curl_mime_encoder(part, "quoted-printable");
    for (const Attachment& f : files) {
        part = curl_mime_addpart(mime);
        curl_mime_data(part, f.bytes ? f.bytes->data() : "", f.bytes ? f.bytes->size() : 0);
        curl_mime_filename(part, f.file_name.c_str());
        curl_mime_type(part, f.media_type.c_str());
        curl_mime_encoder(part, "base64");
    }
    curl_easy_setopt(e.h, CURLOPT_MIMEPOST, mime);
    const CURLcode rc = curl_easy_perform(e.h);
    curl_mime_free(mime);
    curl_slist_free_all(head);
    return smtp_result(rc, errbuf, "SMTP " + n.smtp_url, last);
}

Status post_webhook(const NotificationConfig& n, const std::string& json, const std::string& id,
                    const std::function<bool()>& cancel) {
    init_delivery();
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e.h, n, cancel, errbuf);
    curl_easy_setopt(e.h, CURLOPT_URL, n.url.c_str());
    curl_easy_setopt(e.h, CURLOPT_POST, 1L);
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, json.data());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, ("Idempotency-Key: " + id).c_str());
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, &discard);
    const CURLcode rc = curl_easy_perform(e.h);
    long code = 0;
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) return result(rc, errbuf, "webhook " + n.url);
    if (code < 200 || code >= 300) return Status::unavailable("webhook " + n.url + ": HTTP " + std::to_string(code));
    return Status::ok();
}

Expected<HttpReply> http_exchange(const NotificationConfig& n, const std::string& url, const std::string* json_body,
                                  const std::string& what, const std::function<bool()>& cancel) {
    init_delivery();
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e.h, n, cancel, errbuf);
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    curl_slist* headers = nullptr;
    if (json_body) {
        curl_easy_setopt(e.h, CURLOPT_POST, 1L);
        curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, json_body->data());
        curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body->size()));
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, headers);
    }
    HttpReply reply;
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &reply.body);
    const CURLcode rc = curl_easy_perform(e.h);
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &reply.code);
    curl_slist_free_all(headers);
    if (rc == CURLE_WRITE_ERROR) return Status::unavailable(what + ": the answer is larger than 1 MiB");
    // The error buffer may hold the URL (and so a token): say only the kind.
    if (rc != CURLE_OK) return Status::unavailable(what + ": " + curl_easy_strerror(rc));
    return reply;
}

}  // namespace gridlet::notify
