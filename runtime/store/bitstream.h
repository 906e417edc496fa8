// Bit-level writer and reader used by the chunk codec (chunk_codec.h).
// Bits are written most-significant first into bytes; the reader is the
// mirror image. Both are plain values owned by one thread at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace gridlet::store {

class BitWriter {
public:
    explicit BitWriter(std::string& out) : out_(out) {}
    ~BitWriter() { flush(); }
    BitWriter(const BitWriter&) = delete;
    BitWriter& operator=(const BitWriter&) = delete;

    // Appends the low `n` bits of `v` (0 <= n <= 64).
    void write(uint64_t v, int n) {
        if (n == 0) return;
        if (n < 64) v &= (uint64_t{1} << n) - 1;
        int free = 64 - used_;
        if (n <= free) {
            acc_ |= (n == 64) ? v : (v << (free - n));
            used_ += n;
            if (used_ == 64) spill();
        } else {
            int rest = n - free;
            acc_ |= v >> rest;
            used_ = 64;
            spill();
            acc_ = v << (64 - rest);
            used_ = rest;
        }
    }
    void write_bit(bool b) { write(b ? 1 : 0, 1); }

    // Writes the pending partial byte(s). Idempotent.
    void flush() {
        int bytes = (used_ + 7) / 8;
        for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>(acc_ >> (56 - 8 * i)));
        acc_ = 0;
        used_ = 0;
    }

private:
    void spill() {
        char b[8];
        for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(acc_ >> (56 - 8 * i));
        out_.append(b, 8);
        acc_ = 0;
        used_ = 0;
    }
    std::string& out_;
    uint64_t acc_ = 0;
    int used_ = 0;
};

class BitReader {
public:
    BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    // The next `n` bits (1 <= n <= 56) without consuming them; zero past the end.
    uint64_t peek(int n) const {
        size_t byte = pos_ >> 3;
        uint64_t w;
        if (byte + 8 <= size_) {
            std::memcpy(&w, data_ + byte, 8);
            w = __builtin_bswap64(w);
        } else {
            w = 0;
            for (size_t i = 0; i < 8 && byte + i < size_; ++i) w |= uint64_t{data_[byte + i]} << (56 - 8 * i);
        }
        return (w << (pos_ & 7)) >> (64 - n);
    }
    void skip(int n) { pos_ += static_cast<size_t>(n); }
    uint64_t read(int n) {
        if (n == 0) return 0;
        if (n > 56) {
            uint64_t hi = read(n - 32);
            return (hi << 32) | read(32);
        }
        uint64_t v = peek(n);
        pos_ += static_cast<size_t>(n);
        return v;
    }
    // True once more bits were consumed than the stream holds (corrupt input).
    bool overrun() const { return pos_ > size_ * 8; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

inline void put_varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

// Reads a varint at `p` (< end); returns false on truncation.
inline bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        uint8_t b = *p++;
        v |= uint64_t{b & 0x7fu} << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

}  // namespace gridlet::store
