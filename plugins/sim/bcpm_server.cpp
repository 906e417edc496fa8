#include "bcpm_server.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace gridlet::sim {

bool parse_bcpm_model(const std::string& s, BcpmModel* out) {
    if (s == "A" || s == "a" || s == "15172") *out = BcpmModel::A;
    else if (s == "B" || s == "b" || s == "15171") *out = BcpmModel::B;
    else if (s == "C" || s == "c" || s == "15170") *out = BcpmModel::C;
    else return false;
    return true;
}

BcpmServer::BcpmServer(BcpmServerOptions o) : opts_(std::move(o)), tcp_(*this), rtu_(*this) {
    int n = opts_.panels == 1 ? 1 : 2;
    std::string nv;
    if (!opts_.state_file.empty()) {
        std::ifstream f(opts_.state_file);
        std::stringstream ss;
        ss << f.rdbuf();
        nv = ss.str();
    }
    for (int i = 0; i < n; ++i) {
        BcpmPanelOptions po;
        po.unit_id = static_cast<uint8_t>(opts_.base_unit + i);
        po.model = opts_.model;
        po.branch_channels = opts_.branch_channels;
        po.serial = opts_.serial + static_cast<uint32_t>(i);
        po.seed = opts_.seed;
        po.nominal_voltage = opts_.nominal_voltage;
        po.strict = opts_.strict;
        if (i == 0) po.overloaded = opts_.overloaded;
        panels_.push_back(std::make_unique<BcpmPanel>(po));
        // Each panel's NV block is stored under "[panel N]".
        std::string tag = "[panel " + std::to_string(i) + "]\n";
        size_t at = nv.find(tag);
        if (at != std::string::npos) {
            size_t end = nv.find("[panel ", at + tag.size());
            panels_.back()->load_nv(nv.substr(at + tag.size(), end == std::string::npos ? std::string::npos : end - at - tag.size()));
        } else {
            panels_.back()->power_up();
        }
    }
    tcp_.faults().max_connections = opts_.max_connections;
    advance(0);
}

BcpmServer::~BcpmServer() { stop(); }

RegisterSpace* BcpmServer::unit(uint8_t id) {
    int i = id - opts_.base_unit;
    return i >= 0 && i < static_cast<int>(panels_.size()) ? panels_[i].get() : nullptr;
}

double BcpmServer::hour_of_day() const {
    if (opts_.manual_time) return std::fmod(12.0 + sim_t_ / 3600.0, 24.0);
    std::time_t now = std::time(nullptr) + static_cast<std::time_t>(sim_t_ * (1 - 1 / opts_.time_scale));
    std::tm tm{};
    localtime_r(&now, &tm);
    return tm.tm_hour + tm.tm_min / 60.0 + tm.tm_sec / 3600.0;
}

void BcpmServer::advance(double seconds) {
    sim_t_ += seconds;
    double h = hour_of_day();
    for (auto& p : panels_) p->advance(seconds, h);
}

std::string BcpmServer::start() { return start(opts_.port); }

std::string BcpmServer::start(uint16_t port) {
    std::string err = tcp_.start(port, opts_.bind);
    if (!err.empty()) return err;
    opts_.port = tcp_.port();
    if (!opts_.manual_time && !tick_thread_.joinable()) {
        tick_stop_ = false;
        tick_thread_ = std::thread([this] { ticker(); });
    }
    return {};
}

std::string BcpmServer::start_rtu(const SerialSettings& s) {
    std::string err = rtu_.start(s);
    if (!err.empty()) return err;
    if (!opts_.manual_time && !tick_thread_.joinable()) {
        tick_stop_ = false;
        tick_thread_ = std::thread([this] { ticker(); });
    }
    return {};
}

void BcpmServer::ticker() {
    using namespace std::chrono;
    auto period = milliseconds(opts_.refresh_ms > 0 ? opts_.refresh_ms : 1800);
    auto next = steady_clock::now() + period;
    std::unique_lock lk(tick_mu_);
    while (!tick_stop_) {
        if (tick_cv_.wait_until(lk, next, [&] { return tick_stop_; })) break;
        lk.unlock();
        advance(duration<double>(period).count() * opts_.time_scale);
        lk.lock();
        next += period;
        if (next < steady_clock::now()) next = steady_clock::now() + period;
    }
}

void BcpmServer::save_state() {
    if (opts_.state_file.empty()) return;
    std::string tmp = opts_.state_file + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        for (size_t i = 0; i < panels_.size(); ++i) f << "[panel " << i << "]\n" << panels_[i]->save_nv();
        if (!f) return;
    }
    std::rename(tmp.c_str(), opts_.state_file.c_str());
}

void BcpmServer::stop() {
    {
        std::lock_guard lk(tick_mu_);
        tick_stop_ = true;
    }
    tick_cv_.notify_all();
    if (tick_thread_.joinable()) tick_thread_.join();
    bool was_running = tcp_.running();
    tcp_.stop();
    rtu_.stop();
    if (was_running || !opts_.state_file.empty()) save_state();
}

}  // namespace gridlet::sim
