#include "bus/codec.h"

#include <bit>
#include <cstring>

namespace gridlet::bus {

static_assert(std::endian::native == std::endian::little,
              "the bus codec copies gl_sample records as they are in memory: little-endian hosts only");

namespace {

class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}
    template <class T>
    void put(T v) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        out_.append(b, sizeof(T));
    }
    void bytes(std::string_view s) { out_.append(s.data(), s.size()); }

private:
    std::string& out_;
};

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    template <class T>
    bool get(T& v) {
        if (in_.size() - pos_ < sizeof(T)) return false;
        std::memcpy(&v, in_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    bool bytes(size_t n, std::string_view& out) {
        if (in_.size() - pos_ < n) return false;
        out = in_.substr(pos_, n);
        pos_ += n;
        return true;
    }
    bool at_end() const { return pos_ == in_.size(); }

private:
    std::string_view in_;
    size_t pos_ = 0;
};

std::string start_frame(std::string_view topic, MessageType type, size_t body_hint) {
    std::string out;
    out.reserve(topic.size() + 1 + kHeaderSize + body_hint);
    out.append(topic.data(), topic.size());
    out.push_back('\0');
    out.push_back(static_cast<char>(kMagic));
    out.push_back(static_cast<char>(kVersion));
    out.push_back(static_cast<char>(type));
    out.push_back(0);
    return out;
}

Status bad(const char* what) { return Status::corruption(std::string("bus frame: ") + what); }

uint16_t len16(std::string_view s) { return static_cast<uint16_t>(s.size() > 0xFFFF ? 0xFFFF : s.size()); }
std::string_view cut16(std::string_view s) { return s.substr(0, 0xFFFF); }

}  // namespace

size_t samples_frame_size(std::string_view topic, size_t n) noexcept {
    return topic.size() + 1 + kHeaderSize + 4 + n * kSampleSize;
}

void encode_samples(std::string_view topic, const gl_sample* samples, size_t n, char* out) noexcept {
    std::memcpy(out, topic.data(), topic.size());
    out += topic.size();
    *out++ = '\0';
    *out++ = static_cast<char>(kMagic);
    *out++ = static_cast<char>(kVersion);
    *out++ = static_cast<char>(MessageType::samples);
    *out++ = 0;
    uint32_t count = static_cast<uint32_t>(n);
    std::memcpy(out, &count, 4);
    out += 4;
    if (n) std::memcpy(out, samples, n * kSampleSize);
}

std::string encode_event(std::string_view topic, const EventView& e) {
    std::string out = start_frame(topic, MessageType::event, 24 + e.source.size() + e.type.size() + e.body_json.size());
    Writer w(out);
    w.put<int64_t>(e.ts_ms);
    w.put<int32_t>(e.severity);
    w.put<uint16_t>(len16(e.source));
    w.put<uint16_t>(len16(e.type));
    w.put<uint32_t>(static_cast<uint32_t>(e.body_json.size()));
    w.bytes(cut16(e.source));
    w.bytes(cut16(e.type));
    w.bytes(e.body_json);
    return out;
}

std::string encode_command(std::string_view topic, const CommandView& c) {
    std::string out = start_frame(topic, MessageType::command, 32 + c.target.size() + c.sender.size() + c.text.size());
    Writer w(out);
    w.put<uint64_t>(c.request_id);
    w.put<double>(c.value);
    w.put<uint32_t>(c.timeout_ms);
    w.put<uint16_t>(len16(c.target));
    w.put<uint16_t>(len16(c.sender));
    w.put<uint32_t>(c.has_text ? static_cast<uint32_t>(c.text.size()) : 0xFFFFFFFFu);
    w.bytes(cut16(c.target));
    w.bytes(cut16(c.sender));
    if (c.has_text) w.bytes(c.text);
    return out;
}

std::string encode_reply(std::string_view topic, const ReplyView& r) {
    std::string out = start_frame(topic, MessageType::reply, 24 + r.target.size() + r.error.size());
    Writer w(out);
    w.put<uint64_t>(r.request_id);
    w.put<int32_t>(r.status);
    w.put<uint16_t>(len16(r.target));
    w.put<uint32_t>(static_cast<uint32_t>(r.error.size()));
    w.bytes(cut16(r.target));
    w.bytes(r.error);
    return out;
}

Expected<FrameView> decode_frame(std::string_view frame) {
    size_t nul = frame.find('\0');
    if (nul == std::string_view::npos) return bad("no topic terminator");
    if (frame.size() - nul - 1 < kHeaderSize) return bad("shorter than its header");
    const auto* h = reinterpret_cast<const unsigned char*>(frame.data() + nul + 1);
    if (h[0] != kMagic) return bad("bad magic byte");
    if (h[1] != kVersion) return bad("unknown version");
    if (h[2] < 1 || h[2] > 4) return bad("unknown message type");
    FrameView v;
    v.topic = frame.substr(0, nul);
    v.type = static_cast<MessageType>(h[2]);
    v.body = frame.substr(nul + 1 + kHeaderSize);
    return v;
}

Expected<size_t> sample_count(std::string_view body) {
    Reader r(body);
    uint32_t n = 0;
    if (!r.get(n)) return bad("samples body shorter than its count");
    if ((body.size() - 4) != static_cast<size_t>(n) * kSampleSize) return bad("samples body length does not match its count");
    return static_cast<size_t>(n);
}

void copy_samples(std::string_view body, size_t n, std::vector<gl_sample>& out) {
    out.resize(n);
    if (n) std::memcpy(out.data(), body.data() + 4, n * kSampleSize);
}

Expected<EventView> decode_event(std::string_view body) {
    Reader r(body);
    EventView e;
    uint16_t sl = 0, tl = 0;
    uint32_t bl = 0;
    if (!r.get(e.ts_ms) || !r.get(e.severity) || !r.get(sl) || !r.get(tl) || !r.get(bl)) return bad("event header truncated");
    if (!r.bytes(sl, e.source) || !r.bytes(tl, e.type) || !r.bytes(bl, e.body_json)) return bad("event strings truncated");
    if (!r.at_end()) return bad("event has trailing bytes");
    return e;
}

Expected<CommandView> decode_command(std::string_view body) {
    Reader r(body);
    CommandView c;
    uint16_t tl = 0, sl = 0;
    uint32_t xl = 0;
    if (!r.get(c.request_id) || !r.get(c.value) || !r.get(c.timeout_ms) || !r.get(tl) || !r.get(sl) || !r.get(xl))
        return bad("command header truncated");
    if (!r.bytes(tl, c.target) || !r.bytes(sl, c.sender)) return bad("command strings truncated");
    c.has_text = xl != 0xFFFFFFFFu;
    if (c.has_text && !r.bytes(xl, c.text)) return bad("command text truncated");
    if (!r.at_end()) return bad("command has trailing bytes");
    return c;
}

Expected<ReplyView> decode_reply(std::string_view body) {
    Reader r(body);
    ReplyView v;
    uint16_t tl = 0;
    uint32_t el = 0;
    if (!r.get(v.request_id) || !r.get(v.status) || !r.get(tl) || !r.get(el)) return bad("reply header truncated");
    if (!r.bytes(tl, v.target) || !r.bytes(el, v.error)) return bad("reply strings truncated");
    if (!r.at_end()) return bad("reply has trailing bytes");
    return v;
}

}  // namespace gridlet::bus
