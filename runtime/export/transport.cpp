#include "export/transport.h"

#include <curl/curl.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "notify/curl_support.h"
#include "notify/delivery.h"
#include "notify/digest.h"

namespace gridlet::exporter {

namespace {

using notify::curl::Easy;
using notify::curl::read_upload;
using notify::curl::Upload;

constexpr size_t kMaxReplyBytes = 64 * 1024;

size_t keep_reply(char* data, size_t size, size_t n, void* user) {
    auto* out = static_cast<std::string*>(user);
    const size_t room = kMaxReplyBytes > out->size() ? kMaxReplyBytes - out->size() : 0;
    out->append(data, std::min(room, size * n));
    return size * n;
}

std::string escape(CURL* h, const std::string& s) {
    char* e = curl_easy_escape(h, s.c_str(), static_cast<int>(s.size()));
    std::string out = e ? e : s;
    curl_free(e);
    return out;
}

// The folder of an SFTP URL as SFTP commands name it: "/~/dir/" is
// relative to the home folder ("dir/"), anything else absolute.
std::string sftp_folder(CURL* h, const TargetConfig& t) {
    const size_t host_end = t.url.find('/', t.url.find("://") + 3);
    std::string path = t.url.substr(host_end);
    int len = 0;
    char* raw = curl_easy_unescape(h, path.c_str(), static_cast<int>(path.size()), &len);
    if (raw) path.assign(raw, static_cast<size_t>(len));
    curl_free(raw);
    if (path.rfind("/~/", 0) == 0) return path.substr(3);
    return path;
}

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

// The options every transfer of a target shares: login, TLS trust, host
// key, timeouts, cancel.
void common(Easy& e, const TargetConfig& t, const std::function<bool()>& cancel, char* errbuf) {
    CURL* h = e.h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(t.timeout_ms));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &notify::curl::cancel_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::function<bool()>*>(&cancel));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocol_name(t.protocol));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (!t.username.empty()) curl_easy_setopt(h, CURLOPT_USERNAME, t.username.c_str());
    if (!t.password.empty()) curl_easy_setopt(h, CURLOPT_PASSWORD, t.password.c_str());
    if (!t.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, t.ca_file.c_str());
    if (!t.pinned_key.empty()) curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, t.pinned_key.c_str());
    switch (t.protocol) {
        case Protocol::ftp:
            curl_easy_setopt(h, CURLOPT_USE_SSL, t.explicit_tls ? static_cast<long>(CURLUSESSL_ALL)
                                                                : static_cast<long>(CURLUSESSL_NONE));
            [[fallthrough]];
        case Protocol::ftps:
            curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR_RETRY));
            break;
        case Protocol::sftp: {
            long auth = 0;
            if (!t.key_file.empty()) {
                auth |= CURLSSH_AUTH_PUBLICKEY;
                curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, t.key_file.c_str());
                if (!t.key_passphrase.empty()) curl_easy_setopt(h, CURLOPT_KEYPASSWD, t.key_passphrase.c_str());
            }
            if (!t.password.empty()) auth |= CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD;
            curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, auth);
            if (!t.host_key_sha256.empty())
                curl_easy_setopt(h, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, t.host_key_sha256.c_str());
            if (!t.known_hosts.empty()) curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, t.known_hosts.c_str());
            curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR_RETRY));
            break;
        }
        case Protocol::http:
        case Protocol::https:
        case Protocol::email: break;
    }
}

Status failure(const TargetConfig& t, CURLcode rc, const char* errbuf) {
    std::string why = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
    if (rc == CURLE_LOGIN_DENIED || (rc == CURLE_REMOTE_ACCESS_DENIED && t.protocol == Protocol::sftp))
        why += !t.key_file.empty() ? " (check username, key_file and the passphrase in key_passphrase_env)"
                                   : " (check username and the password in password_env)";
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
        why += t.protocol == Protocol::sftp
                   ? " (the server's host key is not the one in host_key_sha256 / known_hosts)"
                   : " (the server's certificate is not trusted: set ca_file to its CA, or pinned_key to its key)";
    if (rc == CURLE_SSL_CONNECT_ERROR && t.protocol == Protocol::ftps)
        why += " (an ftps:// server speaks TLS from its first byte; one that expects AUTH TLS is ftp:// with "
               "tls = \"explicit\")";
    if (rc == CURLE_USE_SSL_FAILED) why += " (the server offers no TLS: set tls = \"none\" to send in clear text)";
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) why += " (the server's key is not pinned_key)";
    return Status::unavailable("target '" + t.name + "' (" + t.url + "): " + why);
}

Status check_file_name(const std::string& name) {
    if (name.empty() || name == "." || name == "..") return Status::invalid("an empty file name");
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"')
            return Status::invalid("the file name '" + name + "' has a '/', '\\', '\"' or a control character");
    return Status::ok();
}

// One transfer: `bytes` to `name` in the target's folder (HTTP PUT: the URL
// plus the name; POST: the URL). `final_name` non-empty: FTP and SFTP
// rename the upload to it afterwards; `remove`: they delete it instead.
Status transfer(const TargetConfig& t, const std::string& name, const std::string& bytes,
                const std::vector<std::string>& http_headers, const std::string& final_name, bool remove,
                const std::function<bool()>& cancel) {
    notify::init_delivery();
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e, t, cancel, errbuf);
    const bool web = t.protocol == Protocol::http || t.protocol == Protocol::https;
    const std::string url = web && t.post ? t.url : t.url + escape(e.h, name);
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    Upload up{&bytes};
    std::string reply;
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, &keep_reply);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &reply);
    if (web) {
        for (const std::string& hd : http_headers) e.headers = curl_slist_append(e.headers, hd.c_str());
        e.headers = curl_slist_append(e.headers, "Expect:");
        curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
        if (t.post) {
            curl_easy_setopt(e.h, CURLOPT_POST, 1L);
            curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, bytes.data());
            curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
        }
    }
    if (!(web && t.post)) {
        curl_easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e.h, CURLOPT_READFUNCTION, &read_upload);
        curl_easy_setopt(e.h, CURLOPT_READDATA, &up);
        curl_easy_setopt(e.h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    }
    // After the upload, on the server: the rename of the complete file over
    // an older one, or the deletion of a test file. A command prefixed with
    // '*' may fail (no older file to delete).
    if (t.protocol == Protocol::ftp || t.protocol == Protocol::ftps) {
        if (remove) e.quote = curl_slist_append(e.quote, ("DELE " + name).c_str());
        if (!final_name.empty()) {
            e.quote = curl_slist_append(e.quote, ("*DELE " + final_name).c_str());
            e.quote = curl_slist_append(e.quote, ("RNFR " + name).c_str());
            e.quote = curl_slist_append(e.quote, ("RNTO " + final_name).c_str());
        }
    } else if (t.protocol == Protocol::sftp) {
        const std::string folder = sftp_folder(e.h, t);
        if (remove) e.quote = curl_slist_append(e.quote, ("rm " + quoted(folder + name)).c_str());
        if (!final_name.empty()) {
            e.quote = curl_slist_append(e.quote, ("*rm " + quoted(folder + final_name)).c_str());
            e.quote = curl_slist_append(e.quote,
                                        ("rename " + quoted(folder + name) + " " + quoted(folder + final_name)).c_str());
        }
    }
    if (e.quote) curl_easy_setopt(e.h, CURLOPT_POSTQUOTE, e.quote);
    const CURLcode rc = curl_easy_perform(e.h);
    if (rc != CURLE_OK) return failure(t, rc, errbuf);
    if (web) {
        long code = 0;
        curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code >= 300) {
            std::string body = reply.substr(0, 200);
            for (char& c : body)
                if (static_cast<unsigned char>(c) < 0x20) c = ' ';
            return Status::unavailable("target '" + t.name + "' (" + url + "): HTTP " + std::to_string(code) +
                                       (body.empty() ? "" : ": " + body));
        }
    }
    return Status::ok();
}

// The media type of a file, by its name's extension.
std::string content_type(const std::string& name) {
    const size_t dot = name.rfind('.');
    std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == "csv") return "text/csv; charset=utf-8";
    if (ext == "json") return "application/json";
    if (ext == "txt") return "text/plain; charset=utf-8";
    if (ext == "pdf") return "application/pdf";
    if (ext == "zip") return "application/zip";
    return "application/octet-stream";
}

std::vector<std::string> headers_for(const std::string& name, const std::string& key) {
    return {"Content-Type: " + content_type(name), "X-Gridlet-File: " + name, "Idempotency-Key: " + key,
            "Content-Disposition: attachment; filename=\"" + name + "\""};
}

// An e-mail with `file_name` attached (an e-mail target). The Message-ID
// comes from `key`, the same on every attempt of one file.
Status email_file(const TargetConfig& t, const std::string& subject, const std::string& text,
                  const std::string& file_name, const std::string& bytes, const std::string& key,
                  const std::function<bool()>& cancel) {
    std::string id;
    for (char c : key + "." + t.site) id += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '.';
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    std::string to;
    for (const std::string& a : t.to) to += (to.empty() ? "" : ", ") + a;
    const std::vector<std::string> headers = {"Date: " + notify::rfc5322(now_ms), "From: " + notify::header_safe(t.smtp.from),
                                              "To: " + notify::header_safe(to), "Message-ID: <" + id + "@gridlet>",
                                              "Subject: " + notify::header_safe(subject)};
    const std::vector<notify::Attachment> files = {{file_name, content_type(file_name), &bytes}};
    Status st = notify::send_email_with_files(t.smtp, t.to, headers, text, files, cancel);
    if (!st) return Status(st.code(), "target '" + t.name + "' (e-mail through [[notifications]] '" + t.email + "'): " + st.message());
    return st;
}

// Keeps a download while it is no longer than `limit`; a longer one stops
// the transfer (it cannot be the same file).
struct Bounded {
    std::string* out;
    size_t limit;
};
size_t keep_bounded(char* data, size_t size, size_t n, void* user) {
    auto* b = static_cast<Bounded*>(user);
    if (b->out->size() + size * n > b->limit) return 0;  // CURLE_WRITE_ERROR
    b->out->append(data, size * n);
    return size * n;
}

// Whether the file server already holds `name` with exactly `bytes` (an
// earlier attempt may have completed without its answer reaching us).
// Absent or different: false; the server unreachable: its error.
Expected<bool> server_holds(const TargetConfig& t, const std::string& name, const std::string& bytes,
                            const std::function<bool()>& cancel) {
    Easy e;
    if (!e.h) return Status::internal("curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    common(e, t, cancel, errbuf);
    curl_easy_setopt(e.h, CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR_NONE));
    const std::string url = t.url + escape(e.h, name);
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    std::string got;
    Bounded sink{&got, bytes.size()};
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, &keep_bounded);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &sink);
    const CURLcode rc = curl_easy_perform(e.h);
    if (rc == CURLE_OK) return got == bytes;
    if (rc == CURLE_REMOTE_FILE_NOT_FOUND || rc == CURLE_WRITE_ERROR || rc == CURLE_FTP_COULDNT_RETR_FILE ||
        rc == CURLE_REMOTE_ACCESS_DENIED)
        return false;  // absent, longer, or not readable: upload it
    return failure(t, rc, errbuf);
}

}  // namespace

Status push_file(const TargetConfig& t, const std::string& file_name, const std::string& bytes,
                 const std::string& idempotency_key, const std::function<bool()>& cancel, bool in_doubt) {
    if (Status st = check_file_name(file_name); !st) return st.with_context("target '" + t.name + "'");
    if (t.protocol == Protocol::email) {
        // "gridlet:<export>:<file>"
        const size_t a = idempotency_key.find(':'), b = idempotency_key.rfind(':');
        const std::string job = a != std::string::npos && b > a ? idempotency_key.substr(a + 1, b - a - 1) : "";
        return email_file(t, (t.site.empty() ? "" : "[" + t.site + "] ") + file_name,
                          file_name + " from the gridlet site " + t.site + (job.empty() ? "" : " ('" + job + "')") +
                              " is attached.\r\n",
                          file_name, bytes, idempotency_key, cancel);
    }
    const bool web = t.protocol == Protocol::http || t.protocol == Protocol::https;
    if (web) return transfer(t, file_name, bytes, headers_for(file_name, idempotency_key), "", false, cancel);
    if (in_doubt) {
        auto there = server_holds(t, file_name, bytes, cancel);
        if (!there) return there.status();
        if (*there) {
            spdlog::info("export target '{}': {} is already on the server, whole (an earlier attempt reached it); "
                         "not sent again",
                         t.name, file_name);
            return Status::ok();
        }
    }
    return transfer(t, file_name + ".part", bytes, {}, file_name, false, cancel);
}

Expected<std::string> test_target(const TargetConfig& t, const std::function<bool()>& cancel) {
    const std::string name = "gridlet-connectivity-test.txt";
    char host[256] = {};
    (void)gethostname(host, sizeof host - 1);
    const std::string bytes = "gridlet connectivity test from " + std::string(host) + "\n";
    const bool web = t.protocol == Protocol::http || t.protocol == Protocol::https;
    const auto start = std::chrono::steady_clock::now();
    if (t.protocol == Protocol::email) {
        std::string to;
        for (const std::string& a : t.to) to += (to.empty() ? "" : ", ") + a;
        // A test message of its own each time (a mail client would show two
        // with one Message-ID as one).
        static std::atomic<uint64_t> tests{0};
        const std::string key = "gridlet-connectivity-test-" +
                                std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
                                std::to_string(::getpid()) + "-" + std::to_string(++tests);
        if (Status st = email_file(t, (t.site.empty() ? "" : "[" + t.site + "] ") + "gridlet: test of export target '" + t.name + "'",
                                   "A test of the export target '" + t.name + "' of the gridlet site " + t.site +
                                       " (" + host + "): its files will arrive like this one.\r\n",
                                   name, bytes, key, cancel);
            !st)
            return st;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        return "e-mailed " + name + " to " + to + " in " + std::to_string(ms.count()) + " ms";
    }
    std::vector<std::string> headers;
    if (web) {
        headers = headers_for(name, "gridlet-connectivity-test");
        headers.push_back("X-Gridlet-Test: 1");
    }
    if (Status st = transfer(t, name, bytes, headers, "", !web, cancel); !st) return st;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return std::string(web ? (t.post ? "posted " : "put ") + name : "wrote and deleted " + name) + " in " +
           std::to_string(ms.count()) + " ms";
}

}  // namespace gridlet::exporter
