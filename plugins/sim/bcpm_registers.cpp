// BcpmPanel: register map, reads, validated writes, reset codes, refresh of
// the integer and float copies, non-volatile state.
#include "bcpm_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace gridlet::sim {
namespace {

constexpr uint16_t kInvalid = 0x8000;
constexpr uint16_t kCodeClearKwh = 10203, kCodeClearMax = 29877, kCodeNewSub = 26012, kCodeResetDemand = 26013,
                   kCodeClearLatched = 31010, kCodeClearMaxDemand = 20097;


// Smallest exponent >= -3 that keeps `max_value` within int16.
int scale_for(double max_value) {
    for (int e = -3; e < 4; ++e)
        if (max_value / std::pow(10.0, e) <= 32767.0) return e;
    return 4;
}

}  // namespace

BcpmPanel::BcpmPanel(const BcpmPanelOptions& o) : opts_(o), r_(65537, 0), noise_(o.seed * 7919ull + o.unit_id) {
    r_[1] = static_cast<uint16_t>(o.serial >> 16);
    r_[2] = static_cast<uint16_t>(o.serial & 0xFFFF);
    r_[3] = 1027;  // firmware RS 1.027
    r_[4] = 1013;  // firmware OS
    r_[5] = static_cast<uint16_t>(o.model);
    const char* loc = "Location";
    for (int i = 0; loc[i]; i += 2)
        r_[7 + i / 2] = static_cast<uint16_t>((uint8_t(loc[i]) << 8) | (loc[i + 1] ? uint8_t(loc[i + 1]) : 0));
    r_[71] = 1;
    r_[72] = 900;
    for (int c = 1; c <= kChannels; ++c) {
        r_[72 + c] = c <= kBranches ? 100 : 200;   // CT size
        r_[118 + c] = c <= kBranches ? 20 : 225;   // breaker size
    }
    const uint16_t alarm_defaults[] = {10, 10, 10, 10, 10, 30, 700, 600, 75, 25, 600, 50, 50};
    for (int i = 0; i < 13; ++i) r_[165 + i] = alarm_defaults[i];
    r_[60000] = o.unit_id;
    r_[60001] = 19200 / 100;
    r_[60004] = 1;
    for (int p = 0; p < 3; ++p) volts_[p] = o.nominal_voltage;
    for (int c = 1; c <= kChannels; ++c) ch_[c].shape = load_shape_for(o.seed * 131 + o.unit_id, c, breaker(c));
    for (int c : o.overloaded) {
        if (c < 1 || c > kBranches) continue;
        ch_[c].shape.kind = LoadKind::It;  // steady (0.80-0.90 of its peak)
        ch_[c].shape.pf = 0.97;
        ch_[c].shape.peak_amps = breaker(c) * 1.1 / 0.85;
    }
    refresh();
}

BcpmPanel::Access BcpmPanel::access(int reg) {
    if (reg >= 1 && reg <= 5) return Access::R;
    if (reg >= 6 && reg <= 223) return Access::RW;
    if (reg >= 224 && reg <= 235) return Access::R;
    if (reg >= 236 && reg <= 243) return Access::RW;
    if (reg >= 244 && reg <= 293) return Access::R;
    if (reg == 294 || reg == 295) return Access::W;
    if (reg >= 296 && reg <= 530) return Access::R;
    if (reg == 531) return Access::RW;
    if (reg >= 532 && reg <= 543) return Access::R;
    if (reg >= 600 && reg <= 683) return Access::R;
    if (reg >= 1000 && reg <= 1125) return Access::R;
    if (reg >= 1126 && reg <= 1167) return Access::W;
    if (reg >= 1168 && reg <= 1671) return Access::R;
    if (reg >= 2000 && reg <= 2923) return Access::R;
    if (reg >= 60000 && reg <= 60004) return Access::R;
    if (reg == 62017) return Access::RW;
    if (reg >= 62116 && reg <= 62161) return Access::RW;
    return Access::None;
}

bool BcpmPanel::channel_valid(int ch) const {
    return ch > kBranches ? ch <= kChannels : ch >= 1 && ch <= opts_.branch_channels;
}

uint8_t BcpmPanel::read_registers(int /*fc*/, uint16_t addr, uint16_t count, uint16_t* out) {
    std::lock_guard lk(mu_);
    for (int i = 0; i < count; ++i) {
        int reg = addr + 1 + i;
        Access a = access(reg);
        if (a == Access::None) return kIllegalDataAddress;
        out[i] = a == Access::W ? 0 : r_[reg];
    }
    return kOk;
}

uint8_t BcpmPanel::validate_write(int reg, uint16_t v) const {
    Access a = access(reg);
    if (a != Access::RW && a != Access::W) return kIllegalDataAddress;
    int16_t s = static_cast<int16_t>(v);
    auto in = [&](int lo, int hi) { return int(s) >= lo && int(s) <= hi ? kOk : kIllegalDataValue; };
    if (reg == 6) return (v == 0 || v == 2) ? kOk : kIllegalDataValue;
    if (reg >= 7 && reg <= 70) return kOk;
    if (reg == 71) return in(1, 6);
    if (reg == 72) return (s == 0 || s >= 10) ? kOk : kIllegalDataValue;
    if (reg >= 73 && reg <= 170) return in(0, 32767);
    if (reg >= 171 && reg <= 177) return in(0, 1000);
    if (reg >= 178 && reg <= 223) return kOk;
    if (reg >= 236 && reg <= 239) return in(0, 32767);
    if (reg == 240) return in(0, 1000);
    if (reg >= 241 && reg <= 243) return kOk;
    if (reg == 294 || (reg >= 1126 && reg <= 1167))
        return (v == kCodeClearKwh || v == kCodeClearMax) ? kOk : kIllegalDataValue;
    if (reg == 295)
        return (v == kCodeNewSub || v == kCodeResetDemand || v == kCodeClearLatched || v == kCodeClearKwh ||
                v == kCodeClearMax || v == kCodeClearMaxDemand)
                   ? kOk
                   : kIllegalDataValue;
    if (reg == 531) return in(0, 32767);
    if (reg == 62017) return kOk;
    if (reg >= 62116 && reg <= 62161) return in(0, 2);
    return kIllegalDataAddress;
}

uint8_t BcpmPanel::write_registers(int /*fc*/, uint16_t addr, uint16_t count, const uint16_t* v) {
    std::lock_guard lk(mu_);
    for (int i = 0; i < count; ++i) {
        uint8_t e = validate_write(addr + 1 + i, v[i]);
        if (e == kIllegalDataValue && !opts_.strict) return kOk;  // lenient: acknowledge, keep old value
        if (e) return e;
    }
    for (int i = 0; i < count; ++i) apply_write(addr + 1 + i, v[i]);
    refresh();
    return kOk;
}

void BcpmPanel::apply_write(int reg, uint16_t v) {
    if (reg >= 178 && reg <= 223) {  // clear latching bits written as 0; others ignored
        Channel& c = ch_[reg - 177];
        c.status &= static_cast<uint16_t>(~(~v & 0x1F));
        return;
    }
    if (reg >= 241 && reg <= 243) {
        v_status_[reg - 241] &= static_cast<uint16_t>(~(~v & 0x03));
        return;
    }
    if (reg >= 1126 && reg <= 1167) {
        int n = reg - 1125;
        command(n, n, v);
        return;
    }
    if (reg == 294) {
        command(43, 46, v);
        if (v == kCodeClearMax) aux3_.max_kw = 0;
        return;
    }
    if (reg == 295) {
        global_command(v);
        return;
    }
    r_[reg] = v;
}

void BcpmPanel::command(int first, int last, uint16_t code) {
    for (int n = first; n <= last; ++n) {
        if (code == kCodeClearKwh) ch_[n].kwh = 0;
        if (code == kCodeClearMax) ch_[n].max_amps = ch_[n].max_kw = 0;
    }
}

void BcpmPanel::global_command(uint16_t code) {
    switch (code) {
    case kCodeNewSub:
        close_sub_interval();
        break;
    case kCodeResetDemand:
        reset_demand();
        break;
    case kCodeClearLatched:
        for (int c = 1; c <= kChannels; ++c) ch_[c].status &= 0xFFE0;
        for (auto& s : v_status_) s &= 0xFFFC;
        break;
    case kCodeClearKwh:
    case kCodeClearMax:
        command(1, kChannels, code);
        if (code == kCodeClearMax) aux3_.max_kw = 0;
        break;
    case kCodeClearMaxDemand:
        for (int c = 1; c <= kChannels; ++c) ch_[c].max_dem_amps = ch_[c].max_dem_kw = 0;
        aux3_.max_dem_kw = 0;
        break;
    default:
        break;
    }
}

void BcpmPanel::put_int(int reg, double value, int scale, bool valid) {
    if (!valid || std::isnan(value)) {
        r_[reg] = kInvalid;
        return;
    }
    double raw = std::round(value / std::pow(10.0, scale));
    if (raw > 32767) raw = 32767;
    if (raw < -32767) raw = -32767;
    r_[reg] = static_cast<uint16_t>(static_cast<int16_t>(raw));
}

void BcpmPanel::put_float(int reg, double value, bool valid) {
    uint32_t bits = 0x7FC00000u;
    if (valid) {
        float f = static_cast<float>(value);
        std::memcpy(&bits, &f, 4);
    }
    put_u32(reg, bits);
}

void BcpmPanel::put_u32(int reg, uint32_t v) {
    r_[reg] = static_cast<uint16_t>(v >> 16);
    r_[reg + 1] = static_cast<uint16_t>(v & 0xFFFF);
}

void BcpmPanel::refresh() {
    const bool model_a = opts_.model == BcpmModel::A;
    const bool has_voltage = opts_.model != BcpmModel::C;
    // Per-branch single-phase section.
    for (int n = 1; n <= kBranches; ++n) {
        const Channel& c = ch_[n];
        bool ok = channel_valid(n), pw = ok && model_a;
        int ei = scale_for(1.2 * ct(n));
        int ep = scale_for(1.2 * ct(n) * 300.0 / 1000.0);
        r_[1000 + n - 1] = ok ? static_cast<uint16_t>(ei) : kInvalid;
        r_[1042 + n - 1] = pw ? static_cast<uint16_t>(ep) : kInvalid;
        r_[1084 + n - 1] = pw ? static_cast<uint16_t>(ep) : kInvalid;
        int kreg = 1168 + 2 * (n - 1);
        if (pw) put_u32(kreg, static_cast<uint32_t>(std::llround(c.kwh / std::pow(10.0, ep))));
        else put_u32(kreg, 0x80000000u);
        put_float(2000 + 2 * (n - 1), c.kwh, pw);
        struct Q { int base; double v; int scale; bool valid; };
        const Q qs[] = {{1252, c.kw, ep, pw},          {1294, c.pf, -3, pw},         {1336, c.amps, ei, ok},
                        {1378, c.dem_kw, ep, pw},      {1420, c.max_dem_kw, ep, pw}, {1462, c.dem_amps, ei, ok},
                        {1504, c.max_dem_amps, ei, ok}, {1546, c.max_kw, ep, pw},    {1588, c.max_amps, ei, ok},
                        {1630, c.kva, ep, pw}};
        for (const Q& q : qs) {
            int reg = q.base + n - 1;
            put_int(reg, q.v, q.scale, q.valid);
            put_float(2 * reg - 420, q.v, q.valid);
        }
    }
    // Voltages and frequency.
    const int ev = -1;
    r_[244] = has_voltage ? static_cast<uint16_t>(ev) : kInvalid;
    double va = volts_[0], vb = volts_[1], vc = volts_[2];
    auto ll = [](double x, double y) { return std::sqrt(x * x + y * y + x * y); };
    double f = opts_.frequency + 0.02 * std::sin(t_ / 37.0);
    const double vals[] = {(va + vb + vc) / 3, (ll(va, vb) + ll(vb, vc) + ll(va, vc)) / 3, va, vb, vc,
                           ll(va, vb), ll(vb, vc), ll(va, vc)};
    put_int(245, f, -2, has_voltage);
    put_float(600, f, has_voltage);
    for (int i = 0; i < 8; ++i) {
        put_int(246 + i, vals[i], ev, has_voltage);
        put_float(602 + 2 * i, vals[i], has_voltage);
    }
    // Aux (mains) channels 43..46.
    const bool apw = opts_.model != BcpmModel::C;
    int eai[4], eap[3];
    for (int k = 0; k < 4; ++k) {
        eai[k] = scale_for(1.2 * ct(43 + k));
        r_[284 + k] = static_cast<uint16_t>(eai[k]);
    }
    for (int k = 0; k < 3; ++k) {
        eap[k] = scale_for(1.2 * ct(43 + k) * 300.0 / 1000.0);
        r_[288 + k] = apw ? static_cast<uint16_t>(eap[k]) : kInvalid;
    }
    double maxct = std::max({ct(43), ct(44), ct(45)});
    int e3p = scale_for(3 * 1.2 * maxct * 300.0 / 1000.0);
    int e3i = scale_for(1.2 * maxct);
    r_[291] = apw ? static_cast<uint16_t>(e3p) : kInvalid;
    r_[292] = apw ? static_cast<uint16_t>(e3p) : kInvalid;
    r_[293] = static_cast<uint16_t>(e3i);
    double kwh3 = 0, kw3 = 0, kva3 = 0, amps3 = 0;
    for (int k = 0; k < 3; ++k) {
        const Channel& c = ch_[43 + k];
        kwh3 += c.kwh;
        kw3 += c.kw;
        kva3 += c.kva;
        amps3 += c.amps / 3;
    }
    if (apw) put_u32(254, static_cast<uint32_t>(std::llround(kwh3 / std::pow(10.0, e3p))));
    else put_u32(254, 0x80000000u);
    put_float(618, kwh3, apw);
    auto both = [&](int reg, double v, int scale, bool valid) {
        put_int(reg, v, scale, valid);
        int freg = reg <= 253 ? 600 + 2 * (reg - 245) : reg <= 283 ? 620 + 2 * (reg - 256) : 676 + 2 * (reg - 540);
        put_float(freg, v, valid);
    };
    both(256, kw3, e3p, apw);
    both(257, kva3 > 0 ? kw3 / kva3 : 0, -3, apw);
    both(258, amps3, e3i, true);
    for (int k = 0; k < 3; ++k) {
        const Channel& c = ch_[43 + k];
        both(259 + k, c.kw, eap[k], apw);
        both(262 + k, c.pf, -3, apw);
        both(541 + k, c.kva, eap[k], apw);
    }
    for (int k = 0; k < 4; ++k) {
        const Channel& c = ch_[43 + k];
        both(265 + k, c.amps, eai[k], true);
        both(269 + k, c.dem_amps, eai[k], true);
        both(273 + k, c.max_dem_amps, eai[k], true);
        both(279 + k, c.max_amps, eai[k], true);
    }
    both(277, aux3_.dem_kw, e3p, apw);
    both(278, aux3_.max_dem_kw, e3p, apw);
    both(283, aux3_.max_kw, e3p, apw);
    both(540, kva3, e3p, apw);
    // Alarms.
    uint16_t g_latch = 0, g_nl = 0, n_latch = 0, n_nl = 0;
    for (int c = 1; c <= kChannels; ++c) {
        uint16_t s = ch_[c].status;
        r_[177 + c] = s;
        g_latch |= s & 0x1F;
        if (s & 0x100) g_nl |= 0x1;
        if (s & 0x200) g_nl |= 0x2;
        if (s & 0x1F) n_latch++;
        if (s & 0x300) n_nl++;
        for (int k = 0; k < 5; ++k) r_[300 + 46 * k + c] = ch_[c].counters[k];
    }
    for (int k = 0; k < 3; ++k) {
        r_[241 + k] = v_status_[k];
        if (v_status_[k] & 0x1) g_latch |= 0x100;
        if (v_status_[k] & 0x2) g_latch |= 0x200;
        g_nl |= v_status_[k] & 0x300;
    }
    r_[224] = g_latch;
    r_[225] = g_nl;
    r_[228] = n_latch;
    r_[229] = n_nl;
    r_[532] = static_cast<uint16_t>(opts_.model == BcpmModel::A ? 0x8000 : opts_.model == BcpmModel::B ? 0x4000 : 0x2000);
    r_[539] = 0x0002 | 0x1000;
}

std::string BcpmPanel::report_server_id() {
    std::lock_guard lk(mu_);
    std::string loc;
    for (int r = 7; r <= 70; ++r) {
        char a = static_cast<char>(r_[r] >> 8), b = static_cast<char>(r_[r] & 0xFF);
        if (!a) break;
        loc += a;
        if (!b) break;
        loc += b;
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "Veris Model Exxx Branch Circuit Monitor, S/N=0x%08X, Location=\"", opts_.serial);
    return std::string(buf) + loc + "\"";
}

uint16_t BcpmPanel::reg(int r) const {
    std::lock_guard lk(mu_);
    return r >= 1 && r <= 65536 && access(r) != Access::W ? r_[r] : 0;
}

double BcpmPanel::energy_kwh(int c) const {
    std::lock_guard lk(mu_);
    return ch_.at(c).kwh;
}

double BcpmPanel::current(int c) const {
    std::lock_guard lk(mu_);
    return ch_.at(c).amps;
}

std::string BcpmPanel::save_nv() const {
    std::lock_guard lk(mu_);
    std::ostringstream o;
    o.precision(17);
    auto regs = [&](int a, int b) {
        for (int r = a; r <= b; ++r) o << "r " << r << ' ' << r_[r] << '\n';
    };
    regs(6, 177);
    regs(236, 240);
    regs(296, 300);
    regs(531, 531);
    regs(62017, 62017);
    regs(62116, 62161);
    for (int c = 1; c <= kChannels; ++c) {
        const Channel& x = ch_[c];
        o << "c " << c << ' ' << x.kwh << ' ' << x.max_dem_amps << ' ' << x.max_dem_kw << ' ' << x.max_amps << ' '
          << x.max_kw << ' ' << (x.status & 0x1F) << '\n';
    }
    for (int k = 0; k < 3; ++k) o << "v " << k << ' ' << (v_status_[k] & 0x3) << '\n';
    o << "a " << aux3_.max_dem_kw << ' ' << aux3_.max_kw << '\n';
    return o.str();
}

void BcpmPanel::load_nv(const std::string& text) {
    {
        std::lock_guard lk(mu_);
        std::istringstream in(text);
        std::string tag;
        while (in >> tag) {
            if (tag == "r") {
                int r = 0, v = 0;
                if (in >> r >> v && r > 0 && r <= 65536 && access(r) == Access::RW) r_[r] = static_cast<uint16_t>(v);
            } else if (tag == "c") {
                int c = 0, st = 0;
                Channel tmp;
                if (in >> c >> tmp.kwh >> tmp.max_dem_amps >> tmp.max_dem_kw >> tmp.max_amps >> tmp.max_kw >> st && c >= 1 &&
                    c <= kChannels) {
                    Channel& x = ch_[c];
                    x.kwh = tmp.kwh;
                    x.max_dem_amps = tmp.max_dem_amps;
                    x.max_dem_kw = tmp.max_dem_kw;
                    x.max_amps = tmp.max_amps;
                    x.max_kw = tmp.max_kw;
                    x.status = static_cast<uint16_t>(st & 0x1F);
                }
            } else if (tag == "v") {
                int k = 0, st = 0;
                if (in >> k >> st && k >= 0 && k < 3) v_status_[k] = static_cast<uint16_t>(st & 0x3);
            } else if (tag == "a") {
                in >> aux3_.max_dem_kw >> aux3_.max_kw;
            } else {
                std::string rest;
                std::getline(in, rest);
            }
        }
        // Global counters 296..300 are read-only on the wire but NV.
        std::istringstream again(text);
        while (again >> tag) {
            int r = 0, v = 0;
            if (tag == "r" && again >> r >> v && r >= 296 && r <= 300) r_[r] = static_cast<uint16_t>(v);
        }
    }
    power_up();
}

void BcpmPanel::power_up() {
    std::lock_guard lk(mu_);
    r_[531] = bump_counter(r_[531]);
    refresh();
}

}  // namespace gridlet::sim
