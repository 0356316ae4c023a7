// The byte code both harnesses read: a fuzzer's input is a program, one opcode byte (taken modulo
// the harness's op count) and its operand bytes at a time. Every byte string is a valid program;
// a missing operand reads as 0. ProgramBuilder writes the same format (the seed generator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qmtkit::fuzz {

class ProgramReader {
  public:
    ProgramReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool done() const { return pos_ >= size_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    // Up to `n` raw bytes (fewer at the end of the input).
    std::string_view bytes(std::size_t n) {
        const std::size_t k = n < size_ - pos_ ? n : size_ - pos_;
        const std::string_view s(reinterpret_cast<const char*>(data_ + pos_), k);
        pos_ += k;
        return s;
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

class ProgramBuilder {
  public:
    template <class Op, class... Operands>
    ProgramBuilder& op(Op o, Operands... operands) {
        bytes_.push_back(static_cast<std::uint8_t>(o));
        (bytes_.push_back(static_cast<std::uint8_t>(operands)), ...);
        return *this;
    }
    ProgramBuilder& u8(std::uint8_t b) {
        bytes_.push_back(b);
        return *this;
    }
    // A length byte and the bytes: the operand of the feed_raw ops (at most 255 bytes).
    ProgramBuilder& blob(std::string_view s) {
        bytes_.push_back(static_cast<std::uint8_t>(s.size()));
        bytes_.insert(bytes_.end(), s.begin(), s.begin() + (s.size() > 255 ? 255 : s.size()));
        return *this;
    }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }

  private:
    std::vector<std::uint8_t> bytes_;
};

}  // namespace qmtkit::fuzz
