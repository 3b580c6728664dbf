#pragma once
// Little-endian serialisation. ByteReader checks every read against the end of
// its buffer and throws pith::Error naming `what` (usually the file), so parsers
// of untrusted input never read out of bounds.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace pith {

class ByteWriter {
 public:
  std::vector<uint8_t>& buf() { return buf_; }
  const std::vector<uint8_t>& buf() const { return buf_; }
  size_t size() const { return buf_.size(); }

  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));  // x86-64 and aarch64 are little-endian
  }
  void u8(uint8_t v) { put(v); }
  void u16(uint16_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void f32(float v) { put(v); }
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  void bytes(std::span<const uint8_t> b) { bytes(b.data(), b.size()); }
  // u32 length + bytes
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  template <typename T>
  void array(std::span<const T> v) {  // u64 count + raw elements
    u64(v.size());
    bytes(v.data(), v.size_bytes());
  }

 private:
  std::vector<uint8_t> buf_;
};

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> b, std::string what) : b_(b), what_(std::move(what)) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }
  bool done() const { return pos_ == b_.size(); }
  const std::string& what() const { return what_; }

  std::span<const uint8_t> take(size_t n, const char* field) {
    if (n > remaining()) fail(what_, "truncated: {} needs {} bytes, {} left", field, n, remaining());
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  template <typename T>
  T get(const char* field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field).data(), sizeof(T));
    return v;
  }
  uint8_t u8(const char* f) { return get<uint8_t>(f); }
  uint16_t u16(const char* f) { return get<uint16_t>(f); }
  uint32_t u32(const char* f) { return get<uint32_t>(f); }
  uint64_t u64(const char* f) { return get<uint64_t>(f); }
  float f32(const char* f) { return get<float>(f); }
  std::string str(const char* field) {
    uint32_t n = u32(field);
    auto s = take(n, field);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }
  // Reads what ByteWriter::array wrote; the count is checked against the bytes left
  // before anything is allocated.
  template <typename T>
  std::vector<T> array(const char* field) {
    uint64_t n = u64(field);
    if (n > remaining() / sizeof(T)) fail(what_, "corrupt: {} claims {} elements, only {} bytes left", field, n, remaining());
    std::vector<T> v(static_cast<size_t>(n));
    std::memcpy(v.data(), take(v.size() * sizeof(T), field).data(), v.size() * sizeof(T));
    return v;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace pith
