#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "kernel/kernel.h"

namespace gridlet::kernel {

namespace {

// A log file that is written through at every line (a line logged is on
// disk, or in the page cache, even after kill -9) and reopened by name on
// SIGHUP, so that logrotate's rename-and-signal works. Any thread.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit ReopenableFileSink(const std::string& path) { file_.open(path, false); }
    void reopen() {
        std::lock_guard lock(mutex_);
        file_.reopen(false);
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        file_.write(line);
        file_.flush();
    }
    void flush_() override { file_.flush(); }

private:
    spdlog::details::file_helper file_;
};

}  // namespace

// The sinks are made once per process (a reload only changes level and
// pattern, which spdlog applies to every registered logger, plugins' too,
// and reopens the log file). Every line is flushed as it is written.
Status setup_logging(const SiteConfig& site) {
    static std::string sink_target;
    static bool made = false;
    static std::shared_ptr<ReopenableFileSink> file_sink;
    try {
        if (!made || sink_target != site.log_file) {
            spdlog::drop("gridlet");
            std::shared_ptr<spdlog::logger> logger;
            file_sink.reset();
            if (site.log_file.empty()) {
                logger = spdlog::stderr_color_mt("gridlet");
            } else {
                file_sink = std::make_shared<ReopenableFileSink>(site.log_file);
                logger = std::make_shared<spdlog::logger>("gridlet", file_sink);
                spdlog::register_logger(logger);
            }
            logger->flush_on(spdlog::level::trace);
            spdlog::set_default_logger(logger);
            made = true;
            sink_target = site.log_file;
        } else if (file_sink) {
            file_sink->reopen();  // SIGHUP after a rotation: a new file of the same name
        }
    } catch (const spdlog::spdlog_ex& e) {
        return Status::io_error("logging to '" + site.log_file + "': " + std::string(e.what()));
    }
    spdlog::set_level(spdlog::level::from_str(site.log_level));
    if (!site.log_pattern.empty()) spdlog::set_pattern(site.log_pattern);
    return Status::ok();
}

}  // namespace gridlet::kernel
