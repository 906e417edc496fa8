// The API's administration routes: the export outboxes (what waits for each
// target), the backup archive (backup/backup.h: configuration, accounts,
// certificates and a checkpoint of the store, taken while the site runs),
// and the security officer's: the security policy and the server's
// certificate. Handlers run on the server's pool.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "answers/outbox_answer.h"
#include "backup/backup.h"
#include "http/api_request.h"
#include "http/api_server.h"
#include "http/tls_identity.h"
#include "store/store.h"

namespace gridlet::http {

void ApiServer::admin_routes() {
    httplib::Server& s = *server_;

    s.Get("/api/v1/exports", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::read)) return;
        const auto p = params_of(req, res, {"target"});
        if (!p) return;
        if (!ctx_.store) return send_error(res, 503, "unavailable", "the site has no [store]: no outbox");
        static const std::vector<exporter::TargetConfig> none;
        const auto& targets = ctx_.export_targets ? *ctx_.export_targets : none;
        const std::string only = p->get("target");
        if (!only.empty() &&
            std::none_of(targets.begin(), targets.end(), [&](const auto& t) { return t.name == only; }))
            return send_error(res, 404, "not_found", "no [[export_targets]] named '" + printable(only) + "'");
        auto list = answers::read_outboxes(*ctx_.store, targets, only);
        if (!list) return send_status(res, list.status());
        send_json(res, 200, answers::outbox_json(*list, *ctx_.zone));
    });

    // The archive is written while it is sent (chunked): the store's
    // checkpoint is hard links beside the store, removed once it is sent.
    s.Post("/api/v1/backup", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::configure);
        if (!c || !params_of(req, res, {})) return;
        if (!req.body.empty()) {
            auto body = json_body(req, res);
            if (!body || !only_fields(*body, {}, res)) return;
        }
        const int64_t now = ctx_.now_ms();
        auto plan = backup::plan_backup(*ctx_.site->get(), config_.data_dir, ctx_.version, now);
        if (!plan) return send_status(res, plan.status());
        if (Status st = backup::check_backup(*plan); !st) {
            audit(req, c->user, "backup", false, {{"error", st.message()}});
            return send_status(res, st);
        }
        if (ctx_.store) {
            plan->store_checkpoint = backup::checkpoint_dir_for(plan->store_path);
            if (Status st = ctx_.store->checkpoint(plan->store_checkpoint); !st) {
                audit(req, c->user, "backup", false, {{"error", st.message()}});
                return send_status(res, st);
            }
        }
        audit(req, c->user, "backup", true);
        std::string name = "gridlet-backup-" + ctx_.site->get()->site_name + "-" + std::to_string(now / 1000) + ".tar.gz";
        for (char& ch : name)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.' && ch != '_') ch = '_';
        res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
        auto held = std::make_shared<backup::BackupPlan>(std::move(*plan));
        res.set_chunked_content_provider(
            "application/gzip",
            [held](size_t, httplib::DataSink& sink) {
                Status st = backup::write_archive(*held, [&](const void* d, size_t n) {
                    return sink.write(static_cast<const char*>(d), n);
                });
                if (!st) {
                    spdlog::error("http: backup: {}", st.message());
                    return false;  // the client sees a cut archive (no manifest): restore refuses it
                }
                sink.done();
                return true;
            },
            [held](bool) {
                std::error_code ec;
                if (!held->store_checkpoint.empty()) std::filesystem::remove_all(held->store_checkpoint, ec);
            });
    });

    // The security policy in force (from [http]) and the certificate served.
    s.Get("/api/v1/security", [this](const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res, Right::manage_users) || !params_of(req, res, {})) return;
        nlohmann::json tls = {{"enabled", config_.tls}};
        if (config_.tls) {
            const std::string dir = (std::filesystem::path(config_.data_dir) / "tls").string();
            const bool configured = !config_.cert_file.empty();
            auto id = load_certificate_pair(configured ? config_.cert_file : dir + "/cert.pem",
                                            configured ? config_.key_file : dir + "/key.pem");
            tls["source"] = configured ? "site file (cert_file)" : "data_dir/tls";
            if (id) {
                tls["fingerprint_sha256"] = id->fingerprint;
                tls["subject"] = id->subject;
                tls["not_after_ms"] = id->not_after_ms;
                tls["served_now"] = id->fingerprint == fingerprint_;
            } else {
                tls["error"] = id.status().message();
            }
        }
        send_json(res, 200,
                  {{"password_min_length", config_.password_min_length},
                   {"lockout_after", config_.lockout_after},
                   {"lockout_minutes", config_.lockout_minutes},
                   {"session_idle_minutes", config_.session_idle_minutes},
                   {"session_max_hours", config_.session_max_hours},
                   {"allow_plain_http", config_.allow_plain_http},
                   {"listen", config_.listen},
                   {"tls", tls}});
    });

    // A new certificate for the server (the security officer's): served
    // from the next start. Refused when the site file names its own.
    s.Put("/api/v1/security/certificate", [this](const httplib::Request& req, httplib::Response& res) {
        auto c = authorize(req, res, Right::security);
        if (!c) return;
        auto body = json_body(req, res);
        std::string cert, key;
        if (!body || !only_fields(*body, {"certificate", "key"}, res) || !string_field(*body, "certificate", cert, res) ||
            !string_field(*body, "key", key, res))
            return;
        if (!config_.cert_file.empty())
            return send_error(res, 409, "conflict",
                              "the site file names the certificate ([http] cert_file " + config_.cert_file +
                                  "): replace that file instead");
        auto id = install_certificate(config_.data_dir, cert, key, ctx_.now_ms());
        nlohmann::json detail = id ? nlohmann::json{{"fingerprint_sha256", id->fingerprint}}
                                   : nlohmann::json{{"error", id.status().message()}};
        audit(req, c->user, "certificate_install", bool(id), detail);
        if (!id) return send_status(res, id.status());
        send_json(res, 200,
                  {{"ok", true},
                   {"fingerprint_sha256", id->fingerprint},
                   {"subject", id->subject},
                   {"not_after_ms", id->not_after_ms},
                   {"applies", "at the next start of gridlet (the present certificate is served until then)"}});
    });
}

}  // namespace gridlet::http
