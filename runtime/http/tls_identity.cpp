#include "http/tls_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace gridlet::http {

namespace {

struct FileCloser {
    void operator()(FILE* f) const {
        if (f) std::fclose(f);
    }
};
using File = std::unique_ptr<FILE, FileCloser>;
template <class T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;

std::string fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(cert, EVP_sha256(), md, &n);
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        if (i) out += ':';
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

Expected<TlsIdentity> load_pair(const std::string& cert_file, const std::string& key_file) {
    File cf(std::fopen(cert_file.c_str(), "r"));
    if (!cf) return Status::io_error("cannot read the certificate " + cert_file);
    X509Ptr cert(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
    if (!cert) return Status::invalid(cert_file + " holds no PEM certificate");
    File kf(std::fopen(key_file.c_str(), "r"));
    if (!kf) return Status::io_error("cannot read the key " + key_file);
    KeyPtr key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
    if (!key) return Status::invalid(key_file + " holds no PEM private key (an encrypted key is not supported)");
    if (X509_check_private_key(cert.get(), key.get()) != 1)
        return Status::invalid(key_file + " is not the key of " + cert_file);
    const int id = EVP_PKEY_get_base_id(key.get());
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) return Status::invalid(key_file + ": the key must be RSA or ECDSA");
    // What the server will do with the pair, done now: a pair TLS refuses
    // is said here, not at the next start.
    std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>> ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return Status::internal("OpenSSL could not make a TLS context");
    if (Status st = configure_server_tls(*ctx, cert_file, key_file); !st) return st;
    TlsIdentity t;
    t.cert_file = cert_file;
    t.key_file = key_file;
    t.fingerprint = fingerprint(cert.get());
    if (X509_NAME* name = X509_get_subject_name(cert.get())) {
        std::unique_ptr<BIO, Free<BIO, BIO_free_all>> bio(BIO_new(BIO_s_mem()));
        X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio.get(), &data);
        if (n > 0) t.subject.assign(data, static_cast<size_t>(n));
    }
    struct tm tm {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) == 1) t.not_after_ms = int64_t{timegm(&tm)} * 1000;
    return t;
}

// OpenSSL's last reasons, oldest first ("ee key too small").
std::string openssl_reasons() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        const char* r = ERR_reason_error_string(e);
        const std::string one = r ? r : "error " + std::to_string(e);
        if (out.find(one) == std::string::npos) out += (out.empty() ? "" : "; ") + one;
    }
    return out.empty() ? "no reason given" : out;
}

// The CERTIFICATE blocks of `pem`, each with its lines; a private key is
// refused (it belongs in `key`, never in a file that is served and copied).
Expected<std::string> certificate_blocks(const std::string& pem) {
    if (pem.find("PRIVATE KEY-----") != std::string::npos)
        return Status::invalid("the certificate holds a private key: send the key in \"key\" and only "
                               "CERTIFICATE blocks in \"certificate\"");
    static const std::string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
    std::string out;
    for (size_t at = pem.find(begin); at != std::string::npos; at = pem.find(begin, at)) {
        const size_t stop = pem.find(end, at);
        if (stop == std::string::npos) return Status::invalid("the certificate's last block has no END line");
        out += pem.substr(at, stop + end.size() - at) + "\n";
        at = stop + end.size();
    }
    if (out.empty()) return Status::invalid("the certificate holds no PEM CERTIFICATE block");
    return out;
}

Status make_self_signed(const std::string& cert_file, const std::string& key_file, const std::vector<std::string>& names) {
    KeyPtr key(EVP_EC_gen("P-256"));
    if (!key) return Status::internal("could not make an ECDSA key");
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
    BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("gridlet"), -1, -1, 0);
    const std::string cn = names.empty() ? "localhost" : names.front();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    std::string san;
    for (const std::string& n : names) {
        if (n.empty() || n == "0.0.0.0" || n == "::") continue;
        const bool ip = n.find_first_not_of("0123456789.") == std::string::npos || n.find(':') != std::string::npos;
        san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
    }
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
             {NID_subject_alt_name, san}, {NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature"}, {NID_ext_key_usage, "serverAuth"}}) {
        if (value.empty()) continue;
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
        if (!ext) return Status::internal("could not make the certificate extension " + value);
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return Status::internal("could not sign the certificate");
    // The key first, private from its first byte.
    const std::string key_tmp = key_file + ".tmp", cert_tmp = cert_file + ".tmp";
    const mode_t old = ::umask(077);
    File kf(std::fopen(key_tmp.c_str(), "w"));
    ::umask(old);
    if (!kf || !PEM_write_PrivateKey(kf.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
        std::fflush(kf.get()) != 0 || ::fsync(fileno(kf.get())) != 0)
        return Status::io_error("cannot write " + key_tmp);
    kf.reset();
    File cf(std::fopen(cert_tmp.c_str(), "w"));
    if (!cf || !PEM_write_X509(cf.get(), cert.get()) || std::fflush(cf.get()) != 0 || ::fsync(fileno(cf.get())) != 0)
        return Status::io_error("cannot write " + cert_tmp);
    cf.reset();
    if (std::rename(key_tmp.c_str(), key_file.c_str()) != 0 || std::rename(cert_tmp.c_str(), cert_file.c_str()) != 0)
        return Status::io_error("cannot put the certificate in place in " + std::filesystem::path(cert_file).parent_path().string());
    return Status::ok();
}

}  // namespace

Status configure_server_tls(SSL_CTX& c, const std::string& cert_file, const std::string& key_file) {
    SSL_CTX_set_min_proto_version(&c, TLS1_2_VERSION);
    SSL_CTX_set_options(&c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(&c, cert_file.c_str()) != 1)
        return Status::invalid(cert_file + ": TLS refuses the certificate (" + openssl_reasons() +
                               "; OpenSSL's security level wants an RSA key of 2048 bits or more, an EC key of 256 bits or more, a "
                               "signature of SHA-256 or better)");
    if (SSL_CTX_use_PrivateKey_file(&c, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return Status::invalid(key_file + ": TLS refuses the key (" + openssl_reasons() + ")");
    if (SSL_CTX_check_private_key(&c) != 1) {
        ERR_clear_error();
        return Status::invalid(key_file + " is not the key of " + cert_file);
    }
    return Status::ok();
}

Expected<TlsIdentity> load_certificate_pair(const std::string& cert_file, const std::string& key_file) {
    return load_pair(cert_file, key_file);
}

Expected<TlsIdentity> install_certificate(const std::string& dir, const std::string& cert_pem, const std::string& key_pem,
                                          int64_t now_ms) {
    namespace fs = std::filesystem;
    const fs::path tls = fs::path(dir) / "tls";
    std::error_code ec;
    fs::create_directories(tls, ec);
    if (ec) return Status::io_error("cannot make " + tls.string() + ": " + ec.message());
    const std::string cert = (tls / "cert.pem").string(), key = (tls / "key.pem").string();
    const std::string cert_new = cert + ".new", key_new = key + ".new";
    auto write = [](const std::string& path, const std::string& text) {
        const mode_t old = ::umask(077);
        File f(std::fopen(path.c_str(), "w"));
        ::umask(old);
        return f && std::fwrite(text.data(), 1, text.size(), f.get()) == text.size() && std::fflush(f.get()) == 0 &&
               ::fsync(fileno(f.get())) == 0;
    };
    auto cleanup = [&] {
        fs::remove(cert_new, ec);
        fs::remove(key_new, ec);
    };
    auto blocks = certificate_blocks(cert_pem);
    if (!blocks) return Status::invalid("the uploaded pair: " + blocks.status().message());
    if (!write(key_new, key_pem) || !write(cert_new, *blocks)) {
        cleanup();
        return Status::io_error("cannot write the new pair in " + tls.string());
    }
    auto t = load_pair(cert_new, key_new);
    if (t && t->not_after_ms <= now_ms) t = Status::invalid("the certificate has expired");
    if (!t) {
        cleanup();
        std::string why = t.status().message();
        for (const auto& [path, label] : {std::pair{cert_new, "the certificate"}, std::pair{key_new, "the key"}})
            for (size_t at; (at = why.find(path)) != std::string::npos;) why.replace(at, path.size(), label);
        return Status::invalid("the uploaded pair: " + why);
    }
    // Pending until the next start: cert.pem stays the one served (the file
    // clients are told to trust) until then.
    t->cert_file = cert_new;
    t->key_file = key_new;
    return t;
}

Status check_certificate_pair(const std::string& cert_file, const std::string& key_file) {
    auto t = load_pair(cert_file, key_file);
    return t ? Status::ok() : t.status();
}

Expected<TlsIdentity> tls_identity(const std::string& cert_file, const std::string& key_file, const std::string& dir,
                                   const std::vector<std::string>& names) {
    if (!cert_file.empty()) return load_pair(cert_file, key_file);
    namespace fs = std::filesystem;
    const fs::path tls = fs::path(dir) / "tls";
    std::error_code ec;
    fs::create_directories(tls, ec);
    if (ec) return Status::io_error("cannot make " + tls.string() + ": " + ec.message());
    fs::permissions(tls, fs::perms::owner_all, fs::perm_options::replace, ec);
    const std::string cert = (tls / "cert.pem").string(), key = (tls / "key.pem").string();
    // A pair uploaded since the last start (install_certificate) takes the
    // place of the served one, which is kept as *.pem.before (one previous
    // pair, not a pile of old keys). One that no longer loads is set aside.
    if (fs::exists(cert + ".new", ec) && fs::exists(key + ".new", ec)) {
        if (auto next = load_pair(cert + ".new", key + ".new"); next) {
            for (const std::string& f : {cert, key})
                if (fs::exists(f, ec)) fs::rename(f, f + ".before", ec);
            if (std::rename((key + ".new").c_str(), key.c_str()) != 0 ||
                std::rename((cert + ".new").c_str(), cert.c_str()) != 0)
                return Status::io_error("cannot put the uploaded certificate in place in " + tls.string());
        } else {
            for (const std::string& f : {cert, key}) fs::rename(f + ".new", f + ".rejected", ec);
            return Status::invalid("the uploaded certificate no longer loads (" + next.status().message() +
                                   "); it is set aside as *.rejected: start again to serve the present one");
        }
    }
    bool generated = false;
    const bool has_cert = fs::exists(cert, ec), has_key = fs::exists(key, ec);
    if (has_cert != has_key)
        return Status::invalid(std::string(has_cert ? key : cert) + " is missing beside " + (has_cert ? cert : key) +
                               ": a new pair would change the certificate clients trust; remove both to make a new one");
    if (!has_cert) {
        if (Status st = make_self_signed(cert, key, names); !st) return st;
        generated = true;
    }
    auto t = load_pair(cert, key);
    if (t) t->generated = generated;
    return t;
}

}  // namespace gridlet::http
