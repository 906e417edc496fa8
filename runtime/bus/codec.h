// The bus wire format. Every bus message is ONE ZeroMQ frame:
//
//   topic bytes | 0x00 | header (4 bytes) | body
//   header = 'G' (0x47), version (1), type (MessageType), flags (0)
//
// ZeroMQ's prefix subscription matches on the topic bytes; the NUL ends the
// topic. Bodies are little-endian:
//   samples: u32 count, then count x 24-byte records laid out as gl_sample
//   event:   i64 ts_ms, i32 severity, u16 source_len, u16 type_len,
//            u32 body_len, source, type, body
//   command: u64 request_id, f64 value, u32 timeout_ms, u16 target_len,
//            u16 sender_len, u32 text_len (0xFFFFFFFF: no text), strings
//   reply:   u64 request_id, i32 status, u16 target_len, u32 error_len, strings
//
// Decoding is bounds-checked: a frame that is short, long, of another
// version or type, or whose lengths do not add up, is refused with
// StatusCode::corruption and never read past its end. Pure functions; any
// thread. Decoded views borrow the frame's bytes.
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace gridlet::bus {

inline constexpr uint8_t kMagic = 0x47;  // 'G'
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 4;
inline constexpr size_t kSampleSize = 24;
static_assert(sizeof(gl_sample) == kSampleSize, "gl_sample must stay 24 bytes");

enum class MessageType : uint8_t { samples = 1, event = 2, command = 3, reply = 4 };

struct EventView {
    int64_t ts_ms = 0;
    int32_t severity = 0;
    std::string_view source;
    std::string_view type;
    std::string_view body_json;
};

struct CommandView {
    uint64_t request_id = 0;
    double value = 0;
    uint32_t timeout_ms = 0;
    std::string_view target;
    std::string_view sender;
    bool has_text = false;
    std::string_view text;
};

struct ReplyView {
    uint64_t request_id = 0;
    int32_t status = 0;
    std::string_view target;
    std::string_view error;
};

// A decoded frame: topic and type, plus the body for that type.
struct FrameView {
    std::string_view topic;
    MessageType type = MessageType::samples;
    std::string_view body;  // after the header
};

// Size of a samples frame for `topic` and n samples.
size_t samples_frame_size(std::string_view topic, size_t n) noexcept;
// Writes a samples frame into `out` (exactly samples_frame_size bytes).
void encode_samples(std::string_view topic, const gl_sample* samples, size_t n, char* out) noexcept;

std::string encode_event(std::string_view topic, const EventView& e);
std::string encode_command(std::string_view topic, const CommandView& c);
std::string encode_reply(std::string_view topic, const ReplyView& r);

// Splits topic, checks the header.
Expected<FrameView> decode_frame(std::string_view frame);
// Number of samples in a samples body, after checking its length.
Expected<size_t> sample_count(std::string_view body);
// Copies the samples of a checked body into `out` (resized).
void copy_samples(std::string_view body, size_t n, std::vector<gl_sample>& out);
Expected<EventView> decode_event(std::string_view body);
Expected<CommandView> decode_command(std::string_view body);
Expected<ReplyView> decode_reply(std::string_view body);

}  // namespace gridlet::bus
