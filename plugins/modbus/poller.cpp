#include "poller.h"

#include "link_worker.h"

#include <algorithm>
#include <map>

namespace gridlet::modbus {

// -------------------------------------------------------------------- Poller

Poller::Poller(std::vector<Device> devices, Sink& sink, bool comm_stats) : sink_(sink), comm_stats_(comm_stats) {
    // One connection per endpoint: "localhost:502" and "127.0.0.1:502" are
    // the same device, and a device accepting one connection would refuse
    // the second.
    std::vector<std::pair<std::vector<std::string>, LinkWorker*>> links;
    std::map<const Profile*, std::shared_ptr<const PointDecoder>> decoders;  // one per profile
    for (Device& d : devices) {
        std::vector<std::string> endpoints = resolve_endpoints(d.config.link);
        LinkWorker* w = nullptr;
        for (auto& [eps, worker] : links) {
            if (worker->link_config().kind != d.config.link.kind) continue;
            for (const auto& e : endpoints)
                if (std::find(eps.begin(), eps.end(), e) != eps.end()) w = worker;
            if (w) break;
        }
        if (!w) {
            workers_.push_back(std::make_unique<LinkWorker>(d.config.link, sink_, comm_stats_));
            w = workers_.back().get();
            links.emplace_back(endpoints, w);
        }
        if (by_device_.count(d.config.name)) throw ConfigError("duplicate device name '" + d.config.name + "'");
        by_device_[d.config.name] = w;
        std::shared_ptr<const PointDecoder>& dec = decoders[d.profile.get()];
        if (!dec) dec = std::make_shared<const PointDecoder>(*d.profile, plan_reads(*d.profile));
        w->add(std::move(d), dec);
    }
}

Poller::~Poller() { stop(); }

void Poller::start() {
    for (auto& w : workers_) w->register_series();
    for (auto& w : workers_) w->start();
}

void Poller::stop() {
    // All at once: the stop time is one worker's, whatever their number.
    for (auto& w : workers_) w->request_stop();
    for (auto& w : workers_) w->join();
}

void Poller::command(const std::string& device, const std::string& point, double value, const std::string& text,
                     CommandDone done) {
    auto it = by_device_.find(device);
    if (it == by_device_.end()) return done(GL_ERR_NOT_FOUND, "modbus: unknown device '" + device + "'");
    it->second->command(device, point, value, text, std::move(done));
}

DeviceStats Poller::stats(const std::string& device) const {
    auto it = by_device_.find(device);
    return it == by_device_.end() ? DeviceStats{} : it->second->stats(device);
}

const RegisterPlan* Poller::plan(const std::string& device) const {
    auto it = by_device_.find(device);
    return it == by_device_.end() ? nullptr : it->second->plan(device);
}

}  // namespace gridlet::modbus
