#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "kernel/kernel.h"

namespace gridlet::kernel {

// The sinks are made once per process (a reload only changes level and
// pattern, which spdlog applies to every registered logger, plugins' too).
Status setup_logging(const SiteConfig& site) {
    static std::string sink_target;
    static bool made = false;
    if (!made || sink_target != site.log_file) {
        try {
            spdlog::drop("gridlet");
            std::shared_ptr<spdlog::logger> logger;
            if (site.log_file.empty())
                logger = spdlog::stderr_color_mt("gridlet");
            else
                logger = spdlog::basic_logger_mt("gridlet", site.log_file);
            spdlog::set_default_logger(logger);
            made = true;
            sink_target = site.log_file;
        } catch (const spdlog::spdlog_ex& e) {
            return Status::io_error("logging to '" + site.log_file + "': " + std::string(e.what()));
        }
    }
    spdlog::set_level(spdlog::level::from_str(site.log_level));
    if (!site.log_pattern.empty()) spdlog::set_pattern(site.log_pattern);
    return Status::ok();
}

}  // namespace gridlet::kernel
