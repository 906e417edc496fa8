// The server's TLS certificate: the configured PEM pair, or a self-signed
// one made at the first start and kept in <data_dir>/tls (cert.pem, and
// key.pem with mode 0600): an ECDSA P-256 key, SHA-256 signature, valid 10
// years, for the names localhost, 127.0.0.1, ::1, the host name and the
// listen address. Its SHA-256 fingerprint is logged so that a client can
// pin it (curl --pinnedpubkey, or compare with the browser's).
// Threads: any; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace gridlet::http {

struct TlsIdentity {
    std::string cert_file, key_file;
    std::string fingerprint;  // SHA-256 of the certificate (DER), "AB:CD:..."
    bool generated = false;   // made now
    std::string subject;      // "CN=gridlet, ..." (RFC 2253)
    int64_t not_after_ms = 0; // UTC ms
};

// Sets a server context up as the API serves: TLS 1.2 or newer, no
// compression or renegotiation, the pair loaded under OpenSSL's security
// level (Debian: 2, so an RSA key under 2048 bits or a SHA-1 signature is
// refused). Errors: invalid_argument with OpenSSL's reason ("ee key too
// small"). The one set-up `gridlet check`, a certificate upload and the
// server's start share.
Status configure_server_tls(SSL_CTX& ctx, const std::string& cert_file, const std::string& key_file);

// Whether `cert_file` and `key_file` load (PEM; RSA or ECDSA), the key is
// the certificate's and TLS takes them (configure_server_tls). Errors:
// io_error (unreadable), invalid_argument.
Status check_certificate_pair(const std::string& cert_file, const std::string& key_file);

// Loads a pair as check_certificate_pair checks it, with its details.
Expected<TlsIdentity> load_certificate_pair(const std::string& cert_file, const std::string& key_file);

// Keeps an uploaded PEM pair as <dir>/tls/cert.pem.new and key.pem.new: at
// its next start (tls_identity), the server puts it in place of cert.pem and
// key.pem (kept as *.pem.before), when [http] names no cert_file; until then
// cert.pem is the one served:
// checked first (it loads, the key is the certificate's, RSA or ECDSA, TLS
// takes it, not expired; `cert_pem` holds CERTIFICATE blocks only, the
// server's first, then its chain: a private key there is refused); the
// Errors: invalid_argument (the pair), io_error.
Expected<TlsIdentity> install_certificate(const std::string& dir, const std::string& cert_pem, const std::string& key_pem,
                                          int64_t now_ms);

// The configured pair (checked: they load and the key matches), or the
// self-signed pair of `dir`, made when both are missing (one without the
// other is refused: remove both to make a new pair). `names`: extra DNS
// names or IP addresses for the certificate.
Expected<TlsIdentity> tls_identity(const std::string& cert_file, const std::string& key_file, const std::string& dir,
                                   const std::vector<std::string>& names);

}  // namespace gridlet::http
