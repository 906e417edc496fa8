// `gridlet metrics`: ask a running gridlet for its bus and plugin counters.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.h>

#include <cstdio>

#include "bus/socket.h"
#include "cli/commands.h"
#include "core/site_config.h"

namespace gridlet::cli {

void register_metrics_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("metrics", "Print a running gridlet's counters (messages, bytes, drops per plugin) as JSON");
    auto config_path = std::make_shared<std::string>();
    auto control = std::make_shared<std::string>();
    auto timeout = std::make_shared<int>(2000);
    auto* grp = cmd->add_option_group("target", "Which gridlet");
    grp->add_option("--config", *config_path, "The site file of the running gridlet (its [kernel] control socket)");
    grp->add_option("--control", *control, "The control socket, e.g. ipc:///tmp/gridlet-demo.sock");
    grp->require_option(1);
    cmd->add_option("--timeout-ms", *timeout, "How long to wait for the answer")->capture_default_str();
    cmd->footer("Exit status: 0 printed; 1 no answer; 2 bad arguments or site file.");
    cmd->callback([config_path, control, timeout] {
        std::string ep = *control;
        if (ep.empty()) {
            config::Diagnostics diags;
            SiteConfig site = load_site_config(*config_path, SectionSchemas{}, diags);
            // Only [kernel] and [site] matter here: other sections' keys are not checked.
            ep = site.control_endpoint;
            if (site.root == nullptr) {
                for (const auto& d : diags) std::fprintf(stderr, "%s\n", d.to_string().c_str());
                throw CLI::RuntimeError(2);
            }
        }
        void* ctx = zmq_ctx_new();
        int code = 0;
        {
            bus::ZmqSocket s(ctx, ZMQ_REQ);
            (void)s.set_int(ZMQ_RCVTIMEO, *timeout);
            (void)s.set_int(ZMQ_SNDTIMEO, *timeout);
            Status st = s.connect(ep);
            if (st && zmq_send(s.get(), "metrics", 7, 0) == 7) {
                bus::ZmqMessage m;
                if (zmq_msg_recv(m.get(), s.get(), 0) >= 0) {
                    auto j = nlohmann::json::parse(m.view(), nullptr, false);
                    std::printf("%s\n", j.is_discarded() ? std::string(m.view()).c_str() : j.dump(2).c_str());
                } else {
                    std::fprintf(stderr, "no answer from %s within %d ms: is gridlet running for this site?\n", ep.c_str(), *timeout);
                    code = 1;
                }
            } else {
                std::fprintf(stderr, "cannot reach %s: %s\n", ep.c_str(), st ? zmq_strerror(zmq_errno()) : st.message().c_str());
                code = 1;
            }
        }
        zmq_ctx_term(ctx);
        if (code) throw CLI::RuntimeError(code);
    });
}

}  // namespace gridlet::cli
