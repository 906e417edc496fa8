// `[[export_targets]]`: where the files of [[exports]] are pushed (FTP,
// FTPS, SFTP, HTTP(S)), besides or instead of a local `dir`
// (../shared/spec/socomec-webview.md §7: FTP/FTPS push of EMS and CSV
// files). An export names its targets (`targets = ["office"]`); a file
// waits in the target's outbox in the store until the server took it
// (export/outbox_sender.h). Checked key by key with file:line, in the one
// validation path of `gridlet check` and `gridlet run`.
//
//   [[export_targets]]
//   name = "office"                   # unique; names the outbox queue
//   url = "ftp://ftp.example.com:21/incoming/"   # the folder the files go to:
//                                     #   ftp://   FTP; TLS by AUTH TLS (explicit) unless tls = "none"
//                                     #   ftps://  FTPS with implicit TLS (port 990)
//                                     #   sftp://  SSH file transfer; /~/dir/ is relative to the home folder
//                                     #   http://, https://  PUT <url><file name>, or POST to url itself
//   tls = "explicit"                  # ftp:// only: explicit (required, the default) or none (clear text)
//   method = "put"                    # http(s) only: put or post
//   username = "gateway"             # FTP, SFTP login; HTTP basic authentication (https:// only)
//   password_env = "GRIDLET_FTP_PASSWORD"        # the password comes from the environment
//   key_file = "/etc/gridlet/id_ed25519"        # sftp: a private key (instead of or besides a password)
//   key_passphrase_env = "GRIDLET_KEY_PASSPHRASE"
//   host_key_sha256 = "SHA256:Xy...="           # sftp: the server's host key (ssh-keygen -lf), or
//   known_hosts = "/etc/gridlet/known_hosts"     #   an OpenSSH known_hosts file; one is required
//   ca_file = "/etc/gridlet/ca.pem"             # TLS: trust this CA (default: the system's)
//   pinned_key = "sha256//AbC...="              # TLS: accept only this public key (";" between several)
//   timeout = "10m"                   # one transfer at most this long (a stalled one stops after 30 s)
//   retry = "10s"                     # after a failure, the first retry; it doubles up to 10 min
//   max_files = 10000                 # files waiting in the outbox at most; beyond, the exports
//                                     # hold their periods (nothing dropped) and say so
//
// An e-mail target sends each file attached to one e-mail (the Legrand
// automatic reports, manual §8.6.3) through the SMTP server, login, TLS
// and sender of a [[notifications]] entry of kind email, instead of a url:
//
//   [[export_targets]]
//   name = "reports_mail"
//   email = "ops_mail"                # the [[notifications]] e-mail entry (server, login, from)
//   to = ["aaa@bbb.xy", "ccc@ddd.wz"] # the recipients; default: that entry's `to`
//
// Its Message-ID is the same on every attempt of one file (a server that
// took it but whose answer was lost gets the same message again, which
// mail clients show once).
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "core/config_schema.h"
#include "notify/notification_config.h"

namespace gridlet::exporter {

enum class Protocol { ftp, ftps, sftp, http, https, email };
const char* protocol_name(Protocol p);

struct TargetConfig {
    std::string name;
    Protocol protocol = Protocol::ftp;
    std::string url;          // as configured (no credentials in it)
    bool explicit_tls = true; // ftp:// : AUTH TLS required
    bool post = false;        // http(s): POST to url instead of PUT <url><name>
    std::string username, password, key_file, key_passphrase;
    std::string host_key_sha256, known_hosts;  // sftp; the key's base64 SHA-256, padded
    std::string ca_file, pinned_key;
    int64_t connect_timeout_ms = 10'000, timeout_ms = 600'000;
    int64_t retry_ms = 10'000;  // the first retry after a failure; doubles up to 10 min
    uint64_t max_files = 10'000;
    // email: the notification's SMTP settings, the recipients, and the site
    // named in the subject.
    std::string email;
    notify::NotificationConfig smtp;
    std::vector<std::string> to;
    std::string site;
    uint32_t line = 0;
};

// The outbox queue of a target's files ("export/<name>").
std::string outbox_queue(const std::string& target);

// The [[export_targets]] of a site file; secrets are read from the
// environment variables the file names (skip: not read, not required; for
// the commands that only read the outbox). Relative paths are relative to
// the site file. `notifications`: the site's checked [[notifications]]
// (an e-mail target copies its entry's settings, secrets included).
enum class TargetSecrets { read, skip };
std::vector<TargetConfig> parse_export_targets(const toml::table& root, const std::string& file,
                                               config::Diagnostics& diags,
                                               TargetSecrets secrets = TargetSecrets::read,
                                               const std::vector<notify::NotificationConfig>& notifications = {});

}  // namespace gridlet::exporter
