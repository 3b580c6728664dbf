#include "read/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace pith {

namespace {

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxDims = 32;

uint64_t header_length(std::span<const uint8_t> file) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  return n;
}

// Rejects nesting deeper than any valid header needs before the JSON parser sees it,
// so hostile input cannot exhaust the stack.
void check_depth(std::string_view s, const std::string& what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) fail(what, "safetensors header nests deeper than {} levels", kMaxJsonDepth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

// The header is read with nlohmann's SAX interface into the schema directly.
// Through a DOM (a std::map node and strings per field), planning a 10.8 MB
// model took 1.03 ms before its first chunk could be coded; this way, 0.59 ms.
class HeaderReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  HeaderReader(const std::string& what, uint64_t data_size, uint64_t data_start, SafetensorsFile& out)
      : what_(what), data_size_(data_size), data_start_(data_start), out_(out) {}

  bool start_object(std::size_t) override {
    if (at_ == At::Skip) return true;
    switch (at_) {
      case At::Top: at_ = At::Entries; return true;
      case At::EntryValue:
        if (key_ == "__metadata__") {
          at_ = At::Metadata;
        } else {
          at_ = At::Tensor;
          t_ = {};
          t_.name = key_;
          seen_ = 0;
        }
        return true;
      default: return bad_value();
    }
  }
  bool key(string_t& k) override {
    if (at_ == At::Skip) return true;
    if (at_ == At::Entries) {
      key_ = std::move(k);
      at_ = At::EntryValue;
    } else if (at_ == At::Metadata) {
      field_ = std::move(k);
      at_ = At::MetadataValue;
    } else if (at_ == At::Tensor) {
      field_ = std::move(k);
      const unsigned bit = field_ == "dtype" ? 1u : field_ == "shape" ? 2u : field_ == "data_offsets" ? 4u : 0u;
      if (!bit) return reject("tensor '{}': unknown field '{}'", t_.name, field_);
      if (seen_ & bit) return reject("tensor '{}': field '{}' given twice", t_.name, field_);
      seen_ |= bit;
      at_ = At::TensorValue;
    }
    return true;
  }
  bool end_object() override {
    if (at_ == At::Skip) return true;
    if (at_ == At::Metadata) {
      at_ = At::Entries;
    } else if (at_ == At::Tensor) {
      at_ = At::Entries;
      return finish_tensor();
    } else {
      at_ = At::Done;
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (at_ == At::Skip) return true;
    if (at_ != At::TensorValue || field_ == "dtype") return bad_value();
    at_ = At::Numbers;
    numbers_.clear();
    return true;
  }
  bool end_array() override {
    if (at_ == At::Skip) return true;
    if (field_ == "shape") {
      t_.shape = numbers_;
    } else {
      if (numbers_.size() != 2) return reject("tensor '{}': data_offsets must be [begin, end]", t_.name);
      offsets_[0] = numbers_[0];
      offsets_[1] = numbers_[1];
    }
    at_ = At::Tensor;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (at_ == At::Skip) return true;
    if (at_ != At::Numbers) return bad_value();
    if (field_ == "shape" && numbers_.size() == kMaxDims)
      return reject("tensor '{}': more than {} dimensions", t_.name, kMaxDims);
    if (field_ == "data_offsets" && numbers_.size() == 2)
      return reject("tensor '{}': data_offsets must be [begin, end]", t_.name);
    numbers_.push_back(v);
    return true;
  }
  bool string(string_t& v) override {
    if (at_ == At::Skip) return true;
    if (at_ == At::MetadataValue) {
      out_.metadata[field_] = std::move(v);
      at_ = At::Metadata;
      return true;
    }
    if (at_ != At::TensorValue || field_ != "dtype") return bad_value();
    auto dt = dtype_from_name(v);
    if (!dt) return reject("tensor '{}': unknown dtype '{}'", t_.name, v);
    t_.dtype = *dt;
    at_ = At::Tensor;
    return true;
  }
  bool null() override { return at_ == At::Skip || bad_value(); }
  bool boolean(bool) override { return at_ == At::Skip || bad_value(); }
  bool number_integer(number_integer_t) override { return at_ == At::Skip || bad_value(); }
  bool number_float(number_float_t, const string_t&) override { return at_ == At::Skip || bad_value(); }
  bool binary(binary_t&) override { return at_ == At::Skip || bad_value(); }

  // The first error against the schema, reported once the JSON itself has
  // parsed: malformed JSON is named as such even when a wrong value comes
  // before the flaw.
  void rethrow() const {
    if (!error_.empty()) fail(what_, "{}", error_);
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail(what_, "malformed safetensors JSON header: {}", e.what());
  }

 private:
  enum class At { Top, Entries, EntryValue, Metadata, MetadataValue, Tensor, TensorValue, Numbers, Done, Skip };

  template <typename... Args>
  bool reject(fmt::format_string<Args...> f, Args&&... args) {
    error_ = fmt::format(f, std::forward<Args>(args)...);
    at_ = At::Skip;
    return true;
  }

  // A value of the wrong kind where the schema has `at_`: the error says what
  // belongs there.
  bool bad_value() {
    switch (at_) {
      case At::Top: return reject("safetensors header is not a JSON object");
      case At::EntryValue:
        if (key_ == "__metadata__") return reject("__metadata__ is not a JSON object");
        return reject("tensor '{}': entry is not a JSON object", key_);
      case At::MetadataValue: return reject("__metadata__ value of '{}' is not a string", field_);
      case At::Numbers: return reject("tensor '{}': {} must hold non-negative integers", t_.name, field_);
      case At::TensorValue:
        if (field_ == "dtype") return reject("tensor '{}': dtype must be a string", t_.name);
        return reject("tensor '{}': {} must be an array", t_.name, field_);
      default: return reject("safetensors header does not follow the format");
    }
  }

  bool finish_tensor() {
    if (!(seen_ & 1)) return reject("tensor '{}': missing dtype", t_.name);
    if (!(seen_ & 2)) return reject("tensor '{}': missing shape", t_.name);
    if (!(seen_ & 4)) return reject("tensor '{}': data_offsets must be [begin, end]", t_.name);
    uint64_t bytes = dtype_size(t_.dtype);
    for (uint64_t dim : t_.shape)
      if (__builtin_mul_overflow(bytes, dim, &bytes)) return reject("tensor '{}': shape overflows 64 bits", t_.name);
    const uint64_t b = offsets_[0], e = offsets_[1];
    if (b > e) return reject("tensor '{}': data_offsets [{}, {}] end before they begin", t_.name, b, e);
    if (e > data_size_)
      return reject("tensor '{}': data_offsets [{}, {}] lie outside the data area of {} bytes", t_.name, b, e,
                    data_size_);
    if (e - b != bytes)
      return reject("tensor '{}': {} with shape of {} elements needs {} bytes, data_offsets [{}, {}] hold {}",
                    t_.name, dtype_name(t_.dtype), bytes / dtype_size(t_.dtype), bytes, b, e, e - b);
    t_.begin = data_start_ + b;
    t_.end = data_start_ + e;
    out_.tensors.push_back(std::move(t_));
    return true;
  }

  const std::string& what_;
  const uint64_t data_size_, data_start_;
  SafetensorsFile& out_;
  At at_ = At::Top;
  std::string key_, field_;  // the entry and the field whose value comes next
  SafetensorsTensor t_;
  unsigned seen_ = 0;  // fields of t_ given: 1 dtype, 2 shape, 4 data_offsets
  std::vector<uint64_t> numbers_;
  uint64_t offsets_[2] = {0, 0};
  std::string error_;
};

}  // namespace

bool looks_like_safetensors(std::span<const uint8_t> file) {
  if (file.size() < 10) return false;
  uint64_t n = header_length(file);
  return n >= 2 && n <= file.size() - 8 && file[8] == '{';
}

SafetensorsFile parse_safetensors(std::span<const uint8_t> file, const std::string& what) {
  if (file.size() < 8) fail(what, "truncated: a safetensors file starts with an 8-byte header length");
  const uint64_t n = header_length(file);
  if (n > kSafetensorsMaxHeader)
    fail(what, "safetensors header length {} exceeds the {} MiB limit", n, kSafetensorsMaxHeader >> 20);
  if (n > file.size() - 8) fail(what, "truncated: header length {} but only {} bytes follow", n, file.size() - 8);
  std::string_view text(reinterpret_cast<const char*>(file.data() + 8), n);
  if (text.empty() || text[0] != '{') fail(what, "safetensors header does not start with '{{'");
  check_depth(text, what);
  SafetensorsFile f;
  f.header_size = 8 + n;
  HeaderReader reader(what, file.size() - f.header_size, f.header_size, f);
  nlohmann::json::sax_parse(text.begin(), text.end(), &reader);
  reader.rethrow();
  // Names are JSON keys: two entries of one name would leave a reader to pick one.
  std::vector<const SafetensorsTensor*> by_name;
  by_name.reserve(f.tensors.size());
  for (const auto& t : f.tensors) by_name.push_back(&t);
  std::sort(by_name.begin(), by_name.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (size_t i = 1; i < by_name.size(); ++i)
    if (by_name[i]->name == by_name[i - 1]->name) fail(what, "tensor '{}' is listed twice", by_name[i]->name);
  std::stable_sort(f.tensors.begin(), f.tensors.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end != b.end ? a.end < b.end : a.name < b.name;
  });
  uint64_t pos = f.header_size;
  const SafetensorsTensor* prev = nullptr;
  for (const auto& t : f.tensors) {
    if (t.begin < pos)
      fail(what, "tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", prev->name, t.name,
           prev->begin - f.header_size, prev->end - f.header_size, t.begin - f.header_size, t.end - f.header_size);
    if (t.begin > pos)
      fail(what, "gap of {} bytes in the data area before tensor '{}' (data offsets {} to {} belong to no tensor)",
           t.begin - pos, t.name, pos - f.header_size, t.begin - f.header_size);
    prev = &t;
    pos = t.end;
  }
  if (pos != file.size())
    fail(what, "{} bytes after the last tensor belong to no tensor (data area is {} bytes, tensors cover {})",
         file.size() - pos, file.size() - f.header_size, pos - f.header_size);
  return f;
}

}  // namespace pith
