#include "read/npy.h"

#include <cstring>
#include <optional>

#include "common/error.h"

namespace pith {

namespace {

constexpr uint8_t kNpyMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kMaxNpyDims = 32;

// Parser of the Python literal NumPy writes as the header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Only the forms NumPy produces are accepted: a dict of string keys whose values are
// strings, True/False, or tuples of non-negative integers.
class DictParser {
 public:
  DictParser(std::string_view s, const std::string& what) : s_(s), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      std::string key = string_lit();
      expect(':');
      if (key == "descr") {
        if (have_descr) bad("duplicate key 'descr'");
        skip_ws();
        if (peek() != '\'' && peek() != '"') bad("'descr' is not a string (structured dtypes are not supported)");
        std::string d = string_lit();
        auto t = dtype_from_npy_descr(d);
        if (!t) {
          if (!d.empty() && d[0] == '>') fail(what_, "big-endian dtype '{}' is not supported", d);
          fail(what_, "unsupported dtype '{}'", d);
        }
        h.dtype = *t;
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) bad("duplicate key 'fortran_order'");
        h.fortran_order = bool_lit();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) bad("duplicate key 'shape'");
        h.shape = tuple_lit();
        have_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      break;
    }
    skip_ws();
    if (pos_ != s_.size()) bad("text after the closing '}'");
    if (!have_descr || !have_order || !have_shape) bad("needs the keys 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) { fail(what_, "bad .npy header: {}", why); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_lit() {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string v(s_.substr(pos_ + 1, end - pos_ - 1));
    if (v.find('\\') != std::string::npos) bad("escapes in strings are not supported");
    pos_ = end + 1;
    return v;
  }
  bool bool_lit() {
    skip_ws();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("'fortran_order' is not True or False");
  }
  uint64_t int_lit() {
    skip_ws();
    if (!(peek() >= '0' && peek() <= '9')) bad("shape entry is not a non-negative integer");
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, uint64_t(peek() - '0'), &v))
        bad("shape entry overflows 64 bits");
      ++pos_;
    }
    return v;
  }
  std::vector<uint64_t> tuple_lit() {
    expect('(');
    std::vector<uint64_t> v;
    skip_ws();
    if (peek() == ')') {
      ++pos_;
      return v;
    }
    while (true) {
      v.push_back(int_lit());
      if (v.size() > kMaxNpyDims) bad("more than 32 dimensions");
      skip_ws();
      if (peek() == ')') {
        // "(3)" is an int in Python, not a tuple.
        if (v.size() == 1) bad("shape (n) is not a tuple; NumPy writes (n,)");
        ++pos_;
        break;
      }
      expect(',');
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        break;
      }
    }
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::string& what_;
};

}  // namespace

uint64_t NpyHeader::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

bool is_npy(std::span<const uint8_t> b) {
  return b.size() >= sizeof kNpyMagic && std::memcmp(b.data(), kNpyMagic, sizeof kNpyMagic) == 0;
}

NpyHeader parse_npy(std::span<const uint8_t> file, const std::string& what) {
  if (!is_npy(file)) fail(what, "not a .npy file (magic \\x93NUMPY missing)");
  if (file.size() < 10) fail(what, "truncated .npy header");
  const int major = file[6], minor = file[7];
  if (major < 1 || major > 3 || minor != 0) fail(what, "unsupported .npy format version {}.{}", major, minor);
  uint64_t hlen, start;
  if (major == 1) {
    hlen = uint64_t{file[8]} | uint64_t{file[9]} << 8;
    start = 10;
  } else {
    if (file.size() < 12) fail(what, "truncated .npy header");
    hlen = uint64_t{file[8]} | uint64_t{file[9]} << 8 | uint64_t{file[10]} << 16 | uint64_t{file[11]} << 24;
    start = 12;
  }
  if (hlen > file.size() - start)
    fail(what, "truncated: .npy header claims {} bytes, only {} follow", hlen, file.size() - start);
  std::string_view text(reinterpret_cast<const char*>(file.data() + start), hlen);
  // Versions 1 and 2 are latin-1, 3 is UTF-8; the keys and values pith accepts are
  // ASCII either way, so any other byte would only appear inside a rejected value.
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80 && major < 3) fail(what, "bad .npy header: non-ASCII byte");
  NpyHeader h = DictParser(text, what).parse();
  h.major = major;
  h.data_offset = start + hlen;
  uint64_t bytes = dtype_size(h.dtype);
  for (uint64_t d : h.shape)
    if (__builtin_mul_overflow(bytes, d, &bytes)) fail(what, ".npy shape overflows 64 bits");
  h.data_size = bytes;
  const uint64_t avail = file.size() - h.data_offset;
  if (bytes > avail) fail(what, "truncated: .npy shape needs {} data bytes, the file has {}", bytes, avail);
  if (bytes < avail) fail(what, ".npy file has {} bytes after the array data", avail - bytes);
  return h;
}

NpyFile::NpyFile(const std::string& path) : map_(path), header_(parse_npy(map_.bytes(), path)) {}

std::vector<uint8_t> npy_preamble(DType dtype, std::span<const uint64_t> shape) {
  auto descr = dtype_npy_descr(dtype);
  if (!descr) fail_msg("dtype {} has no NumPy equivalent", dtype_name(dtype));
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ',';  // "(3,)": "(3)" would be an int in Python
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", *descr, dims);
  size_t prefix = 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  int major = 1;
  if (total - prefix > 0xffff) {
    prefix = 12;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
    major = 2;
  }
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::vector<uint8_t> out(kNpyMagic, kNpyMagic + sizeof kNpyMagic);
  out.push_back(static_cast<uint8_t>(major));
  out.push_back(0);
  const uint64_t hlen = dict.size();
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>(hlen >> (8 * i)));
  out.insert(out.end(), dict.begin(), dict.end());
  return out;
}

void write_npy(const std::string& path, DType dtype, std::span<const uint64_t> shape, std::span<const uint8_t> data,
               bool force) {
  uint64_t bytes = dtype_size(dtype);
  for (uint64_t d : shape) bytes *= d;
  if (bytes != data.size()) fail(path, "internal error: {} data bytes for a shape of {} bytes", data.size(), bytes);
  auto pre = npy_preamble(dtype, shape);
  OutputFile out(path, force);
  out.write(pre);
  out.write(data);
  out.commit();
}

}  // namespace pith
