// BcpmPanel: loads, energy, demand over sub-intervals, current and voltage
// alarms (latching with delays and the ON/OFF state machine, non-latching
// with hysteresis).
#include "bcpm_panel.h"

#include <algorithm>
#include <cmath>

namespace gridlet::sim {
namespace {


}  // namespace

int BcpmPanel::phase_of(int c) const {
    if (c == 46) return -1;
    if (r_[62017] & 1) return std::min<int>(2, r_[62115 + c]);
    if (c > kBranches) return c - 43;
    if (r_[6] == 2) return (c - 1) % 3;
    return ((c - 1) / 2) % 3;
}

void BcpmPanel::advance(double dt, double hour) {
    std::lock_guard lk(mu_);
    step(std::max(0.0, dt), hour);
    refresh();
}

void BcpmPanel::set_load(int c, double amps, double pf) {
    std::lock_guard lk(mu_);
    ch_.at(c).fixed = std::make_pair(amps, pf);
}

void BcpmPanel::clear_load(int c) {
    std::lock_guard lk(mu_);
    ch_.at(c).fixed.reset();
}

void BcpmPanel::set_phase_voltage(int p, double v) {
    std::lock_guard lk(mu_);
    fixed_volts_[p] = v;
}

void BcpmPanel::set_noise(bool on) {
    std::lock_guard lk(mu_);
    noise_on_ = on;
}

void BcpmPanel::step(double dt, double hour) {
    t_ += dt;
    hour_ = hour;
    auto noise = [&](double amp) { return noise_on_ ? amp * noise_.next() : 0.0; };
    for (int p = 0; p < 3; ++p)
        volts_[p] = fixed_volts_[p] ? *fixed_volts_[p]
                                    : opts_.nominal_voltage * (1 + 0.012 * std::sin(2 * M_PI * hour / 24 + p)) + noise(0.15);
    // Branches.
    double ph_amps[3] = {0, 0, 0}, ph_kw[3] = {0, 0, 0}, ph_kva[3] = {0, 0, 0};
    for (int n = 1; n <= kBranches; ++n) {
        Channel& c = ch_[n];
        if (!channel_valid(n)) {
            c.amps = c.pf = c.kw = c.kva = 0;
            continue;
        }
        if (c.fixed) {
            c.amps = c.fixed->first;
            c.pf = c.fixed->second;
        } else {
            c.amps = c.shape.peak_amps * load_curve(c.shape.kind, hour, t_) * (1 + noise(0.03));
            c.pf = std::clamp(c.shape.pf + noise(0.01), 0.0, 1.0);
        }
        if (c.amps < 0.05) c.amps = 0;  // 50 mA cut-off
        if (c.amps == 0) c.pf = 0;
        int p = phase_of(n);
        c.kva = volts_[p] * c.amps / 1000.0;
        c.kw = c.kva * c.pf;
        ph_amps[p] += c.amps;
        ph_kw[p] += c.kw;
        ph_kva[p] += c.kva;
    }
    // Mains on aux 43..45 carry the branches plus 6 A of unmonitored load.
    for (int k = 0; k < 3; ++k) {
        Channel& c = ch_[43 + k];
        int p = phase_of(43 + k);
        if (c.fixed) {
            c.amps = c.fixed->first;
            c.pf = c.fixed->second;
        } else {
            c.amps = ph_amps[k] + 6.0 * (1 + noise(0.05));
            c.pf = (ph_kva[k] + 6.0 * volts_[p] / 1000) > 0 ? (ph_kw[k] + 0.9 * 6.0 * volts_[p] / 1000) /
                                                                   (ph_kva[k] + 6.0 * volts_[p] / 1000)
                                                             : 0;
        }
        if (c.amps < 0.05) c.amps = 0;
        c.kva = volts_[p] * c.amps / 1000.0;
        c.kw = c.kva * c.pf;
    }
    {  // neutral: magnitude of the phasor sum (120 degrees apart)
        Channel& c = ch_[46];
        double ia = ch_[43].amps, ib = ch_[44].amps, ic = ch_[45].amps;
        c.amps = c.fixed ? c.fixed->first : std::sqrt(std::max(0.0, ia * ia + ib * ib + ic * ic - ia * ib - ib * ic - ia * ic));
        if (c.amps < 0.05) c.amps = 0;
        c.pf = c.kw = c.kva = 0;
    }
    double kw3 = ch_[43].kw + ch_[44].kw + ch_[45].kw;
    for (int n = 1; n <= kChannels; ++n) {
        Channel& c = ch_[n];
        c.kwh += std::fabs(c.kw) * dt / 3600.0;
        c.max_amps = std::max(c.max_amps, c.amps);
        c.max_kw = std::max(c.max_kw, std::fabs(c.kw));
    }
    aux3_.max_kw = std::max(aux3_.max_kw, kw3);
    // Demand: split dt at sub-interval boundaries (loads are constant within a step).
    double left = dt;
    while (left > 1e-12) {
        int16_t len = static_cast<int16_t>(r_[72]);
        double part = len > 0 ? std::min(left, std::max(0.0, len - sub_elapsed_)) : left;
        for (int n = 1; n <= kChannels; ++n) {
            ch_[n].sub_amp_s += ch_[n].amps * part;
            ch_[n].sub_kw_s += ch_[n].kw * part;
        }
        aux3_.sub_kw_s += kw3 * part;
        sub_elapsed_ += part;
        left -= part;
        if (len > 0 && sub_elapsed_ >= len - 1e-9) close_sub_interval();
    }
    alarms(dt);
    voltage_alarms(dt);
}

void BcpmPanel::close_sub_interval() {
    if (sub_elapsed_ <= 0) return;
    size_t n_sub = static_cast<size_t>(std::clamp<int>(static_cast<int16_t>(r_[71]), 1, 6));
    for (int n = 1; n <= kChannels; ++n) {
        Channel& c = ch_[n];
        c.hist.emplace_back(c.sub_amp_s / sub_elapsed_, c.sub_kw_s / sub_elapsed_);
        while (c.hist.size() > n_sub) c.hist.pop_front();
        double sa = 0, sk = 0;
        for (auto& [a, k] : c.hist) {
            sa += a;
            sk += k;
        }
        c.dem_amps = sa / c.hist.size();
        c.dem_kw = sk / c.hist.size();
        c.max_dem_amps = std::max(c.max_dem_amps, c.dem_amps);
        c.max_dem_kw = std::max(c.max_dem_kw, c.dem_kw);
        c.sub_amp_s = c.sub_kw_s = 0;
    }
    aux3_.hist.push_back(aux3_.sub_kw_s / sub_elapsed_);
    while (aux3_.hist.size() > n_sub) aux3_.hist.pop_front();
    double s = 0;
    for (double v : aux3_.hist) s += v;
    aux3_.dem_kw = s / aux3_.hist.size();
    aux3_.max_dem_kw = std::max(aux3_.max_dem_kw, aux3_.dem_kw);
    aux3_.sub_kw_s = 0;
    sub_elapsed_ = 0;
}

void BcpmPanel::reset_demand() {
    for (int n = 1; n <= kChannels; ++n) {
        Channel& c = ch_[n];
        c.hist.clear();
        c.sub_amp_s = c.sub_kw_s = 0;
        c.dem_amps = c.dem_kw = 0;
    }
    aux3_.hist.clear();
    aux3_.sub_kw_s = aux3_.dem_kw = 0;
    sub_elapsed_ = 0;
}

void BcpmPanel::alarms(double dt) {
    auto reg = [&](int r) { return static_cast<double>(static_cast<int16_t>(r_[r])); };
    const double hyst = reg(177) / 1000.0;
    for (int n = 1; n <= kChannels; ++n) {
        Channel& c = ch_[n];
        if (!channel_valid(n)) continue;
        double b = breaker(n), i = c.amps;
        if (b <= 0) {  // breaker size 0 disables every alarm on the channel
            c.status &= static_cast<uint16_t>(~0x300);
            c.on = false;
            c.on_t = c.off_t = 0;
            continue;
        }
        // Non-latching, instantaneous, with hysteresis.
        double th = b * reg(175) / 1000.0, tl = b * reg(176) / 1000.0;
        bool was_nl = c.status & 0x300;
        if (reg(175) > 0) {
            if (i > th) c.status |= 0x100;
            else if ((c.status & 0x100) && i < th * (1 - hyst)) c.status &= static_cast<uint16_t>(~0x100);
        } else {
            c.status &= static_cast<uint16_t>(~0x100);
        }
        if (reg(176) > 0) {
            if (i < tl) c.status |= 0x200;
            else if ((c.status & 0x200) && i > tl * (1 + hyst)) c.status &= static_cast<uint16_t>(~0x200);
        } else {
            c.status &= static_cast<uint16_t>(~0x200);
        }
        if (!was_nl && (c.status & 0x300)) r_[227] = static_cast<uint16_t>(n);
        // ON/OFF state machine around the low-low threshold.
        double ll = b * reg(174) / 1000.0;
        if (!c.on) {
            c.on_t = i > ll ? c.on_t + dt : 0;
            if (c.on_t >= reg(169)) {
                c.on = true;
                c.on_t = c.off_t = 0;
                for (double& t : c.lt) t = 0;
            }
        } else {
            c.off_t = i < ll ? c.off_t + dt : 0;
            if (c.off_t >= reg(170)) {
                c.on = false;
                c.off_t = 0;
                if (!(c.status & 0x10)) {
                    c.status |= 0x10;
                    c.counters[4] = bump_counter(c.counters[4]);
                    r_[300] = bump_counter(r_[300]);
                    r_[226] = static_cast<uint16_t>(n);
                }
            }
        }
        if (!c.on) continue;
        // Latching HH, H, L, LL after their delays.
        const bool cond[4] = {reg(171) > 0 && i > b * reg(171) / 1000.0, reg(172) > 0 && i > b * reg(172) / 1000.0,
                              reg(173) > 0 && i < b * reg(173) / 1000.0, reg(174) > 0 && i < ll};
        for (int k = 0; k < 4; ++k) {
            if (!cond[k]) {
                c.lt[k] = 0;
                continue;
            }
            c.lt[k] += dt;
            uint16_t bit = static_cast<uint16_t>(1u << k);
            if (c.lt[k] > reg(165 + k) && !(c.status & bit)) {
                c.status |= bit;
                c.counters[k] = bump_counter(c.counters[k]);
                r_[296 + k] = bump_counter(r_[296 + k]);
                r_[226] = static_cast<uint16_t>(n);
            }
        }
    }
}

void BcpmPanel::voltage_alarms(double dt) {
    if (opts_.model == BcpmModel::C) return;
    auto reg = [&](int r) { return static_cast<double>(static_cast<int16_t>(r_[r])); };
    double vscale = std::pow(10.0, reg(244) == -32768 ? 0 : reg(244));
    double over = reg(238) * vscale, under = reg(239) * vscale, h = reg(240) / 1000.0;
    auto ll = [](double x, double y) { return std::sqrt(x * x + y * y + x * y); };
    const double v[3] = {ll(volts_[0], volts_[1]), ll(volts_[1], volts_[2]), ll(volts_[0], volts_[2])};
    for (int k = 0; k < 3; ++k) {
        uint16_t& s = v_status_[k];
        if (over > 0) {
            if (v[k] > over) s |= 0x100;
            else if ((s & 0x100) && v[k] < over * (1 - h)) s &= static_cast<uint16_t>(~0x100);
        } else {
            s &= static_cast<uint16_t>(~0x100);
        }
        if (under > 0) {
            if (v[k] < under) s |= 0x200;
            else if ((s & 0x200) && v[k] > under * (1 + h)) s &= static_cast<uint16_t>(~0x200);
        } else {
            s &= static_cast<uint16_t>(~0x200);
        }
        const bool cond[2] = {over > 0 && v[k] > over, under > 0 && v[k] < under};
        for (int j = 0; j < 2; ++j) {
            if (!cond[j]) {
                vl_t_[k][j] = 0;
                continue;
            }
            vl_t_[k][j] += dt;
            if (vl_t_[k][j] > reg(236 + j)) s |= static_cast<uint16_t>(1u << j);
        }
    }
}

}  // namespace gridlet::sim
