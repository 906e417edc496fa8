// LinkWorker: commands and point writes with read-back (link_worker.h).
#include "link_worker.h"

#include "codec.h"

#include <cmath>

namespace gridlet::modbus {

void LinkWorker::command(const std::string& device, const std::string& point, double value, const std::string& text, CommandDone done) {
    {
        std::lock_guard lk(mu_);
        if (!stop_) {
            jobs_.push_back({device, point, value, text, std::move(done)});
            cv_.notify_all();
            return;
        }
    }
    done(GL_ERR_STOPPED, "driver is stopping");
}

void LinkWorker::execute(Job& j) {
    Dev* d = find(j.device);
    if (!d) return j.done(GL_ERR_NOT_FOUND, "modbus: unknown device '" + j.device + "'");
    std::string target = j.point;
    const Profile& prof = *d->profile;
    const Command* c = prof.find_command(target);
    if (!c && !j.text.empty()) {
        c = prof.find_command(target + "/" + j.text);
        if (c) target += "/" + j.text;
    }
    const Point* p = c ? nullptr : prof.find_point(target);
    if (!c && !p) return j.done(GL_ERR_NOT_FOUND, "modbus: device '" + j.device + "' (profile '" + prof.name +
                                                      "') has no point or command '" + target + "'");
    if (p && !p->writable) return j.done(GL_ERR_INVALID, "modbus: point '" + target + "' is read-only");
    // A point is written a number; a text would be silently ignored.
    if (p && !j.text.empty())
        return j.done(GL_ERR_INVALID, "modbus: point '" + target + "' takes a number (value), not the text '" + j.text +
                                          "' (a text names a command of the profile)");
    if (!ensure_connected(*d)) return fail_write(*d, j, "device '" + j.device + "' is not connected");
    if (c) {
        Result r = transact(*d, [&] { return link_->write(d->cfg.unit_id, c->fc, static_cast<uint16_t>(c->address), c->words, d->cfg.timeout_ms); });
        if (r.outcome != Outcome::Ok) return fail_write(*d, j, "command '" + target + "' (register " + std::to_string(c->address + prof.address_base) + "): " + r.error);
        count_write(*d, true);
        return j.done(GL_OK, "");
    }
    write_point(*d, j, *p, target);
}

void LinkWorker::count_write(Dev& d, bool ok) {
    std::lock_guard sl(stats_mu_);
    (ok ? d.stats.writes : d.stats.write_errors)++;
}

void LinkWorker::fail_write(Dev& d, Job& j, const std::string& why) {
    count_write(d, false);
    j.done(GL_ERR, "modbus: " + why);
}

void LinkWorker::write_point(Dev& d, Job& j, const Point& p, const std::string& target) {
    size_t idx = static_cast<size_t>(&p - d.profile->points.data());
    RegisterPlan rb = plan_reads(*d.profile, {idx});
    PointDecoder dec(*d.profile, rb);
    std::vector<uint16_t> buf(dec.buffer_size(), 0);
    std::vector<uint8_t> ok(rb.requests.size(), 0);
    auto read_all = [&]() -> std::string {
        for (size_t i = 0; i < rb.requests.size(); ++i) {
            const ReadRequest& rq = rb.requests[i];
            uint16_t* out = buf.data() + dec.request_offset(i);
            Result r = transact(d, [&] { return link_->read(d.cfg.unit_id, rq.fc, rq.address, rq.count, out, d.cfg.timeout_ms); });
            if (r.outcome != Outcome::Ok) return r.error;
            ok[i] = 1;
        }
        return {};
    };
    int exp = p.scale;
    if (p.has_scale_register) {  // never trust a cached scale: read it now
        if (std::string e = read_all(); !e.empty()) return fail_write(d, j, "reading the scale of '" + target + "': " + e);
        uint16_t s = buf[dec.request_offset(rb.scales[idx].request) + rb.scales[idx].offset];
        if (s == 0x8000) return fail_write(d, j, "the scale register of '" + target + "' reads invalid (0x8000)");
        exp += static_cast<int16_t>(s);
    }
    // The inverse of scaled(): multiply by the power of ten that decoding divides by.
    const auto [mult, e10] = fold_multiplier(p.multiplier, exp);
    double raw = p.type == ValueType::Bool ? (j.value != 0)
                 : e10 < 0                 ? j.value * pow10i(-e10) / mult
                                           : j.value / (mult * pow10i(e10));
    auto words = encode(raw, p.type, p.word_order, p.byte_order);
    if (!words) return fail_write(d, j, "value " + std::to_string(j.value) + " does not fit '" + target + "' (" + value_type_name(p.type) + ", scale 10^" + std::to_string(exp) + ")");
    Result r = transact(d, [&] { return link_->write(d.cfg.unit_id, p.write_fc, static_cast<uint16_t>(p.address), *words, d.cfg.timeout_ms); });
    if (r.outcome != Outcome::Ok) return fail_write(d, j, "writing '" + target + "' (register " + std::to_string(p.address + d.profile->address_base) + "): " + r.error);
    if (std::string e = read_all(); !e.empty()) return fail_write(d, j, "read-back of '" + target + "': " + e);
    double back;
    uint8_t q;
    if (!dec.value(idx, buf.data(), ok.data(), &back, &q) || q != GL_QUALITY_GOOD)
        return fail_write(d, j, "read-back of '" + target + "' gave no valid value");
    double lsb = p.type == ValueType::Float32 ? std::fabs(j.value) * 1e-6 : p.multiplier * pow10i(exp) * 0.5;
    if (std::fabs(back - j.value) > lsb + 1e-12)
        return fail_write(d, j, "read-back mismatch on '" + target + "': wrote " + std::to_string(j.value) +
                                    ", device reports " + std::to_string(back) + " (write silently rejected?)");
    count_write(d, true);
    gl_sample s = sample(sink_.now_ms(), back, d.series[idx], GL_QUALITY_GOOD);
    sink_.publish(&s, 1);
    j.done(GL_OK, "");
}

}  // namespace gridlet::modbus
