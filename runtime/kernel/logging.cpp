#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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

// stderr read by the journal (systemd.exec(5) $JOURNAL_STREAM: "<dev>:<inode>"
// of the stream it connected): each line is "<priority>[plugin] message",
// the priority prefix of sd-daemon(3) that journald maps to the entry's
// level, and no timestamp (the journal keeps its own; [logging] pattern is
// not applied here). Written and flushed line by line. Any thread.
class JournalStreamSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        int priority = 6;  // LOG_INFO
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug: priority = 7; break;
            case spdlog::level::info: priority = 6; break;
            case spdlog::level::warn: priority = 4; break;
            case spdlog::level::err: priority = 3; break;
            case spdlog::level::critical: priority = 2; break;
            default: break;
        }
        std::string line = "<" + std::to_string(priority) + ">";
        if (msg.logger_name != "gridlet" && msg.logger_name.size() != 0)
            line.append("[").append(msg.logger_name.data(), msg.logger_name.size()).append("] ");
        line.append(msg.payload.data(), msg.payload.size());
        // One entry per line: a message with line breaks goes on as more entries.
        for (size_t at = 0; (at = line.find('\n', at)) != std::string::npos; at += 4)
            line.replace(at, 1, "\n<" + std::to_string(priority) + ">");
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    }
    void flush_() override { std::fflush(stderr); }
    void set_pattern_(const std::string&) override {}
    void set_formatter_(std::unique_ptr<spdlog::formatter>) override {}
};

}  // namespace

bool stderr_is_journal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (js == nullptr) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

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
            if (site.log_file.empty() && stderr_is_journal()) {
                logger = std::make_shared<spdlog::logger>("gridlet", std::make_shared<JournalStreamSink>());
                spdlog::register_logger(logger);
            } else if (site.log_file.empty()) {
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
