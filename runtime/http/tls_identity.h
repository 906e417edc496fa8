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

namespace gridlet::http {

struct TlsIdentity {
    std::string cert_file, key_file;
    std::string fingerprint;  // SHA-256 of the certificate (DER), "AB:CD:..."
    bool generated = false;   // made now
    std::string subject;      // "CN=gridlet, ..." (RFC 2253)
    int64_t not_after_ms = 0; // UTC ms
};

// Whether `cert_file` and `key_file` load (PEM; RSA or ECDSA) and the key is
// the certificate's. Errors: io_error (unreadable), invalid_argument.
Status check_certificate_pair(const std::string& cert_file, const std::string& key_file);

// Loads a pair as check_certificate_pair checks it, with its details.
Expected<TlsIdentity> load_certificate_pair(const std::string& cert_file, const std::string& key_file);

// Puts an uploaded PEM pair in place of <dir>/tls/cert.pem and key.pem (the
// pair the server loads at its next start when [http] names no cert_file):
// checked first (it loads, the key is the certificate's, RSA or ECDSA, not
// expired); the present pair is kept as *.pem.before-<ms>. Errors:
// invalid_argument (the pair), io_error.
Expected<TlsIdentity> install_certificate(const std::string& dir, const std::string& cert_pem, const std::string& key_pem,
                                          int64_t now_ms);

// The configured pair (checked: they load and the key matches), or the
// self-signed pair of `dir`, made when both are missing (one without the
// other is refused: remove both to make a new pair). `names`: extra DNS
// names or IP addresses for the certificate.
Expected<TlsIdentity> tls_identity(const std::string& cert_file, const std::string& key_file, const std::string& dir,
                                   const std::vector<std::string>& names);

}  // namespace gridlet::http
