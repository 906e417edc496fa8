#include "cli/control_client.h"

#include "cli/store_access.h"

#include <zmq.h>

#include <cstdio>

#include "bus/socket.h"
#include "core/site_config.h"

namespace gridlet::cli {

void ControlTarget::add_options(CLI::App* cmd) {
    auto* grp = cmd->add_option_group("target", "Which running gridlet");
    grp->add_option("--config", config_path, "The site file of the running gridlet (its [kernel] control socket)");
    grp->add_option("--control", control, "The control socket, e.g. ipc:///tmp/gridlet-demo.sock");
    grp->require_option(1);
    cmd->add_option("--timeout-ms", timeout_ms, "How long to wait for the answer (1..3600000)")
        ->check(CLI::Range(1, 3'600'000))
        ->capture_default_str();
}

std::string ControlTarget::endpoint() const {
    if (!control.empty()) return control;
    config::Diagnostics diags;
    // Only [site] and [kernel] matter here; other sections' keys are not checked.
    SiteConfig site = load_site_config(config_path, SectionSchemas{}, diags);
    if (site.root == nullptr) {
        for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
        throw CLI::RuntimeError(2);
    }
    return site.control_endpoint;
}

bool control_endpoint_live(const std::string& endpoint) { return bus::ipc_endpoint_live(endpoint); }

std::optional<std::string> control_request(const std::string& ep, const std::string& request, int timeout_ms) {
    void* ctx = zmq_ctx_new();
    std::optional<std::string> reply;
    {
        bus::ZmqSocket s(ctx, ZMQ_REQ);
        (void)s.set_int(ZMQ_RCVTIMEO, timeout_ms);
        (void)s.set_int(ZMQ_SNDTIMEO, timeout_ms);
        Status st = s.connect(ep);
        if (st && zmq_send(s.get(), request.data(), request.size(), 0) == static_cast<int>(request.size())) {
            bus::ZmqMessage m;
            if (zmq_msg_recv(m.get(), s.get(), 0) >= 0)
                reply = std::string(m.view());
            else
                std::fprintf(stderr, "no answer from %s within %d ms: is gridlet running for this site?\n", ep.c_str(),
                             timeout_ms);
        } else {
            std::fprintf(stderr, "cannot reach %s: %s\n", ep.c_str(), st ? zmq_strerror(zmq_errno()) : st.message().c_str());
        }
    }
    zmq_ctx_term(ctx);
    return reply;
}

nlohmann::json control_call(const char* command, const std::string& endpoint, const nlohmann::json& request,
                            int timeout_ms) {
    auto reply = control_request(endpoint, request.dump(), timeout_ms);
    if (!reply) throw CLI::RuntimeError(1);
    auto j = nlohmann::json::parse(*reply, nullptr, false);
    if (j.is_object() && j.value("ok", false)) return j;
    const bool known = j.is_object() && j.contains("code") && j["code"].is_string();
    const std::string error =
        j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : *reply;
    fail(command, known && j["code"].get<std::string>() == "not_found" ? 2 : 1, error);
}

}  // namespace gridlet::cli
